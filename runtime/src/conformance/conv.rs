//! Conv2d: [`conv2d_f32`](crate::kernels::conv::conv2d_f32) and
//! [`conv2d_i8`](crate::kernels::conv::conv2d_i8).

use super::{clamp_f64, clamp_i64, requant_ref, Act, Cases, Ctx, Draw, Int8Params, Mismatch, Params};
use crate::kernels::conv::Conv2dParams;
use crate::quant::Requant;

/// The signature of `conv2d_f32`.
pub type Conv2dF32 = fn(&Conv2dParams, &[f32], &[f32], Option<&[f32]>, &mut [f32], (f32, f32));
/// The signature of `conv2d_i8`.
pub type Conv2dI8 = fn(&Conv2dParams, &[i8], i32, &[i8], Option<&[i32]>, &[Requant], i32, &mut [i8], (i8, i8));

const MAX_X: usize = 2 * 5 * 5 * 6;
const MAX_W: usize = 6 * 3 * 3 * 3;
const MAX_OC: usize = 6;
const MAX_OUT: usize = 2 * 9 * 9 * 6;

/// Channels of the wide depthwise cases ([`conv2d_i8`]'s alone).
const WIDE: (usize, usize) = (8, 20);
/// Pixels a side of the wide cases, at most.
const WIDE_SIDE: usize = 6;
const MAX_X_I8: usize = 2 * WIDE_SIDE * WIDE_SIDE * WIDE.1;
const MAX_W_I8: usize = WIDE.1 * 3 * 3;
const MAX_OUT_I8: usize = 2 * (WIDE_SIDE + 4) * (WIDE_SIDE + 4) * WIDE.1;

/// Batch 1..=2, 1..=5 pixels a side, kernel 1..=3, stride 1..=3, dilation 1..=2, 1..=6 channels
/// (odd counts included). Cycles through regular, depthwise with multiplier 1 and 2, and two
/// groups, and with `wide` depthwise with multiplier 1 and 8..=20 channels (what the vector
/// kernels' groups of 4 and 8 channels need, whole and partial), 1..=6 pixels a side, half its
/// axes with a 3-tap kernel of stride and dilation 1; and through no padding, 0..=2 a side, and
/// a first row and column of windows wholly in the padding (kernel 1, padding 2).
fn geometry(d: &mut Draw, wide: bool) -> Conv2dParams {
    let n = d.size(1, 2);
    let (cb, ob) = (d.size(1, 3), d.size(1, 3));
    let (c, oc, groups) = match d.cycle(if wide { 5 } else { 4 }) {
        0 => (cb, ob, 1),
        1 => (cb, cb, cb),
        2 => (cb, 2 * cb, cb),
        3 => (2 * cb, 2 * ob, 2),
        _ => {
            let c = d.size(WIDE.0, WIDE.1);
            (c, c, c)
        }
    };
    let padding = d.cycle(3);
    let wide = c >= WIDE.0;
    let mut axis = || {
        let size = d.size(1, if wide { WIDE_SIDE } else { 5 });
        // Half the wide axes have the 3-tap stride-1 kernel the fastest routines need.
        let (mut k, stride, dilation) = if wide && d.coin() { (3, 1, 1) } else { (d.size(1, 3), d.size(1, 3), d.size(1, 2)) };
        let (before, mut after) = match padding {
            0 => (0, 0),
            1 => (d.size(0, 2), d.size(0, 2)),
            _ => {
                k = 1;
                (2, d.size(0, 2))
            }
        };
        let span = dilation * (k - 1) + 1;
        after = after.max(span.saturating_sub(size + before));
        (size, k, stride, dilation, before, (size + before + after - span) / stride + 1)
    };
    let (h, kh, sh, dh, top, oh) = axis();
    let (w, kw, sw, dw, left, ow) = axis();
    Conv2dParams { input: [n, h, w, c], output: [n, oh, ow, oc], kernel: [kh, kw], stride: [sh, sw], dilation: [dh, dw], pad: [top, left], groups }
}

