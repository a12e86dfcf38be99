//! The output stage every kernel ends with: int8 requantize-and-clamp, and the f32 clamp.
//!
//! Written once so that every kernel, and every fast variant, rounds and clamps the same way:
//!
//! * int8: `requantize_i8(acc, rq, zero_point, (lo, hi)) = clamp_i8(rq.apply(acc) + zero_point)`,
//!   where [`Requant::apply`] is TFLite's `MultiplyByQuantizedMultiplier` (see [`crate::quant`]
//!   for its two roundings), the zero-point add saturates, and the clamp is `max(lo)` then
//!   `min(hi)`.
//! * f32: `clamp_f32(v, lo, hi)` is `lo` when `v < lo`, else `hi` when `v > hi`, else `v`.
//!
//! # The NaN rule
//! **A NaN passes through the f32 clamp unchanged**: both comparisons are false for NaN. A NaN
//! result therefore stays visible at the output of every op, whatever its fused activation.
//! (`v.max(lo).min(hi)`, which conv, fully connected and pooling used before this stage existed,
//! turns NaN into `lo`; binary and unary ops always let it through, and a NaN is observable
//! there from finite inputs, `0 / 0`, so that is the rule kept.) The sign of a zero is not part
//! of the contract: LLVM may fold a compare-and-select against `0.0` into one that returns the
//! other zero. Both clamps apply the low bound first, so a clamp whose bounds cross (`lo > hi`)
//! yields `hi` for every input but NaN.

use crate::quant::Requant;

/// `clamp(rq.apply(acc) + zero_point, lo, hi)` as int8; the add saturates (see the module docs).
#[inline(always)]
pub fn requantize_i8(acc: i32, requant: Requant, zero_point: i32, act: (i8, i8)) -> i8 {
    clamp_i8(requant.apply(acc).saturating_add(zero_point), act)
}

/// `v.max(lo).min(hi)` as int8. The result lies in `[min(lo, hi), hi]`, inside the int8 range.
#[inline(always)]
pub fn clamp_i8(v: i32, (lo, hi): (i8, i8)) -> i8 {
    v.max(lo as i32).min(hi as i32) as i8
}

/// `v` clamped to `[lo, hi]`, NaN passing through (see the module docs).
#[inline(always)]
pub fn clamp_f32(v: f32, lo: f32, hi: f32) -> f32 {
    let v = if v < lo { lo } else { v };
    if v > hi {
        hi
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::quantize_multiplier;

    #[test]
    fn clamp_f32_rule() {
        assert_eq!(clamp_f32(-2.0, 0.0, 6.0), 0.0);
        assert_eq!(clamp_f32(7.0, 0.0, 6.0), 6.0);
        assert_eq!(clamp_f32(3.5, 0.0, 6.0), 3.5);
        assert!(clamp_f32(f32::NAN, 0.0, 6.0).is_nan());
        assert!(clamp_f32(f32::NAN, f32::NEG_INFINITY, f32::INFINITY).is_nan());
        assert_eq!(clamp_f32(f32::INFINITY, 0.0, 6.0), 6.0);
        assert_eq!(clamp_f32(f32::NEG_INFINITY, f32::NEG_INFINITY, 1.0), f32::NEG_INFINITY);
        // Crossed bounds: `hi`, as the int8 clamp.
        assert_eq!(clamp_f32(-5.0, 2.0, 1.0), 1.0);
        assert_eq!(clamp_f32(5.0, 2.0, 1.0), 1.0);
    }

    #[test]
    fn requantize_i8_rounds_saturates_and_clamps() {
        // 59 * 0.5 = 29.5 -> 30 (the shift rounds half away from zero); + 1.
        assert_eq!(requantize_i8(59, quantize_multiplier(0.5), 1, (-128, 127)), 31);
        // -101 * 0.5 = -50.5 -> -50 (the doubling high-mul rounds a negative tie up).
        assert_eq!(requantize_i8(-101, quantize_multiplier(0.5), 0, (-128, 127)), -50);
        assert_eq!(requantize_i8(1000, Requant::ONE, 0, (-128, 127)), 127);
        assert_eq!(requantize_i8(-1000, Requant::ONE, 0, (-128, 127)), -128);
        assert_eq!(requantize_i8(i32::MAX, Requant::ONE, i32::MAX, (-128, 127)), 127);
        assert_eq!(requantize_i8(-3, Requant::ONE, 0, (-2, 5)), -2);
        assert_eq!(clamp_i8(0, (3, -3)), -3);
    }
}
