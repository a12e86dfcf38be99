//! FullyConnected: [`fully_connected_f32`](crate::kernels::fully_connected::fully_connected_f32)
//! and [`fully_connected_i8`](crate::kernels::fully_connected::fully_connected_i8).

use super::{clamp_f64, clamp_i64, requant_ref, Act, Cases, Ctx, Draw, Int8Params, Mismatch, Params};
use crate::kernels::fully_connected::FcParams;
use crate::quant::Requant;

/// The signature of `fully_connected_f32`.
pub type FullyConnectedF32 = fn(&FcParams, &[f32], &[f32], Option<&[f32]>, &mut [f32], (f32, f32));
/// The signature of `fully_connected_i8`.
pub type FullyConnectedI8 = fn(&FcParams, &[i8], i32, &[i8], Option<&[i32]>, &[Requant], i32, &mut [i8], (i8, i8));

const MAX_ROWS: usize = 4;
const MAX_IN: usize = 72;
const MAX_OUT: usize = 12;

/// 1..=4 rows, 1..=72 inputs (up to 18 groups of four: every remainder of the kernels' unrolled
/// loops), 1..=12 outputs.
fn shape(d: &mut Draw) -> FcParams {
    FcParams { rows: d.size(1, MAX_ROWS), inputs: d.size(1, MAX_IN), outputs: d.size(1, MAX_OUT) }
}

/// Every output within `1e-5 * (1 + |bias| + sum |x * w|)` of the f64 sum, clamped by the
/// contract's rule; a NaN input (every fourth case) must come out as NaN in its row.
pub fn fully_connected_f32(kernel: FullyConnectedF32, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let p = shape(d);
        let (k, m) = (p.inputs, p.outputs);
        let (mut x, mut w, mut bias, mut out) = ([0f32; MAX_ROWS * MAX_IN], [0f32; MAX_OUT * MAX_IN], [0f32; MAX_OUT], [f32::NAN; MAX_ROWS * MAX_OUT]);
        x[..p.rows * k].iter_mut().for_each(|v| *v = d.f32_in(-2.0, 2.0));
        w[..m * k].iter_mut().for_each(|v| *v = d.f32_in(-2.0, 2.0));
        bias[..m].iter_mut().for_each(|v| *v = d.f32_in(-3.0, 3.0));
        let has_bias = d.cycle(2) == 0;
        if d.cycle(4) == 0 {
            x[d.size(0, p.rows * k - 1)] = f32::NAN;
        }
        let act = d.act_f32();
        let ctx = Ctx::new("fully_connected_f32", d, Params::FullyConnected { p, bias: has_bias, act: Act::F32(act.0, act.1), int8: None });
        kernel(&p, &x[..p.rows * k], &w[..m * k], has_bias.then_some(&bias[..m]), &mut out[..p.rows * m], act);
        for (i, &got) in out[..p.rows * m].iter().enumerate() {
            let (r, o) = (i / m, i % m);
            let b = if has_bias { bias[o] as f64 } else { 0.0 };
            let (mut sum, mut mag) = (b, b.abs());
            for j in 0..k {
                let t = x[r * k + j] as f64 * w[o * k + j] as f64;
                sum += t;
                mag += t.abs();
            }
            ctx.close(i, got, clamp_f64(sum, act.0 as f64, act.1 as f64), 1e-5 * (1.0 + mag))?;
        }
        Ok(())
    })
}

/// The whole output exactly: the i64 sum, TFLite's requantization (from its definition), the zero
/// point and the clamp. Cycles as the `conv2d_i8` suite: zero-point signs, multipliers below 1,
/// from 1 up and mixed, per-tensor and per-channel, bias or not, every kind of activation.
pub fn fully_connected_i8(kernel: FullyConnectedI8, cases: Cases) -> Result<(), Mismatch> {
    int8_suite("fully_connected_i8", false, cases, kernel)
}

/// The signature of `fully_connected_q15_i8`: weights in the `fc-q15` layout.
pub type FullyConnectedQ15I8 = fn(&FcParams, &[i8], i32, &[i16], Option<&[i32]>, &[Requant], i32, &mut [i8], (i8, i8));