fn weight_len(p: &Conv2dParams) -> usize {
    p.output[3] * p.kernel[0] * p.kernel[1] * (p.input[3] / p.groups)
}

/// Calls `f(x index, w index)` for every product output element `i` sums, from the definition:
/// signed input coordinates, taps in the padding dropped.
fn taps(p: &Conv2dParams, i: usize, mut f: impl FnMut(usize, usize)) {
    let [_, h, w, c] = p.input;
    let [_, oh, ow, oc] = p.output;
    let [kh, kw] = p.kernel;
    let (o, ox, oy, b) = (i % oc, (i / oc) % ow, (i / (oc * ow)) % oh, i / (oc * ow * oh));
    let cpg = c / p.groups;
    let g = o / (oc / p.groups);
    for ky in 0..kh {
        for kx in 0..kw {
            let iy = (oy * p.stride[0] + ky * p.dilation[0]) as i64 - p.pad[0] as i64;
            let ix = (ox * p.stride[1] + kx * p.dilation[1]) as i64 - p.pad[1] as i64;
            if iy < 0 || ix < 0 || iy >= h as i64 || ix >= w as i64 {
                continue;
            }
            for ci in 0..cpg {
                f(((b * h + iy as usize) * w + ix as usize) * c + g * cpg + ci, ((o * kh + ky) * kw + kx) * cpg + ci);
            }
        }
    }
}

/// Every output within `1e-5 * (1 + |bias| + sum |x * w|)` of the f64 sum, clamped by the
/// contract's rule; a NaN input (every fourth case) must come out as NaN wherever it is read.
pub fn conv2d_f32(kernel: Conv2dF32, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let p = geometry(d, false);
        let (nx, nw, oc, no) = (p.input.iter().product(), weight_len(&p), p.output[3], p.output.iter().product());
        let (mut x, mut w, mut bias, mut out) = ([0f32; MAX_X], [0f32; MAX_W], [0f32; MAX_OC], [f32::NAN; MAX_OUT]);
        x[..nx].iter_mut().for_each(|v| *v = d.f32_in(-2.0, 2.0));
        w[..nw].iter_mut().for_each(|v| *v = d.f32_in(-2.0, 2.0));
        bias[..oc].iter_mut().for_each(|v| *v = d.f32_in(-3.0, 3.0));
        let has_bias = d.cycle(2) == 0;
        if d.cycle(4) == 0 {
            x[d.size(0, nx - 1)] = f32::NAN;
        }
        let act = d.act_f32();
        let ctx = Ctx::new("conv2d_f32", d, Params::Conv2d { p, bias: has_bias, act: Act::F32(act.0, act.1), int8: None });
        kernel(&p, &x[..nx], &w[..nw], has_bias.then_some(&bias[..oc]), &mut out[..no], act);
        for (i, &got) in out[..no].iter().enumerate() {
            let b = if has_bias { bias[i % oc] as f64 } else { 0.0 };
            let (mut sum, mut mag) = (b, b.abs());
            taps(&p, i, |xi, wi| {
                let t = x[xi] as f64 * w[wi] as f64;
                sum += t;
                mag += t.abs();
            });
            ctx.close(i, got, clamp_f64(sum, act.0 as f64, act.1 as f64), 1e-5 * (1.0 + mag))?;
        }
        Ok(())
    })
}

