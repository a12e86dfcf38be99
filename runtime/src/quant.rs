//! Integer quantization arithmetic shared by every int8 kernel.
//!
//! Mote follows the TFLite int8 quantization specification: a real value `r` is stored as
//! `q = round(r / scale) + zero_point`, clamped to `[-128, 127]`. Kernels accumulate in `i32`
//! and map the accumulator back to int8 with a 32-bit fixed-point multiplier and a power-of-two
//! shift ([`Requant`]). Every operation in this module is pure integer arithmetic (or, for the
//! float helpers, single IEEE-754 operations with a stated rounding), so every target — Cortex-M0
//! without an FPU, a RISC-V core, a phone, the host — produces the same bytes.
//!
//! The multipliers are computed once, on the host, from the float scales
//! ([`quantize_multiplier`]) and stored in the model file; the device never computes them.

/// A real multiplier `M` in `(0, 2^31)` expressed as `multiplier * 2^(shift - 31)`, with
/// `multiplier` in `[2^30, 2^31)` (or 0 when `M` is 0 or too small to represent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[derive(bytemuck::Pod, bytemuck::Zeroable)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(C)]
pub struct Requant {
    /// Q0.31 fixed-point mantissa.
    pub multiplier: i32,
    /// Power-of-two exponent: positive shifts left before the multiply, negative shifts right
    /// (with rounding) after it. Valid range: `-31..=30`.
    pub shift: i32,
}

impl Requant {
    /// The identity (`M = 1.0`).
    pub const ONE: Requant = Requant { multiplier: 1 << 30, shift: 1 };

    /// Applies the multiplier to an accumulator: [`multiply_by_quantized_multiplier`].
    #[inline]
    pub fn apply(self, x: i32) -> i32 {
        multiply_by_quantized_multiplier(x, self.multiplier, self.shift)
    }

    /// Whether the fields are inside the range that [`quantize_multiplier`] produces.
    pub fn is_valid(self) -> bool {
        self.multiplier >= 0 && (-31..=30).contains(&self.shift)
    }
}

/// Splits a real multiplier into a Q0.31 mantissa and an exponent (TFLite `QuantizeMultiplier`).
///
/// `real = multiplier * 2^(shift - 31)` with `multiplier` in `[2^30, 2^31)`. The mantissa is
/// rounded half away from zero. Multipliers below `2^-32` become zero; multipliers of `2^30` or
/// more saturate to the largest representable value. Negative inputs are treated as zero.
#[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN must take the zero branch
pub fn quantize_multiplier(real: f64) -> Requant {
    if !(real > 0.0) {
        return Requant { multiplier: 0, shift: 0 };
    }
    let (mantissa, mut shift) = libm::frexp(real);
    let mut q = libm::round(mantissa * (1u64 << 31) as f64) as i64;
    if q == 1i64 << 31 {
        q /= 2;
        shift += 1;
    }
    if shift < -31 {
        return Requant { multiplier: 0, shift: 0 };
    }
    if shift > 30 {
        return Requant { multiplier: i32::MAX, shift: 30 };
    }
    Requant { multiplier: q as i32, shift }
}

/// `a * b / 2^31` rounded to nearest, saturating the single overflow case (`a = b = i32::MIN`).
/// TFLite / gemmlowp `SaturatingRoundingDoublingHighMul`: positive ties round away from zero,
/// negative ties towards zero (a nudge of `±2^30`, then truncation): `50.5 → 51`, `-50.5 → -50`.
#[inline]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge = if ab >= 0 { 1i64 << 30 } else { 1 - (1i64 << 30) };
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `x / 2^exponent` rounded half away from zero, for `exponent` in `0..=31`.
/// gemmlowp `RoundingDivideByPOT`.
#[inline]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let exponent = exponent.clamp(0, 31);
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + (x < 0) as i32;
    (x >> exponent) + (remainder > threshold) as i32
}

/// `x * multiplier * 2^(shift - 31)`, TFLite `MultiplyByQuantizedMultiplier`:
/// a saturating left shift by `max(shift, 0)`, [`saturating_rounding_doubling_high_mul`], then
/// [`rounding_divide_by_pot`] by `max(-shift, 0)`. (TFLite leaves the left-shift overflow
/// undefined; Mote saturates.)
#[inline]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left = shift.clamp(0, 31);
    let right = (-shift).clamp(0, 31);
    let shifted = (x as i64) << left;
    let shifted = shifted.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
    rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)
}

/// Rounds to the nearest integer, ties to even (IEEE-754 `roundTiesToEven`, as ONNX
/// `QuantizeLinear` specifies). NaN and infinities are returned unchanged.
#[inline]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN must be returned unchanged
pub fn round_half_even(x: f32) -> f32 {
    if !(x.abs() < 8_388_608.0) {
        return x;
    }
    let t = x as i32;
    let frac = x - t as f32;
    let odd = t & 1 != 0;
    let r = if frac > 0.5 || (frac == 0.5 && odd) {
        t + 1
    } else if frac < -0.5 || (frac == -0.5 && odd) {
        t - 1
    } else {
        t
    };
    r as f32
}