/// [`fully_connected_i8`]'s cases with `inputs` rounded up to a multiple of four, the weights
/// packed into the `fc-q15` layout
/// ([`pack_q15`](crate::kernels::fully_connected::pack_q15), 4-byte aligned) before the call:
/// the same expected bytes, from the int8 weights.
pub fn fully_connected_q15_i8(kernel: FullyConnectedQ15I8, cases: Cases) -> Result<(), Mismatch> {
    int8_suite("fully_connected_q15_i8", true, cases, |p, x, x_zp, w, bias, requant, out_zp, out, act| {
        let mut words = [0u32; MAX_OUT * MAX_IN / 2];
        let packed = &mut bytemuck::cast_slice_mut::<u32, i16>(&mut words)[..w.len()];
        crate::kernels::fully_connected::pack_q15(w, p.inputs, packed);
        kernel(p, x, x_zp, packed, bias, requant, out_zp, out, act)
    })
}

#[allow(clippy::type_complexity)]
fn int8_suite(
    name: &'static str,
    k_by_4: bool,
    cases: Cases,
    kernel: impl Fn(&FcParams, &[i8], i32, &[i8], Option<&[i32]>, &[Requant], i32, &mut [i8], (i8, i8)),
) -> Result<(), Mismatch> {
    cases.each(|d| {
        let mut p = shape(d);
        if k_by_4 {
            p.inputs = p.inputs.next_multiple_of(4);
        }
        let (k, m) = (p.inputs, p.outputs);
        let (mut x, mut w_words, mut bias, mut out) = ([0i8; MAX_ROWS * MAX_IN], [0u32; MAX_OUT * MAX_IN / 4 + 1], [0i32; MAX_OUT], [0i8; MAX_ROWS * MAX_OUT]);
        // The weights 4-byte aligned or not, by shape: kernels may read aligned rows differently.
        let w_at = (k + m + p.rows) % 2;
        let w = &mut bytemuck::cast_slice_mut::<u32, i8>(&mut w_words)[w_at..w_at + MAX_OUT * MAX_IN];
        let has_bias = d.cycle(2) == 0;
        let (xs, os) = (d.cycle(3), d.cycle(3));
        let (x_zp, out_zp) = (d.zero_point(xs), d.zero_point(os));
        let n_rq = if d.cycle(2) == 0 { 1 } else { m };
        let regime = d.cycle(3);
        d.int8_operands(regime, x_zp, &mut x[..p.rows * k], &mut w[..m * k], &mut bias[..m]);
        out[..p.rows * m].iter_mut().for_each(|v| *v = d.i8());
        let mut requant = [Requant::ONE; MAX_OUT];
        requant[..n_rq].iter_mut().for_each(|r| *r = d.requant(regime));
        let shifts = requant[..n_rq].iter().fold((i32::MAX, i32::MIN), |(lo, hi), r| (lo.min(r.shift), hi.max(r.shift)));
        let act = d.act_i8(out_zp);
        let int8 = Int8Params { x_zero_point: x_zp, out_zero_point: out_zp, requants: n_rq, shifts };
        let ctx = Ctx::new(name, d, Params::FullyConnected { p, bias: has_bias, act: Act::I8(act.0, act.1), int8: Some(int8) });
        kernel(&p, &x[..p.rows * k], x_zp, &w[..m * k], has_bias.then_some(&bias[..m]), &requant[..n_rq], out_zp, &mut out[..p.rows * m], act);
        for (i, &got) in out[..p.rows * m].iter().enumerate() {
            let (r, o) = (i / m, i % m);
            let mut acc = if has_bias { bias[o] as i64 } else { 0 };
            for j in 0..k {
                acc += (x[r * k + j] as i64 - x_zp as i64) * w[o * k + j] as i64;
            }
            let rq = requant[if n_rq == 1 { 0 } else { o }];
            ctx.exact(i, got as i64, clamp_i64(requant_ref(acc, rq) + out_zp as i64, act))?;
        }
        Ok(())
    })
}