/// The whole output exactly: the i64 sum from the definition, TFLite's requantization
/// (`MultiplyByQuantizedMultiplier` from its definition), the zero point and the clamp. Cycles through zero points of both signs,
/// requant multipliers below 1, from 1 up (saturating) and mixed, per-tensor and per-channel
/// requantization (with a zero multiplier in some channel now and then), bias or not, and every
/// kind of activation.
pub fn conv2d_i8(kernel: Conv2dI8, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let p = geometry(d, true);
        let (nx, nw, oc, no) = (p.input.iter().product(), weight_len(&p), p.output[3], p.output.iter().product());
        let (mut x, mut w, mut bias, mut out) = ([0i8; MAX_X_I8], [0i8; MAX_W_I8], [0i32; WIDE.1], [0i8; MAX_OUT_I8]);
        let has_bias = d.cycle(2) == 0;
        let (xs, os) = (d.cycle(3), d.cycle(3));
        let (x_zp, out_zp) = (d.zero_point(xs), d.zero_point(os));
        let n_rq = if d.cycle(2) == 0 { 1 } else { oc };
        let regime = d.cycle(3);
        d.int8_operands(regime, x_zp, &mut x[..nx], &mut w[..nw], &mut bias[..oc]);
        out[..no].iter_mut().for_each(|v| *v = d.i8());
        let mut requant = [Requant::ONE; WIDE.1];
        requant[..n_rq].iter_mut().for_each(|r| *r = d.requant(regime));
        let act = d.act_i8(out_zp);
        // A dead channel (all-zero weights quantize to a zero multiplier) in one case of four
        // with per-channel requant; its weights stay random, its output must be the zero point.
        if n_rq > 1 && d.cycle(4) == 0 {
            requant[d.size(0, n_rq - 1)] = crate::quant::quantize_multiplier(0.0);
        }
        let shifts = requant[..n_rq].iter().fold((i32::MAX, i32::MIN), |(lo, hi), r| (lo.min(r.shift), hi.max(r.shift)));
        let int8 = Int8Params { x_zero_point: x_zp, out_zero_point: out_zp, requants: n_rq, shifts };
        let ctx = Ctx::new("conv2d_i8", d, Params::Conv2d { p, bias: has_bias, act: Act::I8(act.0, act.1), int8: Some(int8) });
        kernel(&p, &x[..nx], x_zp, &w[..nw], has_bias.then_some(&bias[..oc]), &requant[..n_rq], out_zp, &mut out[..no], act);
        for (i, &got) in out[..no].iter().enumerate() {
            let o = i % oc;
            let mut acc = if has_bias { bias[o] as i64 } else { 0 };
            taps(&p, i, |xi, wi| acc += (x[xi] as i64 - x_zp as i64) * w[wi] as i64);
            let rq = requant[if n_rq == 1 { 0 } else { o }];
            ctx.exact(i, got as i64, clamp_i64(requant_ref(acc, rq) + out_zp as i64, act))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::arm::{depthwise as dsp, mve};

    /// The first 200 cases of the int8 suite reach every path of the Arm depthwise kernels: the
    /// DSP planes (whole and partial blocks of four channels, the 3×3 routine's four outputs a
    /// pass), the Helium groups of eight (whole and partial), its border runs and both inner
    /// routines (three taps wide in pairs and an odd pixel, other widths).
    #[test]
    fn int8_cases_reach_every_depthwise_path() {
        let mut seen = [0usize; 8];
        for case in 0..200 {
            let p = geometry(&mut Draw::new(1, case), true);
            let c = p.input[3];
            let [_, oh, oww, _] = p.output;
            if dsp::supports(&p) && c >= 8 {
                seen[if c % 4 == 0 { 0 } else { 1 }] += 1;
                seen[2] += (p.kernel == [3, 3] && p.dilation == [1, 1] && p.stride[1] == 1 && oww >= 4) as usize;
            }
            if mve::depthwise::supports(&p) {
                seen[3] += (c % 8 != 0) as usize;
                let ys = mve::depthwise::inner(p.pad[0], p.stride[0], p.dilation[0], p.kernel[0], p.input[1], oh);
                let xs = mve::depthwise::inner(p.pad[1], p.stride[1], p.dilation[1], p.kernel[1], p.input[2], oww);
                seen[4] += (ys.len() < oh || xs.len() < oww) as usize;
                if !ys.is_empty() {
                    seen[5] += (p.kernel[1] == 3 && xs.len() >= 2) as usize;
                    seen[6] += (p.kernel[1] == 3 && xs.len() % 2 == 1) as usize;
                    seen[7] += (p.kernel[1] != 3 && !xs.is_empty()) as usize;
                }
            }
        }
        assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
    }
}
