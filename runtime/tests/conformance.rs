//! The reference kernels against every conformance suite, one line each, and proof that the
//! suites catch wrong kernels.

// The suites return their `Mismatch` by value (they run without a heap).
#![allow(clippy::result_large_err)]

use mote_runtime::conformance::{self, Cases, Mismatch};
use mote_runtime::kernels::*;
use mote_runtime::quant::Requant;

/// Cases per suite; several seeds so that the categories meet in many combinations.
const CASES: u32 = 3000;

fn passes(suite: impl Fn(Cases) -> Result<(), Mismatch>) {
    for seed in [1, 2, 0xdead_beef] {
        if let Err(m) = suite(Cases::new(seed, CASES)) {
            panic!("{m}");
        }
    }
}

#[test]
fn conv2d_f32() {
    passes(|c| conformance::conv2d_f32(conv::conv2d_f32, c));
}

#[test]
fn conv2d_i8() {
    passes(|c| conformance::conv2d_i8(conv::conv2d_i8, c));
}

/// The blocked scalar kernels that RISC-V and ARMv6-M firmware runs (the portable Rust; the
/// ARMv6-M assembly runs in `examples/conformance-firmware` under QEMU).
#[test]
fn conv2d_i8_scalar() {
    passes(|c| conformance::conv2d_i8(scalar::conv2d_i8, c));
}

#[test]
fn fully_connected_i8_scalar() {
    passes(|c| conformance::fully_connected_i8(scalar::fully_connected_i8, c));
}

#[test]
fn fully_connected_f32() {
    passes(|c| conformance::fully_connected_f32(fully_connected::fully_connected_f32, c));
}

#[test]
fn fully_connected_i8() {
    passes(|c| conformance::fully_connected_i8(fully_connected::fully_connected_i8, c));
}

/// The reference kernel on weights in the `fc-q15` layout (what the host runs for a file
/// converted for a DSP core).
#[test]
fn fully_connected_q15_i8() {
    passes(|c| conformance::fully_connected_q15_i8(fully_connected::fully_connected_q15_i8, c));
}

#[test]
fn binary_f32() {
    passes(|c| conformance::binary_f32(elementwise::binary_f32, c));
}

#[test]
fn binary_inplace_f32() {
    passes(|c| conformance::binary_inplace_f32(elementwise::binary_inplace_f32, c));
}

#[test]
fn binary_i8() {
    passes(|c| conformance::binary_i8(elementwise::binary_i8, c));
}

#[test]
fn binary_inplace_i8() {
    passes(|c| conformance::binary_inplace_i8(elementwise::binary_inplace_i8, c));
}

/// The tabulated Add / Sub path and its wrapper, which the interpreter runs on targets without
/// the Arm DSP kernels (`kernels::binary_i8`; on the host, this same function).
#[test]
fn binary_tabled_i8() {
    passes(|c| conformance::binary_i8(elementwise::binary_tabled_i8, c));
    passes(|c| conformance::binary_inplace_i8(elementwise::binary_inplace_tabled_i8, c));
}

#[test]
fn unary_f32() {
    passes(|c| conformance::unary_f32(activation::unary_f32, c));
}

#[test]
fn unary_inplace_f32() {
    passes(|c| conformance::unary_inplace_f32(activation::unary_inplace_f32, c));
}

#[test]
fn lut_i8() {
    passes(|c| conformance::lut_i8(activation::lut_i8, c));
}

#[test]
fn lut_inplace_i8() {
    passes(|c| conformance::lut_inplace_i8(activation::lut_inplace_i8, c));
}

#[test]
fn avg_pool2d_f32() {
    passes(|c| conformance::avg_pool2d_f32(pool::avg_pool2d_f32, c));
}

#[test]
fn max_pool2d_f32() {
    passes(|c| conformance::max_pool2d_f32(pool::max_pool2d_f32, c));
}

#[test]
fn avg_pool2d_i8() {
    passes(|c| conformance::avg_pool2d_i8(pool::avg_pool2d_i8, c));
}

