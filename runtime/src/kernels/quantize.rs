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

    #[test]
    fn known_values() {
        let p = QParams { scale: 0.5, zero_point: -3 };
        let mut q = [0i8; 6];
        quantize_f32_i8(p, &[1.25, 1.75, -0.25, 1000.0, -1000.0, f32::NAN], &mut q);
        // 2.5 -> 2 and -0.5 -> -0 (ties to even), 3.5 -> 4; saturation; NaN -> zero point.
        assert_eq!(q, [-1, 1, -3, 127, -128, -3]);
        let mut r = [0.0f32; 3];
        dequantize_i8_f32(p, &[-3, 127, -128], &mut r);
        assert_eq!(r, [0.0, 65.0, -62.5]);
    }
}
