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

impl Requant {
    /// Whether the entry is *normal*: a multiplier in `[2^30, 2^31)` with a right shift (`shift`
    /// in `-31..=-1`), what [`quantize_multiplier`] makes of every scale in `[2^-32, 0.5)`. Every
    /// fast output stage covers a table of normal entries, with no channel dead.
    #[inline(always)]
    pub fn is_normal(self) -> bool {
        self.multiplier >= 1 << 30 && (-31..=-1).contains(&self.shift)
    }
}

/// An op's requantization entries (one per tensor, or one per output channel) and whether they
/// are known to be all normal ([`Requant::is_normal`]). The fast kernels otherwise check the
/// entries on every call; the loader checks them once per op ([`RequantTable::checked`]) and the
/// interpreter hands its finding to every run.
#[derive(Clone, Copy, Debug)]
pub struct RequantTable<'a> {
    entries: &'a [Requant],
    normal: bool,
}

impl<'a> RequantTable<'a> {
    /// The entries, not known to be normal: the kernels check them as they need.
    pub fn new(entries: &'a [Requant]) -> Self {
        RequantTable { entries, normal: false }
    }

    /// The entries, checked once: known normal when every entry is.
    pub fn checked(entries: &'a [Requant]) -> Self {
        RequantTable { entries, normal: entries.iter().all(|r| r.is_normal()) }
    }

    /// Entries whose every entry the loader found normal.
    pub(crate) fn known_normal(entries: &'a [Requant]) -> Self {
        RequantTable { entries, normal: true }
    }

    pub fn entries(&self) -> &'a [Requant] {
        self.entries
    }

    /// The entries of channels `c0 .. c0 + n` (the table itself when it is per tensor).
    pub fn channels(&self, c0: usize, n: usize) -> Self {
        match self.entries {
            [_] => *self,
            all => RequantTable { entries: &all[c0..c0 + n], normal: self.normal },
        }
    }

    /// Whether every entry is known to be normal (`false` also when unknown).
    pub fn is_normal(&self) -> bool {
        self.normal
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
        let qlo = if lo == f32::NEG_INFINITY { -128 } else { self.quantize_bound(lo) };
        let qhi = if hi == f32::INFINITY { 127 } else { self.quantize_bound(hi) };
        (qlo, qhi)
    }

    /// [`quantize`](Self::quantize), not inlined: one copy of the float rounding for both
    /// bounds of [`quantize_range`](Self::quantize_range) (flash; it runs once per op).
    #[inline(never)]
    fn quantize_bound(self, r: f32) -> i8 {
        self.quantize(r)
    }
}

/// Asymmetric int8 parameters covering the real range `[lo, hi]`, first widened to include 0 so
/// that real 0 (zero padding, a ReLU's floor) is stored exactly as the zero point.
///
/// `scale = max((hi - lo) / 255, 1e-9)` in f64, rounded once to f32;
/// `zero_point = round(-128 - lo / scale)` with the f64 scale, rounded half away from zero and
/// clamped to `[-128, 127]`. A NaN bound counts as 0.
pub fn activation_qparams(lo: f32, hi: f32) -> QParams {
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    let scale = ((hi as f64 - lo as f64) / 255.0).max(1e-9);
    let zero_point = libm::round(-128.0 - lo as f64 / scale).clamp(-128.0, 127.0) as i32;
    QParams { scale: scale as f32, zero_point }
}

/// Symmetric int8 parameters covering `[lo, hi]`: zero point 0 and
/// `scale = max(|lo|, |hi|, 1e-9) / 127` (one f32 division). For a tensor whose int8 value 0
/// must mean real 0 whatever the range, e.g. an average pool that counts zero padding.
pub fn symmetric_qparams(lo: f32, hi: f32) -> QParams {
    let m = lo.abs().max(hi.abs()).max(1e-9);
    QParams { scale: m / 127.0, zero_point: 0 }
}

/// The scale of symmetric int8 weights: `max |w| / 127` (one f32 division), so the largest
/// magnitude maps to ±127; 1 when every weight is 0 (or there are none). NaNs are ignored.
pub fn weight_scale(w: &[f32]) -> f32 {
    let m = w.iter().fold(0f32, |a, x| a.max(x.abs()));
    if m > 0.0 {
        m / 127.0
    } else {
        1.0
    }
}