#[test]
fn max_pool2d_i8() {
    passes(|c| conformance::max_pool2d_i8(pool::max_pool2d_i8, c));
}

#[test]
fn global_avg_pool_f32() {
    passes(|c| conformance::global_avg_pool_f32(pool::global_avg_pool_f32, c));
}

#[test]
fn global_avg_pool_i8() {
    passes(|c| conformance::global_avg_pool_i8(pool::global_avg_pool_i8, c));
}

#[test]
fn softmax_f32() {
    passes(|c| conformance::softmax_f32(softmax::softmax_f32, c));
}

#[test]
fn softmax_i8() {
    passes(|c| conformance::softmax_i8(softmax::softmax_i8, c));
}

#[test]
fn resize_nearest() {
    passes(|c| conformance::resize_nearest::<i8>(resize::resize_nearest, c));
    passes(|c| conformance::resize_nearest::<u32>(resize::resize_nearest, c));
}

#[test]
fn resize_bilinear_f32() {
    passes(|c| conformance::resize_bilinear_f32(resize::resize_bilinear_f32, c));
}

#[test]
fn resize_bilinear_i8() {
    passes(|c| conformance::resize_bilinear_i8(resize::resize_bilinear_i8, c));
}

#[test]
fn shape_ops() {
    passes(|c| conformance::concat::<i8>(shape::concat, c));
    passes(|c| conformance::concat::<u32>(shape::concat, c));
    passes(|c| conformance::slice::<i8>(shape::slice, c));
    passes(|c| conformance::slice::<u32>(shape::slice, c));
    passes(|c| conformance::transpose::<i8>(shape::transpose, c));
    passes(|c| conformance::transpose::<u32>(shape::transpose, c));
    passes(|c| conformance::pad::<i8>(shape::pad, c));
    passes(|c| conformance::pad::<u32>(shape::pad, c));
}

#[test]
fn quantize_f32_i8() {
    passes(|c| conformance::quantize_f32_i8(quantize::quantize_f32_i8, c));
}

#[test]
fn dequantize_i8_f32() {
    passes(|c| conformance::dequantize_i8_f32(quantize::dequantize_i8_f32, c));
}

// ---- Wrong kernels fail, naming the case and the element. ----

/// conv2d_i8 whose requantization truncates instead of rounding: `(acc * M) >> (31 - shift)`.
#[allow(clippy::too_many_arguments)]
fn conv2d_i8_truncating(p: &conv::Conv2dParams, x: &[i8], xz: i32, w: &[i8], bias: Option<&[i32]>, rq: &[Requant], oz: i32, out: &mut [i8], act: (i8, i8)) {
    let [_, h, wd, c] = p.input;
    let [_, oh, ow, oc] = p.output;
    let cpg = c / p.groups;
    for (i, o) in out.iter_mut().enumerate() {
        let (ch, ox, oy, b) = (i % oc, (i / oc) % ow, (i / (oc * ow)) % oh, i / (oc * ow * oh));
        let g = ch / (oc / p.groups);
        let mut acc = bias.map_or(0i64, |b| b[ch] as i64);
        for ky in 0..p.kernel[0] {
            for kx in 0..p.kernel[1] {
                let iy = (oy * p.stride[0] + ky * p.dilation[0]) as i64 - p.pad[0] as i64;
                let ix = (ox * p.stride[1] + kx * p.dilation[1]) as i64 - p.pad[1] as i64;
                if iy < 0 || ix < 0 || iy >= h as i64 || ix >= wd as i64 {
                    continue;
                }
                for ci in 0..cpg {
                    let xv = x[((b * h + iy as usize) * wd + ix as usize) * c + g * cpg + ci] as i64 - xz as i64;
                    acc += xv * w[((ch * p.kernel[0] + ky) * p.kernel[1] + kx) * cpg + ci] as i64;
                }
            }
        }
        let r = rq[if rq.len() == 1 { 0 } else { ch }];
        let scaled = if r.shift >= 0 { ((acc << r.shift) * r.multiplier as i64) >> 31 } else { (acc * r.multiplier as i64) >> (31 - r.shift) };
        *o = (scaled + oz as i64).max(act.0 as i64).min(act.1 as i64) as i8;
    }
}

