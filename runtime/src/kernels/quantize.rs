//! Quantize (f32 → int8) and Dequantize (int8 → f32) with per-tensor parameters.

use crate::quant::QParams;

/// `out[i] = p.quantize(x[i])`: round half to even, saturate, NaN → zero point.
pub fn quantize_f32_i8(p: QParams, x: &[f32], out: &mut [i8]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = p.quantize(v);
    }
}

/// `out[i] = (x[i] - zero_point) * scale`.
pub fn dequantize_i8_f32(p: QParams, x: &[i8], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = p.dequantize(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn quantize_is_exact_rounding(xs in proptest::collection::vec(-100f32..100.0, 1..64),
                                      scale in 0.01f32..2.0, zp in -128i32..=127) {
            let p = QParams { scale, zero_point: zp };
            let mut q = vec![0i8; xs.len()];
            quantize_f32_i8(p, &xs, &mut q);
            for (&x, &q) in xs.iter().zip(&q) {
                let want = ((x / scale).round_ties_even() as i64 + zp as i64).clamp(-128, 127);
                prop_assert_eq!(q as i64, want);
            }
        }

        #[test]
        fn dequantize_is_exact(qs in proptest::collection::vec(any::<i8>(), 1..64),
                               scale in 0.001f32..2.0, zp in -128i32..=127) {
            let p = QParams { scale, zero_point: zp };
            let mut r = vec![0f32; qs.len()];
            dequantize_i8_f32(p, &qs, &mut r);
            for (&q, &r) in qs.iter().zip(&r) {
                prop_assert_eq!(r, (q as i32 - zp) as f32 * scale);
            }
        }
    }
}