/// One weight on the symmetric grid of `scale`: `round_half_even(w / scale)` clamped to
/// `[-127, 127]` (-128 is never used, so a weight's negation fits); NaN maps to 0.
#[inline]
pub fn quantize_weight(w: f32, scale: f32) -> i8 {
    round_half_even(w / scale).clamp(-127.0, 127.0) as i8
}

/// Symmetric int8 weights whose axis 0 is the output channel, in row-major order: `w` holds
/// `scales.len()` channels of `w.len() / scales.len()` values each. Writes each channel's scale
/// to `scales` — its own [`weight_scale`] when `per_channel`, else the whole tensor's in every
/// entry — and `q[i] = quantize_weight(w[i], scale of w[i]'s channel)`.
///
/// `q` must be as long as `w`, and `w.len()` a multiple of `scales.len()`; otherwise only the
/// values that fit are written (never a panic).
pub fn quantize_weights(w: &[f32], per_channel: bool, scales: &mut [f32], q: &mut [i8]) {
    let per = w.len().checked_div(scales.len()).unwrap_or(0).max(1);
    let whole = weight_scale(w);
    for ((scale, w), q) in scales.iter_mut().zip(w.chunks(per)).zip(q.chunks_mut(per)) {
        *scale = if per_channel { weight_scale(w) } else { whole };
        for (q, &v) in q.iter_mut().zip(w) {
            *q = quantize_weight(v, *scale);
        }
    }
}

/// A bias in the int32 accumulator of an int8 Conv or FullyConnected, whose scale is
/// `input_scale · weight_scale`: `round(b / (input_scale · weight_scale))` in f64, rounded half
/// away from zero and saturated to the i32 range (NaN maps to 0).
pub fn quantize_bias(b: f32, input_scale: f32, weight_scale: f32) -> i32 {
    libm::round(b as f64 / (input_scale as f64 * weight_scale as f64)).clamp(i32::MIN as f64, i32::MAX as f64) as i32
}

