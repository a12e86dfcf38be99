//! [`quantize_f32_i8`](crate::kernels::quantize::quantize_f32_i8) and
//! [`dequantize_i8_f32`](crate::kernels::quantize::dequantize_i8_f32).

use super::{Cases, Ctx, Draw, Mismatch, Params};
use crate::quant::QParams;

/// The signature of `quantize_f32_i8`.
pub type QuantizeF32I8 = fn(QParams, &[f32], &mut [i8]);
/// The signature of `dequantize_i8_f32`.
pub type DequantizeI8F32 = fn(QParams, &[i8], &mut [f32]);

const MAX_LEN: usize = 64;

/// Scales `2^-7..2`, zero points of both signs (cycling).
fn qparams(d: &mut Draw) -> QParams {
    let sign = d.cycle(3);
    QParams { scale: libm::exp2(-7.0 + 8.0 * d.unit()) as f32, zero_point: d.zero_point(sign) }
}

/// Every element exactly: `r / scale` (one f32 division) rounded half to even, NaN to 0, plus
/// the zero point, saturated. Values include exact ties (`k/2 * scale`), out-of-range ones,
/// ±inf and NaN.
pub fn quantize_f32_i8(kernel: QuantizeF32I8, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let q = qparams(d);
        let len = d.size(0, MAX_LEN);
        let (mut x, mut out) = ([0f32; MAX_LEN], [0i8; MAX_LEN]);
        for v in x[..len].iter_mut() {
            *v = match d.int(0, 9) {
                0 => [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e30, -1e30][d.size(0, 4)],
                1..=3 => d.int(-600, 600) as f32 * 0.5 * q.scale,
                _ => d.f32_in(-300.0, 300.0) * q.scale,
            };
        }
        out[..len].iter_mut().for_each(|v| *v = d.i8());
        let ctx = Ctx::new("quantize_f32_i8", d, Params::Quantize { q, len });
        kernel(q, &x[..len], &mut out[..len]);
        for (i, (&r, &got)) in x[..len].iter().zip(&out[..len]).enumerate() {
            let t = (r / q.scale) as f64;
            let want = if t.is_nan() {
                q.zero_point as i64
            } else {
                let fl = libm::floor(t);
                let rounded = if t - fl > 0.5 || (t - fl == 0.5 && libm::fmod(fl, 2.0) != 0.0) { fl + 1.0 } else { fl };
                (rounded.clamp(-1e6, 1e6) as i64 + q.zero_point as i64).clamp(-128, 127)
            };
            ctx.exact(i, got as i64, want)?;
        }
        Ok(())
    })
}

/// Every element bit for bit: `(q - zero_point) as f32 * scale`, one f32 multiply.
pub fn dequantize_i8_f32(kernel: DequantizeI8F32, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let q = qparams(d);
        let len = d.size(0, MAX_LEN);
        let (mut x, mut out) = ([0i8; MAX_LEN], [f32::NAN; MAX_LEN]);
        x[..len].iter_mut().for_each(|v| *v = d.i8());
        let ctx = Ctx::new("dequantize_i8_f32", d, Params::Quantize { q, len });
        kernel(q, &x[..len], &mut out[..len]);
        for (i, (&v, &got)) in x[..len].iter().zip(&out[..len]).enumerate() {
            // An integer below 2^9 times an f32 is exact in f64; rounding once gives the f32 product.
            ctx.same_f32(i, got, ((v as i32 - q.zero_point) as f64 * q.scale as f64) as f32)?;
        }
        Ok(())
    })
}
