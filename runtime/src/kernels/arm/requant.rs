//! The int8 output stage of the DSP kernels: five instructions per accumulator, bit-exact with
//! the reference `clamp(requant.apply(acc) + zero_point, lo, hi)`.
//!
//! # Why five instructions give the reference's bytes
//! [`Requant::apply`] with `multiplier = m` and `shift = -e` (`e >= 1`) is gemmlowp's
//! `SaturatingRoundingDoublingHighMul(acc, m)` followed by `RoundingDivideByPOT(·, e)`:
//!
//! 1. The high-mul is `x = floor((acc·m + 2^30) / 2^31)`: its nudge of `2^30` (`1 - 2^30` for a
//!    negative product) with a truncating division lands on the same integer for both signs.
//!    With `m2 = 2m - 2^32` (the bit pattern of `m << 1`, `m >= 2^30`),
//!    `SMMLAR x, acc, m2, acc = floor((acc·2^32 + acc·m2 + 2^31) / 2^32)` is exactly that `x`:
//!    one instruction, no 64-bit arithmetic. Its only saturating case (`acc = m = i32::MIN`)
//!    cannot occur with `m >= 0`, and `|x| < 2^31 - 1`.
//! 2. Dividing by `2^e` rounding half away from zero is `floor((x + 2^(e-1) - [x < 0]) / 2^e)`
//!    `= floor((floor((x - [x < 0]) / 2^(e-1)) + 1) / 2)`: `ADD x, x, x, ASR #31` (no overflow:
//!    `x > i32::MIN`), `ASR` by `e - 1`, then the `+ 1` and the final halving.
//! 3. The saturating zero-point add rides on the halving: `floor((t + 1) / 2) + zp =
//!    floor((t + 1 + 2zp) / 2)`. `QADD` adds `1 + 2zp`; when it saturates the true sum is
//!    beyond `±2^31`, so the result is beyond the int8 range either way, and `SSAT #8, ASR #1`
//!    halves and saturates to int8, where the reference's clamp to `[lo, hi]` (inside int8)
//!    gives the same byte as clamping the int8-saturated value.
//!
//! 4. A zero multiplier (`quantize_multiplier(0)` is `(0, 0)`: a channel whose weights are all
//!    zero, common in pruned or sparsely trained models) makes the reference's `apply` 0 and the
//!    output the zero point. The same five instructions give it: `em1 = !0` has 255 in its low
//!    byte, and `ASR` by a register amount of 32 or more leaves only the sign (0 or -1), which
//!    `QADD` of `1 + 2zp` and the halving turn into `zp` either way.
//!
//! The activation clamp then runs on four packed bytes at once (`SSUB8` / `SEL`, in the
//! routines of [`super::matmul`] and [`super::depthwise`]), and only when it narrows the int8
//! range.
//!
//! The stage covers what the converter produces: every multiplier normalised (`>= 2^30`, as
//! `quantize_multiplier` makes every non-zero scale) with a real value below 0.5 (`shift <= -1`),
//! or zero (`(0, 0)`), and an output zero point in the int8 range. [`OutputStage::new`] returns
//! `None` otherwise and the op runs on the reference kernel. [`OutputStage::of`] takes a
//! [`RequantTable`]: one the loader found normal is not looked at again (no entry is zero then,
//! so every channel is live).

use super::dsp;
use crate::quant::{Requant, RequantTable};

/// Whether `r` is the zero multiplier; out of line, so that the scan of the normal ones stays
/// a few compares a channel.
#[cold]
#[inline(never)]
fn is_zero(r: &Requant) -> bool {
    (r.multiplier | r.shift) == 0
}

/// One channel's constants: `m2 = multiplier << 1` (wrapping) and `em1 = -shift - 1`.
#[derive(Clone, Copy, Debug)]
pub struct ChannelScale {
    pub m2: i32,
    pub em1: u32,
}