/// The requantization of an int8 Conv or FullyConnected output channel: its accumulator, at
/// scale `input_scale · weight_scale`, into the output's `output_scale`. The real multiplier
/// `input_scale · weight_scale / output_scale` is computed in f64 (multiply, then divide) and
/// split by [`quantize_multiplier`].
pub fn requant_multiplier(input_scale: f32, weight_scale: f32, output_scale: f32) -> Requant {
    quantize_multiplier(input_scale as f64 * weight_scale as f64 / output_scale as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normal_entries_and_tables() {
        assert!(quantize_multiplier(0.3).is_normal());
        assert!(quantize_multiplier(2f64.powi(-32)).is_normal());
        assert!(!quantize_multiplier(0.5).is_normal(), "shift 0");
        assert!(!quantize_multiplier(0.0).is_normal(), "a dead channel");
        assert!(!Requant { multiplier: (1 << 30) - 1, shift: -3 }.is_normal());
        assert!(!Requant { multiplier: 1 << 30, shift: -32 }.is_normal());
        let table = [quantize_multiplier(0.01), quantize_multiplier(0.2)];
        assert!(RequantTable::checked(&table).is_normal());
        assert!(!RequantTable::new(&table).is_normal(), "not looked at");
        assert!(!RequantTable::checked(&[table[0], quantize_multiplier(0.0)]).is_normal());
        assert_eq!(RequantTable::checked(&table).channels(1, 1).entries(), &table[1..]);
        assert!(RequantTable::checked(&table).channels(1, 1).is_normal());
    }

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

    #[test]
    fn activation_qparams_known_values() {
        assert_eq!(activation_qparams(0.0, 2.55), QParams { scale: 0.01, zero_point: -128 });
        // -128 - (-1) / (2 / 255) = -0.5: half away from zero.
        assert_eq!(activation_qparams(-1.0, 1.0), QParams { scale: (2.0f64 / 255.0) as f32, zero_point: -1 });
        // A range above 0 is widened to start at 0; an empty one gets the smallest scale.
        assert_eq!(activation_qparams(2.0, 4.0), activation_qparams(0.0, 4.0));
        assert_eq!(activation_qparams(0.0, 0.0), QParams { scale: 1e-9, zero_point: -128 });
        assert_eq!(activation_qparams(-5.1, 0.0).zero_point, 127);
        assert_eq!(activation_qparams(f32::NAN, 1.0), activation_qparams(0.0, 1.0));
    }

    #[test]
    fn symmetric_qparams_known_values() {
        assert_eq!(symmetric_qparams(-0.5, 2.54), QParams { scale: 2.54 / 127.0, zero_point: 0 });
        assert_eq!(symmetric_qparams(-3.0, 1.0), QParams { scale: 3.0 / 127.0, zero_point: 0 });
        assert_eq!(symmetric_qparams(0.0, 0.0), QParams { scale: 1e-9 / 127.0, zero_point: 0 });
    }

    #[test]
    fn weights_per_channel_and_per_tensor() {
        // Channel 0: scale 1/127, -0.5 -> -63.5 -> -64 (ties to even); channel 1 is all zero.
        let w = [1.0, -0.5, 0.0, 0.0];
        let (mut scales, mut q) = ([0f32; 2], [0i8; 4]);
        quantize_weights(&w, true, &mut scales, &mut q);
        assert_eq!(scales, [1.0 / 127.0, 1.0]);
        assert_eq!(q, [127, -64, 0, 0]);
        // One scale, 2 / 127: 1 -> 63.5 -> 64, 0.5 -> 31.75 -> 32, -1 -> -63.5 -> -64.
        let w = [2.0, 1.0, 0.5, -1.0];
        quantize_weights(&w, false, &mut scales, &mut q);
        assert_eq!(scales, [2.0 / 127.0; 2]);
        assert_eq!(q, [127, 64, 32, -64]);
        assert_eq!(quantize_weight(-3.0, 0.01), -127);
        assert_eq!(quantize_weight(f32::NAN, 0.01), 0);
        // Mismatched lengths write what fits.
        let mut short = [0i8; 3];
        quantize_weights(&w, true, &mut scales, &mut short);
        assert_eq!(short, [127, 64, 64]);
    }

    #[test]
    fn bias_and_requant_known_values() {
        assert_eq!(quantize_bias(0.5, 0.25, 0.5), 4);
        // 2.5 accumulator steps: half away from zero.
        assert_eq!(quantize_bias(0.3125, 0.25, 0.5), 3);
        assert_eq!(quantize_bias(-0.3125, 0.25, 0.5), -3);
        assert_eq!(quantize_bias(1e30, 0.25, 0.5), i32::MAX);
        assert_eq!(quantize_bias(-1e30, 0.25, 0.5), i32::MIN);
        assert_eq!(quantize_bias(f32::NAN, 0.25, 0.5), 0);
        assert_eq!(requant_multiplier(0.5, 0.25, 0.125), Requant::ONE);
        assert_eq!(requant_multiplier(0.5, 0.25, 0.5), quantize_multiplier(0.25));
    }

    proptest! {
        #[test]
        fn activation_qparams_hold_zero_and_the_range(lo in -1e4f32..0.0, hi in 0.0f32..1e4) {
            let q = activation_qparams(lo, hi);
            prop_assert!((-128..=127).contains(&q.zero_point));
            prop_assert_eq!(q.quantize(0.0) as i32, q.zero_point);
            prop_assert_eq!(q.dequantize(q.zero_point as i8), 0.0);
            // The grid reaches both ends of the range, to within one step of rounding.
            let step = q.scale as f64;
            prop_assert!(q.dequantize(-128) as f64 <= lo as f64 + step);
            prop_assert!(q.dequantize(127) as f64 >= hi as f64 - step);
        }

        #[test]
        fn weights_reconstruct_within_half_a_step(w in proptest::collection::vec(-10f32..10.0, 12), per_channel in proptest::bool::ANY) {
            let (mut scales, mut q) = ([0f32; 3], [0i8; 12]);
            quantize_weights(&w, per_channel, &mut scales, &mut q);
            for (i, (&v, &q)) in w.iter().zip(&q).enumerate() {
                let s = scales[i / 4];
                prop_assert!((q as f32 * s - v).abs() <= s * 0.5 + s * 1e-5, "w {v} q {q} scale {s}");
            }
        }
    }
}