/// Quantization parameters of one int8 tensor (or one channel of it).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QParams {
    pub scale: f32,
    pub zero_point: i32,
}

impl QParams {
    /// `clamp(round_half_even(r / scale) + zero_point, -128, 127)`; NaN maps to `zero_point`.
    #[inline]
    pub fn quantize(self, r: f32) -> i8 {
        let q = round_half_even(r / self.scale);
        let q = if q.is_nan() { 0 } else { q.clamp(-1.0e6, 1.0e6) as i32 };
        (q + self.zero_point).clamp(-128, 127) as i8
    }

    /// `(q - zero_point) * scale`.
    #[inline]
    pub fn dequantize(self, q: i8) -> f32 {
        (q as i32 - self.zero_point) as f32 * self.scale
    }

    /// The int8 range `[lo, hi]` that a real-valued clamp `[lo, hi]` maps to, intersected with
    /// `[-128, 127]`. Infinite bounds leave that side open.
    #[inline]
    pub fn quantize_range(self, lo: f32, hi: f32) -> (i8, i8) {
        let qlo = if lo == f32::NEG_INFINITY { -128 } else { self.quantize(lo) };
        let qhi = if hi == f32::INFINITY { 127 } else { self.quantize(hi) };
        (qlo, qhi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exact(x: i32, r: Requant) -> f64 {
        x as f64 * r.multiplier as f64 * libm::pow(2.0, (r.shift - 31) as f64)
    }

    #[test]
    fn quantize_multiplier_known_values() {
        assert_eq!(quantize_multiplier(1.0), Requant { multiplier: 1 << 30, shift: 1 });
        assert_eq!(quantize_multiplier(0.5), Requant { multiplier: 1 << 30, shift: 0 });
        assert_eq!(quantize_multiplier(0.0), Requant { multiplier: 0, shift: 0 });
        assert_eq!(quantize_multiplier(1e-12), Requant { multiplier: 0, shift: 0 });
        assert_eq!(quantize_multiplier(1e12), Requant { multiplier: i32::MAX, shift: 30 });
        // 0.75 = 0.75 * 2^0: mantissa 0.75 * 2^31
        assert_eq!(quantize_multiplier(0.75), Requant { multiplier: 1610612736, shift: 0 });
    }

    #[test]
    fn doubling_high_mul_and_pot_rounding() {
        assert_eq!(saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN), i32::MAX);
        assert_eq!(saturating_rounding_doubling_high_mul(1 << 30, 1 << 30), 1 << 29);
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(4, 1), 2);
        assert_eq!(rounding_divide_by_pot(-7, 2), -2);
        assert_eq!(rounding_divide_by_pot(-6, 2), -2);
        assert_eq!(rounding_divide_by_pot(-5, 2), -1);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
    }

    #[test]
    fn round_half_even_ties() {
        for (x, r) in [(0.5, 0.0), (1.5, 2.0), (2.5, 2.0), (-0.5, 0.0), (-1.5, -2.0), (-2.5, -2.0),
                       (2.4999, 2.0), (-2.5001, -3.0), (1e9, 1e9), (0.0, 0.0)] {
            assert_eq!(round_half_even(x), r, "{x}");
        }
        assert!(round_half_even(f32::NAN).is_nan());
    }

    #[test]
    fn quantize_dequantize() {
        let p = QParams { scale: 0.5, zero_point: -3 };
        assert_eq!(p.quantize(1.25), -1); // 2.5 -> 2 (ties to even) - 3
        assert_eq!(p.quantize(1000.0), 127);
        assert_eq!(p.quantize(-1000.0), -128);
        assert_eq!(p.quantize(f32::NAN), -3);
        assert_eq!(p.dequantize(-1), 1.0);
        assert_eq!(p.quantize_range(0.0, f32::INFINITY), (-3, 127));
    }

    proptest! {
        #[test]
        fn requant_matches_real_product_within_one(x in -(1i32 << 24)..(1i32 << 24), real in 1e-6f64..4.0) {
            let r = quantize_multiplier(real);
            let got = r.apply(x) as f64;
            let want = exact(x, r);
            // Two roundings (high-mul, then shift): the result is within one of the exact product.
            prop_assert!((got - want).abs() < 1.0, "x={x} real={real} got={got} want={want}");
            prop_assert!((got - x as f64 * real).abs() <= 1.0 + (x as f64 * real).abs() * 1e-8);
        }

        #[test]
        fn quantize_multiplier_is_precise(real in 1e-9f64..1e6) {
            let r = quantize_multiplier(real);
            prop_assert!(r.is_valid());
            prop_assert!((1 << 30..=i32::MAX).contains(&r.multiplier));
            let back = r.multiplier as f64 * libm::pow(2.0, (r.shift - 31) as f64);
            prop_assert!((back - real).abs() <= real * 1e-9);
        }

        #[test]
        fn round_half_even_matches_std(x in -1e7f32..1e7) {
            prop_assert_eq!(round_half_even(x), x.round_ties_even());
        }
    }
}