#[test]
fn a_truncating_requantization_fails_conv2d_i8() {
    let m = conformance::conv2d_i8(conv2d_i8_truncating, Cases::new(1, 200)).unwrap_err();
    assert_eq!(m.suite, "conv2d_i8");
    assert!(matches!(m.params, conformance::Params::Conv2d { int8: Some(_), .. }), "{m}");
    assert_eq!(m.tolerance, 0.0);
    assert!((m.got - m.want).abs() >= 1.0, "{m}");
    // The reported case alone reproduces it.
    assert_eq!(conformance::conv2d_i8(conv2d_i8_truncating, Cases::only(m.seed, m.case)), Err(m));
    let text = m.to_string();
    assert!(text.contains("conv2d_i8") && text.contains(&format!("Cases::only({}, {})", m.seed, m.case)), "{text}");
}

/// An f32 clamp written `v.max(lo).min(hi)` turns NaN into `lo`: it breaks the NaN rule.
fn fully_connected_f32_max_min(p: &fully_connected::FcParams, x: &[f32], w: &[f32], b: Option<&[f32]>, out: &mut [f32], act: (f32, f32)) {
    fully_connected::fully_connected_f32(p, x, w, b, out, (f32::NEG_INFINITY, f32::INFINITY));
    for v in out.iter_mut() {
        *v = v.max(act.0).min(act.1);
    }
}

#[test]
fn a_clamp_that_swallows_nan_fails_fully_connected_f32() {
    let m = conformance::fully_connected_f32(fully_connected_f32_max_min, Cases::new(1, 200)).unwrap_err();
    assert!(m.want.is_nan() && !m.got.is_nan(), "{m}");
}

#[test]
fn off_by_one_kernels_fail() {
    fn avg_pool_off(p: &pool::Pool2dParams, x: &[i8], o: &mut [i8], a: (i8, i8)) {
        pool::avg_pool2d_i8(p, x, o, a);
        if let Some(v) = o.last_mut() {
            *v = v.wrapping_add(1);
        }
    }
    #[allow(clippy::too_many_arguments)]
    fn binary_f32_swapped(op: elementwise::BinaryOp, sa: &[usize], a: &[f32], sb: &[usize], b: &[f32], so: &[usize], o: &mut [f32], act: (f32, f32)) {
        let op = if op == elementwise::BinaryOp::Sub { elementwise::BinaryOp::Add } else { op };
        elementwise::binary_f32(op, sa, a, sb, b, so, o, act);
    }
    fn softmax_i8_rounding_down(rows: usize, n: usize, t: &[i32; 256], zo: i32, inv: u32, x: &[i8], o: &mut [i8]) {
        softmax::softmax_i8(rows, n, t, zo, inv.saturating_sub(inv / 64), x, o);
    }
    fn transpose_ignoring_perm(s: &[usize], x: &[u32], _perm: &[usize], o: &mut [u32]) {
        o.copy_from_slice(x);
        let _ = s;
    }
    fn nearest_floor_always(p: &resize::ResizeParams, _r: resize::NearestRound, x: &[i8], o: &mut [i8]) {
        resize::resize_nearest(p, resize::NearestRound::Floor, x, o);
    }
    assert!(conformance::avg_pool2d_i8(avg_pool_off, Cases::new(1, 50)).is_err());
    assert!(conformance::binary_f32(binary_f32_swapped, Cases::new(1, 50)).is_err());
    assert!(conformance::softmax_i8(softmax_i8_rounding_down, Cases::new(1, 50)).is_err());
    assert!(conformance::transpose::<u32>(transpose_ignoring_perm, Cases::new(1, 50)).is_err());
    assert!(conformance::resize_nearest::<i8>(nearest_floor_always, Cases::new(1, 50)).is_err());
}