/// Requantization, output zero point and activation clamp of one op, checked once.
#[derive(Clone, Copy, Debug)]
pub struct OutputStage<'a> {
    requant: &'a [Requant],
    all_live: bool,
    /// `usize::MAX` for per-channel requant, 0 for per-tensor: the index mask.
    channel_mask: usize,
    /// `1 + 2 * zero_point`.
    zp_round: i32,
    lo: u32,
    hi: u32,
}

impl<'a> OutputStage<'a> {
    /// The stage for `channels` output channels, or `None` when `requant` is neither per-tensor
    /// nor per-channel or holds a multiplier this stage does not cover.
    pub fn new(requant: &'a [Requant], channels: usize, zero_point: i32, act: (i8, i8)) -> Option<OutputStage<'a>> {
        Self::of(RequantTable::new(requant), channels, zero_point, act)
    }

    /// [`new`](Self::new) for a table, whose entries are not looked at when known normal.
    pub fn of(table: RequantTable<'a>, channels: usize, zero_point: i32, act: (i8, i8)) -> Option<OutputStage<'a>> {
        let requant = table.entries();
        let channel_mask = match requant.len() {
            1 => 0,
            n if n == channels => usize::MAX,
            _ => return None,
        };
        let covered = |r: &Requant| r.is_normal() || is_zero(r);
        if !(table.is_normal() || requant.iter().all(covered)) || !(-128..=127).contains(&zero_point) {
            return None;
        }
        let splat = |v: i8| u32::from_ne_bytes([v as u8; 4]);
        Some(OutputStage { requant, all_live: table.is_normal(), channel_mask, zp_round: 1 + 2 * zero_point, lo: splat(act.0), hi: splat(act.1) })
    }

    /// Whether every channel is known live (the table is normal: no zero multiplier).
    pub fn all_live(&self) -> bool {
        self.all_live
    }

    /// Channel `c`'s constants. `c` must be below the `channels` the stage was made for.
    #[inline(always)]
    pub fn channel(&self, c: usize) -> ChannelScale {
        // SAFETY: `c & channel_mask` is 0 (one requant) or `c`, below `channels == requant.len()`.
        let r = unsafe { self.requant.get_unchecked(c & self.channel_mask) };
        ChannelScale { m2: (r.multiplier as u32).wrapping_shl(1) as i32, em1: !r.shift as u32 }
    }

    /// Whether channel `c`'s multiplier is zero: its every output is the zero point, clamped.
    /// `c` must be below the `channels` the stage was made for.
    #[inline(always)]
    pub fn is_dead(&self, c: usize) -> bool {
        // SAFETY: as in `channel`.
        unsafe { self.requant.get_unchecked(c & self.channel_mask) }.multiplier == 0
    }

    /// The requant entries as the assembly routines read them (deriving each channel's
    /// constants themselves): the first entry and the byte step between channels' entries.
    pub fn requant_ptr(&self) -> (*const Requant, usize) {
        (self.requant.as_ptr(), if self.channel_mask == 0 { 0 } else { core::mem::size_of::<Requant>() })
    }

    /// `1 + 2 * zero_point`.
    pub fn zp_round(&self) -> i32 {
        self.zp_round
    }

    /// The activation's lower bound in every byte.
    pub fn lo(&self) -> u32 {
        self.lo
    }

    /// The activation's upper bound in every byte.
    pub fn hi(&self) -> u32 {
        self.hi
    }

    /// 1 when the activation clamp narrows the int8 range, else 0 (the routines skip it).
    pub fn clamps(&self) -> u32 {
        (self.lo != 0x8080_8080 || self.hi != 0x7f7f_7f7f) as u32
    }

    /// `requant.apply(acc) + zero_point`, saturated to int8 (the clamp comes later).
    #[inline(always)]
    pub fn requantize(&self, s: ChannelScale, acc: i32) -> i32 {
        dsp::requantize(acc, s.m2, s.em1, self.zp_round)
    }

    /// One requantized value clamped to the activation range.
    #[inline(always)]
    pub fn clamp1(&self, v: i32) -> i8 {
        (v.max(self.lo as i8 as i32).min(self.hi as i8 as i32)) as i8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::arm::test_rng::Rng;
    use crate::quant::quantize_multiplier;

    fn reference(acc: i32, r: Requant, zp: i32, act: (i8, i8)) -> i8 {
        r.apply(acc).saturating_add(zp).max(act.0 as i32).min(act.1 as i32) as i8
    }

    /// Accumulators at the edges (`i32::MIN`, `i32::MAX`, ties of every rounding step) and at
    /// random, multipliers at the edges of the covered range and at random.
    #[test]
    fn matches_requant_apply() {
        let mut rng = Rng(11);
        let mut accs: std::vec::Vec<i32> = std::vec![i32::MIN, i32::MIN + 1, i32::MAX, i32::MAX - 1, 0, 1, -1, 2, -2];
        for e in 0..31 {
            for d in [-1i64, 0, 1] {
                accs.push(((1i64 << e) + d) as i32);
                accs.push((-(1i64 << e) + d) as i32);
                accs.push(((3i64 << e) / 2 + d) as i32);
                accs.push((-(3i64 << e) / 2 + d) as i32);
            }
        }
        for _ in 0..2000 {
            accs.push(rng.next() as i32);
            accs.push((rng.next() as i32) >> rng.int(0, 31));
        }
        let mut scales = std::vec![Requant { multiplier: 0, shift: 0 }, Requant { multiplier: 1 << 30, shift: -1 }, Requant { multiplier: i32::MAX, shift: -1 },
                                   Requant { multiplier: 1 << 30, shift: -31 }, Requant { multiplier: i32::MAX, shift: -31 }];
        for _ in 0..60 {
            scales.push(quantize_multiplier(libm::pow(10.0, -9.0 + 8.6 * rng.unit())));
        }
        for r in scales {
            for zp in [-128, -1, 0, 5, 127] {
                for act in [(-128i8, 127i8), (zp as i8, 127), (-5, 6), (9, 3)] {
                    let stage = OutputStage::new(core::slice::from_ref(&r), 1, zp, act).expect("covered");
                    let s = stage.channel(0);
                    for &acc in &accs {
                        let v = stage.requantize(s, acc);
                        // The routines clamp four packed bytes with SSUB8 / SEL.
                        let packed = dsp::clamp_i8x4(dsp::pack_i8x4(0, 0, v, 0), stage.lo(), stage.hi());
                        assert_eq!(packed.to_le_bytes()[2] as i8, reference(acc, r, zp, act), "acc {acc} {r:?} zp {zp} act {act:?}");
                        assert_eq!(stage.clamp1(v), reference(acc, r, zp, act));
                    }
                }
            }
        }
    }

    #[test]
    fn rejects_what_it_does_not_cover() {
        let ok = Requant { multiplier: 1 << 30, shift: -3 };
        assert!(OutputStage::new(&[ok], 8, 0, (-128, 127)).is_some());
        assert!(OutputStage::new(&[ok; 8], 8, 0, (-128, 127)).is_some());
        assert!(OutputStage::new(&[ok; 3], 8, 0, (-128, 127)).is_none());
        assert!(OutputStage::new(&[Requant { multiplier: 1 << 30, shift: 0 }], 1, 0, (-128, 127)).is_none());
        assert!(OutputStage::new(&[Requant { multiplier: (1 << 30) - 1, shift: -3 }], 1, 0, (-128, 127)).is_none());
        assert!(OutputStage::new(&[Requant { multiplier: 0, shift: 0 }], 1, 0, (-128, 127)).is_some());
        assert!(OutputStage::new(&[Requant { multiplier: 0, shift: -3 }], 1, 0, (-128, 127)).is_none());
        assert!(OutputStage::new(&[ok], 1, 128, (-128, 127)).is_none());
    }
}
