//! Blocked scalar int8 convolution and fully connected kernels, for cores without the Arm DSP
//! extension: RISC-V (RV32IMC / RV32IMAC) and Cortex-M0/M0+ (ARMv6-M). Bit-exact with the
//! reference kernels.
//!
//! [`conv2d_i8`] and [`fully_connected_i8`] have the reference kernels' signatures and contract
//! and are what the interpreter calls on `riscv32` and on Arm cores without the DSP extension
//! (`not(mote_arm_dsp)`, see `runtime/build.rs`); the host keeps the reference kernels, so the
//! HIL matrix compares these against them byte for byte. Each picks a specialisation by shape,
//! and otherwise runs the reference kernel:
//!
//! | shape | specialisation | block |
//! |---|---|---|
//! | depthwise, multiplier 1 | [`depthwise::depthwise_conv2d_s8`] | 4 channels of one pixel, over its in-image taps |
//! | regular (`groups == 1`) | [`conv::conv2d_s8`] | 2 pixels × 4 channels over runs of the window read in place |
//! | fully connected | [`fully_connected_s8`] | 2 rows × 4 outputs, or 1 row × 8 outputs |
//!
//! Grouped convolutions, depthwise multipliers above 1, input zero points outside the int8 range
//! and slices of other lengths than the contract's take the reference. Nothing takes scratch
//! memory: the firmware's stack high-water mark does not move.
//!
//! # Why it is faster
//! The reference computes every output element on its own: per element it walks the taps with
//! their bounds tests and index multiplies, then reloads the inputs for the next channel. Here
//! the tap ranges are computed once per output row and pixel; the inner loops
//! ([`dot`]) step pointers over contiguous runs and share each loaded input byte between
//! several output channels and each weight byte between two pixels, with every sum in a
//! register. The output stage ([`OutputStage`]) is TFLite's requantization in 32-bit steps.
//!
//! Instructions per MAC in the inner loops:
//!
//! | loop | RV32IM | ARMv6-M |
//! |---|---:|---:|
//! | conv, 2 pixels × 4 channels | 3.22 (assembly, 4 inputs a step) | — |
//! | conv and FC, 1 pixel × 4 channels | 5 (Rust) | 4 (assembly, sums in `r8`–`r11`) |
//! | FC, 1 row × 8 outputs | 3.56 (assembly) | 4 (twice the above) |
//!
//! The floor is 3 on RV32IM (`lb`, `mul`, `add`: there is no multiply-accumulate) and on
//! ARMv6-M (`LDRSB`, `MULS`, `ADD`). At `opt-level = "s"` LLVM unrolls nothing and, given an
//! unrolled body, schedules its loads first and spills the sums; on Thumb-1 it keeps sums on the
//! stack rather than in high registers. Hence the assembly (`rv32`, `armv6m`), small leaf
//! loops with their portable twins in [`dot`], which the host tests run.
//!
//! # Exactness
//! The reference accumulates `bias + Σ (x - x_zero_point) · w` over the in-image taps in
//! wrapping `i32`; so do these kernels, over the same taps (padded taps are skipped, as they
//! contribute `(x_zero_point - x_zero_point) · w = 0`). The depthwise kernel starts pixels whose
//! window lies in the image from `bias - x_zero_point · Σw` instead, equal modulo `2^32`.
//! Integer sums do not depend on their order, so the accumulators equal the reference's, and
//! the output stage equals the reference's [`requantize_i8`] (see [`OutputStage`]).
//!
//! # Tests
//! The unit tests below run the benchmark models' layer shapes and odd shapes against the
//! reference, and the shared conformance suites; `runtime/tests/conformance.rs` runs the suites
//! on the host too, and `examples/conformance-firmware` on the devices (`thumbv6m-none-eabi` on
//! `mps2-an385`, `riscv32imac-unknown-none-elf` on QEMU's virt machine), where the assembly runs.

#[cfg(target_arch = "arm")]
mod armv6m;
pub mod conv;
pub mod depthwise;
pub mod dot;
#[cfg(target_arch = "riscv32")]
mod rv32;

use crate::kernels::conv::Conv2dParams;
use crate::kernels::fully_connected::FcParams;
use crate::kernels::output::{clamp_i8, requantize_i8};
use crate::quant::Requant;
use dot::{dot_1x1, dot_1x4, dot_1x8, dot_2x4, PAIRS};

/// Requantization, output zero point and activation clamp of one op.
///
/// Where every multiplier is non-negative and no shift is positive (what the converter
/// writes for scales below 1), [`OutputStage::requantize`] computes TFLite's
/// `MultiplyByQuantizedMultiplier` in 32-bit steps:
///
/// - the doubling high-mul `(acc·m + nudge) / 2^31` (nudge `2^30`, or `1 - 2^30` for a negative
///   product, then truncation) is `floor((acc·m + 2^30) / 2^31)` for both signs: one widening
///   multiply and a shift; its saturating case (`acc = m = i32::MIN`) needs `m < 0`; and the
///   result `x` lies in `(i32::MIN, i32::MAX - 1]`;
/// - dividing `x` by `2^e` (`e = min(-shift, 31) >= 1`) rounding half away from zero is
///   `floor((floor((x - [x < 0]) / 2^(e-1)) + 1) / 2)`, none of whose steps overflows;
///
/// then the saturating zero-point add and the clamp of [`requantize_i8`]. Other stages call
/// [`requantize_i8`] itself.
#[derive(Clone, Copy, Debug)]
pub struct OutputStage<'a> {
    requant: &'a [Requant],
    /// `usize::MAX` for per-channel requant, 0 for per-tensor: the index mask.
    channel_mask: usize,
    /// Every multiplier `>= 0` and every shift `<= 0`.
    split: bool,
    zero_point: i32,
    act: (i8, i8),
}

impl<'a> OutputStage<'a> {
    /// The stage for `channels` output channels, or `None` when `requant` is neither per-tensor
    /// nor per-channel.
    pub fn new(requant: &'a [Requant], channels: usize, zero_point: i32, act: (i8, i8)) -> Option<OutputStage<'a>> {
        let channel_mask = match requant.len() {
            1 => 0,
            n if n == channels => usize::MAX,
            _ => return None,
        };
        let split = requant.iter().all(|r| r.multiplier >= 0 && r.shift <= 0);
        Some(OutputStage { requant, channel_mask, split, zero_point, act })
    }

    /// Channel `o`'s accumulator as int8: [`requantize_i8`]'s value.
    #[inline(always)]
    pub fn requantize(&self, o: usize, acc: i32) -> i8 {
        let rq = self.requant[o & self.channel_mask];
        if !self.split {
            return self.requantize_other(rq, acc);
        }
        let x = doubling_high_mul(acc, rq.multiplier);
        let e = (rq.shift.wrapping_neg() as u32).min(31);
        let v = if e == 0 { x } else { (((x + (x >> 31)) >> (e - 1)) + 1) >> 1 };
        clamp_i8(v.saturating_add(self.zero_point), self.act)
    }

    /// [`requantize_i8`], out of line: the converter writes no such stage.
    #[cold]
    #[inline(never)]
    fn requantize_other(&self, rq: Requant, acc: i32) -> i8 {
        requantize_i8(acc, rq, self.zero_point, self.act)
    }
}

/// `floor((a·m + 2^30) / 2^31)` for `m >= 0`: gemmlowp's rounding doubling high-mul where it
/// cannot saturate (see [`OutputStage`]). One widening multiply where the core has one.
#[cfg(not(target_arch = "arm"))]
#[inline(always)]
fn doubling_high_mul(a: i32, m: i32) -> i32 {
    ((a as i64 * m as i64 + (1 << 30)) >> 31) as i32
}

/// `floor((a·m + 2^30) / 2^31)` for `m >= 0`: ARMv6-M has no widening multiply (an `i64`
/// product is a library call), so the product `|a|·m` is built from four 16 × 16-bit `MULS`
/// (`lh + hl` cannot carry out: both are below `2^31`), negated as a 64-bit value when `a < 0`,
/// then rounded.
#[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
#[inline(always)]
fn doubling_high_mul_16(a: i32, m: i32) -> i32 {
    let (u, m) = (a.unsigned_abs(), m as u32);
    let (uh, ul, mh, ml) = (u >> 16, u & 0xffff, m >> 16, m & 0xffff);
    let mid = ul * mh + uh * ml;
    let ll = ul * ml;
    let lo = ll.wrapping_add(mid << 16);
    let hi = uh * mh + (mid >> 16) + (lo < ll) as u32;
    let (hi, lo) = if a < 0 { ((!hi).wrapping_add((lo == 0) as u32), lo.wrapping_neg()) } else { (hi, lo) };
    let lo2 = lo.wrapping_add(1 << 30);
    let hi = hi.wrapping_add((lo2 < lo) as u32);
    ((hi << 1) | (lo2 >> 31)) as i32
}

#[cfg(target_arch = "arm")]
use doubling_high_mul_16 as doubling_high_mul;

/// Which kernel [`conv2d_i8`] runs for a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvPath {
    Depthwise,
    Regular,
    Reference,
}

/// The decision tree of [`conv2d_i8`] (for slices of the documented lengths).
pub fn conv_path(p: &Conv2dParams, x_zero_point: i32, requant: &[Requant]) -> ConvPath {
    let [_, _, _, c] = p.input;
    let oc = p.output[3];
    if !(-128..=127).contains(&x_zero_point) || !(requant.len() == 1 || requant.len() == oc) || p.output.contains(&0) || p.input.contains(&0) {
        ConvPath::Reference
    } else if p.groups == c && oc == c {
        ConvPath::Depthwise
    } else if p.groups == 1 {
        ConvPath::Regular
    } else {
        ConvPath::Reference
    }
}

/// Whether the slices have the lengths the kernel contract states.
fn conv_lengths_match(p: &Conv2dParams, x: &[i8], w: &[i8], bias: Option<&[i32]>, out: &[i8]) -> bool {
    let [_, _, _, c] = p.input;
    let oc = p.output[3];
    let groups = p.groups.max(1);
    x.len() == p.input.iter().product::<usize>()
        && out.len() == p.output.iter().product::<usize>()
        && w.len() == oc * p.kernel[0] * p.kernel[1] * (c / groups)
        && bias.is_none_or(|b| b.len() == oc)
        && p.kernel.iter().chain(&p.stride).chain(&p.dilation).all(|&v| v >= 1)
}

/// int8 2-D convolution: [`crate::kernels::conv::conv2d_i8`]'s signature and contract, and its
/// bytes.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_i8(
    p: &Conv2dParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    requant: &[Requant],
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
) {
    let path = if conv_lengths_match(p, x, w, bias, out) { conv_path(p, x_zero_point, requant) } else { ConvPath::Reference };
    let stage = OutputStage::new(requant, p.output[3], out_zero_point, act);
    match (path, stage) {
        (ConvPath::Depthwise, Some(stage)) => depthwise::depthwise_conv2d_s8(p, x, x_zero_point, w, bias, &stage, out),
        (ConvPath::Regular, Some(stage)) => conv::conv2d_s8(p, x, x_zero_point, w, bias, &stage, out),
        _ => crate::kernels::conv::conv2d_i8(p, x, x_zero_point, w, bias, requant, out_zero_point, out, act),
    }
}

/// Whether [`fully_connected_i8`] runs [`fully_connected_s8`] (`true`) or the reference.
pub fn fc_is_fast(p: &FcParams, x_zero_point: i32, requant: &[Requant]) -> bool {
    (-128..=127).contains(&x_zero_point) && (requant.len() == 1 || requant.len() == p.outputs)
}

/// int8 fully connected layer:
/// [`crate::kernels::fully_connected::fully_connected_i8`]'s signature and contract, and its bytes.
#[allow(clippy::too_many_arguments)]
pub fn fully_connected_i8(
    p: &FcParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    requant: &[Requant],
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
) {
    let lengths = p.fits(x.len(), w.len(), out.len(), bias);
    match OutputStage::new(requant, p.outputs, out_zero_point, act) {
        Some(stage) if lengths && fc_is_fast(p, x_zero_point, requant) => fully_connected_s8(p, x, x_zero_point, w, bias, &stage, out),
        _ => crate::kernels::fully_connected::fully_connected_i8(p, x, x_zero_point, w, bias, requant, out_zero_point, out, act),
    }
}

/// Fully connected layer, the arithmetic of
/// [`crate::kernels::fully_connected::fully_connected_i8`]: two rows of `x` and four weight rows
/// at a time, or one row (the last of an odd count) and eight weight rows.
///
/// `x_zero_point` in the int8 range and the slices of the documented lengths.
pub fn fully_connected_s8(p: &FcParams, x: &[i8], x_zero_point: i32, w: &[i8], bias: Option<&[i32]>, stage: &OutputStage<'_>, out: &mut [i8]) {
    let (k, m) = (p.inputs, p.outputs);
    let zp = x_zero_point;
    let bias_of = |o: usize| bias.map_or(0, |b| b[o]);
    let mut r = 0;
    while r < p.rows {
        let pair = PAIRS && r + 1 < p.rows;
        let xs = [&x[r * k..][..k], &x[if pair { r + 1 } else { r } * k..][..k]];
        let mut o = 0;
        while !pair && o + 8 <= m {
            let mut acc = [0; 8];
            if let Some(b) = bias {
                acc.copy_from_slice(&b[o..o + 8]);
            }
            dot_1x8(xs[0], &w[o * k..(o + 8) * k], zp, &mut acc);
            for (j, (&a, dst)) in acc.iter().zip(&mut out[r * m + o..][..8]).enumerate() {
                *dst = stage.requantize(o + j, a);
            }
            o += 8;
        }
        while o + 4 <= m {
            let ws = [&w[o * k..][..k], &w[(o + 1) * k..][..k], &w[(o + 2) * k..][..k], &w[(o + 3) * k..][..k]];
            let init = [bias_of(o), bias_of(o + 1), bias_of(o + 2), bias_of(o + 3)];
            if pair {
                let mut acc = [init, init];
                dot_2x4(xs, ws, zp, &mut acc);
                for (px, accs) in acc.iter().enumerate() {
                    for (j, &a) in accs.iter().enumerate() {
                        out[(r + px) * m + o + j] = stage.requantize(o + j, a);
                    }
                }
            } else {
                let mut acc = init;
                dot_1x4(xs[0], ws, zp, &mut acc);
                for (j, &a) in acc.iter().enumerate() {
                    out[r * m + o + j] = stage.requantize(o + j, a);
                }
            }
            o += 4;
        }
        while o < m {
            let row = &w[o * k..][..k];
            for px in 0..if pair { 2 } else { 1 } {
                let mut acc = bias_of(o);
                dot_1x1(xs[px], row, zp, &mut acc);
                out[(r + px) * m + o] = stage.requantize(o, acc);
            }
            o += 1;
        }
        r += if pair { 2 } else { 1 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::arm::test_rng::Rng;
    use crate::quant::quantize_multiplier;
    use std::vec::Vec;

    fn random_i8(rng: &mut Rng, n: usize) -> Vec<i8> {
        (0..n).map(|_| rng.int(-128, 127) as i8).collect()
    }

    fn params(input: [usize; 4], output: [usize; 4], kernel: [usize; 2], stride: usize, pad: [usize; 2], groups: usize) -> Conv2dParams {
        Conv2dParams { input, output, kernel, stride: [stride; 2], dilation: [1, 1], pad, groups }
    }

    /// Runs `p` on random data through [`conv2d_i8`] and the reference; checks the path taken and
    /// every output byte.
    fn check_conv(p: Conv2dParams, want: ConvPath, seed: u64) {
        let mut rng = Rng(seed);
        let oc = p.output[3];
        let x = random_i8(&mut rng, p.input.iter().product());
        let w = random_i8(&mut rng, oc * p.kernel[0] * p.kernel[1] * p.input[3] / p.groups);
        let bias: Vec<i32> = (0..oc).map(|_| rng.int(-50_000, 50_000) as i32).collect();
        let requant: Vec<Requant> = (0..oc).map(|_| quantize_multiplier(libm::pow(10.0, -4.0 + 3.0 * rng.unit()))).collect();
        let (x_zp, out_zp) = (rng.int(-128, 127) as i32, rng.int(-128, 127) as i32);
        let act = rng.act_i8(out_zp);
        assert_eq!(conv_path(&p, x_zp, &requant), want, "{p:?}");
        let n = p.output.iter().product();
        let (mut got, mut reference) = (std::vec![0i8; n], std::vec![0i8; n]);
        conv2d_i8(&p, &x, x_zp, &w, Some(&bias), &requant, out_zp, &mut got, act);
        crate::kernels::conv::conv2d_i8(&p, &x, x_zp, &w, Some(&bias), &requant, out_zp, &mut reference, act);
        assert_eq!(got, reference, "{p:?}");
        conv2d_i8(&p, &x, x_zp, &w, None, &requant[..1], out_zp, &mut got, act);
        crate::kernels::conv::conv2d_i8(&p, &x, x_zp, &w, None, &requant[..1], out_zp, &mut reference, act);
        assert_eq!(got, reference, "{p:?}, no bias, per-tensor");
    }

    /// Accumulators at the edges and at random, through stages of every kind of multiplier and
    /// shift (the split path and the fallback), against [`requantize_i8`].
    #[test]
    fn output_stage_matches_requantize_i8() {
        let mut rng = Rng(21);
        let mut accs: Vec<i32> = std::vec![i32::MIN, i32::MIN + 1, i32::MAX, i32::MAX - 1, 0, 1, -1, 2, -2];
        for e in 0..31 {
            for d in [-1i64, 0, 1] {
                for v in [1i64 << e, -(1i64 << e), (3i64 << e) / 2, -(3i64 << e) / 2] {
                    accs.push((v + d) as i32);
                }
            }
        }
        for _ in 0..1000 {
            accs.push(rng.next() as i32);
            accs.push((rng.next() as i32) >> rng.int(0, 31));
        }
        let mut scales = std::vec![Requant::ONE, Requant { multiplier: 0, shift: 0 }, Requant { multiplier: i32::MAX, shift: 0 }, Requant { multiplier: 1 << 30, shift: -31 }, Requant { multiplier: i32::MAX, shift: -31 }, Requant { multiplier: 1 << 30, shift: -40 }, Requant { multiplier: i32::MIN, shift: 0 }, Requant { multiplier: -5, shift: -3 }];
        for _ in 0..40 {
            scales.push(quantize_multiplier(libm::pow(10.0, -9.0 + 10.0 * rng.unit())));
        }
        for r in scales {
            for zp in [-128, -1, 0, 5, 127, i32::MAX, i32::MIN] {
                for act in [(-128i8, 127i8), (zp.clamp(-128, 127) as i8, 127), (-5, 6), (9, 3)] {
                    let stage = OutputStage::new(core::slice::from_ref(&r), 3, zp, act).expect("per tensor");
                    for &acc in &accs {
                        assert_eq!(stage.requantize(2, acc), requantize_i8(acc, r, zp, act), "acc {acc} {r:?} zp {zp} act {act:?}");
                    }
                }
            }
        }
    }

    /// The 16-bit high-mul of ARMv6-M against the `i64` one, at the edges and at random.
    #[test]
    fn doubling_high_mul_16_matches_i64() {
        let mut rng = Rng(5);
        let mut values: Vec<i32> = std::vec![0, 1, -1, 2, -2, i32::MIN, i32::MIN + 1, i32::MAX, i32::MAX - 1, 0xffff, 0x10000, -0x10000, -0xffff, 0x7fff_0000, -0x7fff_0000];
        values.extend((0..2000).map(|_| rng.next() as i32));
        values.extend((0..2000).map(|_| (rng.next() as i32) >> rng.int(0, 31)));
        let mut ms: Vec<i32> = std::vec![0, 1, 1 << 30, (1 << 30) + 1, i32::MAX, i32::MAX - 1, 0xffff, 0x10000, 0x7fff_ffff];
        ms.extend((0..200).map(|_| (rng.next() as u32 >> 1) as i32));
        for &m in &ms {
            for &a in &values {
                assert_eq!(doubling_high_mul_16(a, m), ((a as i64 * m as i64 + (1 << 30)) >> 31) as i32, "{a} * {m}");
            }
        }
    }

    #[test]
    fn benchmark_layers_take_their_paths_and_match_the_reference() {
        // KWS DS-CNN: the 10x4 stride-2 first layer, depthwise 3x3, pointwise 64 -> 64.
        check_conv(params([1, 49, 10, 1], [1, 25, 5, 64], [10, 4], 2, [4, 1], 1), ConvPath::Regular, 1);
        check_conv(params([1, 25, 5, 64], [1, 25, 5, 64], [3, 3], 1, [1, 1], 64), ConvPath::Depthwise, 2);
        check_conv(params([1, 25, 5, 64], [1, 25, 5, 64], [1, 1], 1, [0, 0], 1), ConvPath::Regular, 3);
        // ResNet-8: 3 input channels, 1x1 stride 2, 3x3 stride 2, 3x3 with K = 576.
        check_conv(params([1, 32, 32, 3], [1, 32, 32, 16], [3, 3], 1, [1, 1], 1), ConvPath::Regular, 4);
        check_conv(params([1, 32, 32, 16], [1, 16, 16, 32], [1, 1], 2, [0, 0], 1), ConvPath::Regular, 5);
        check_conv(params([1, 16, 16, 32], [1, 8, 8, 64], [3, 3], 2, [0, 0], 1), ConvPath::Regular, 6);
        check_conv(params([1, 8, 8, 64], [1, 8, 8, 64], [3, 3], 1, [1, 1], 1), ConvPath::Regular, 7);
        // MobileNetV1: 3x3 stride 2 on 3 channels, depthwise stride 2.
        check_conv(params([1, 96, 96, 3], [1, 48, 48, 8], [3, 3], 2, [0, 0], 1), ConvPath::Regular, 8);
        check_conv(params([1, 48, 48, 16], [1, 24, 24, 16], [3, 3], 2, [0, 0], 16), ConvPath::Depthwise, 9);
    }

    #[test]
    fn odd_shapes_match_the_reference() {
        // Odd channel and pixel counts, batch 2, partial channel blocks, odd widths.
        check_conv(params([2, 3, 5, 5], [2, 3, 5, 7], [1, 1], 1, [0, 0], 1), ConvPath::Regular, 8);
        check_conv(params([2, 4, 3, 3], [2, 4, 3, 5], [2, 3], 1, [1, 1], 1), ConvPath::Regular, 9);
        check_conv(params([1, 5, 3, 21], [1, 5, 3, 5], [3, 3], 1, [1, 1], 1), ConvPath::Regular, 9);
        check_conv(params([1, 7, 9, 7], [1, 4, 5, 7], [5, 3], 2, [2, 1], 7), ConvPath::Depthwise, 10);
        check_conv(params([1, 7, 9, 6], [1, 4, 5, 6], [3, 3], 2, [1, 1], 6), ConvPath::Depthwise, 10);
        // Bottom / right padding only (implied by the output size), stride 3.
        check_conv(params([1, 8, 8, 5], [1, 3, 3, 6], [3, 3], 3, [0, 0], 1), ConvPath::Regular, 11);
        check_conv(params([1, 7, 7, 5], [1, 3, 3, 6], [3, 3], 3, [0, 0], 1), ConvPath::Regular, 11);
        // Windows wholly in the padding.
        check_conv(params([1, 2, 2, 4], [1, 4, 4, 3], [1, 1], 1, [1, 1], 1), ConvPath::Regular, 11);
        check_conv(params([1, 2, 2, 4], [1, 5, 5, 4], [1, 1], 1, [2, 2], 4), ConvPath::Depthwise, 12);
        // A kernel wider than the image.
        check_conv(params([1, 3, 2, 3], [1, 3, 2, 5], [5, 5], 1, [2, 2], 1), ConvPath::Regular, 13);
        // Dilation.
        let dilated = Conv2dParams { dilation: [2, 3], ..params([1, 9, 11, 6], [1, 5, 5, 6], [3, 3], 1, [0, 1], 6) };
        check_conv(dilated, ConvPath::Depthwise, 13);
        check_conv(Conv2dParams { groups: 1, ..dilated }, ConvPath::Regular, 14);
        // Depthwise multiplier 2 and grouped convolutions stay on the reference.
        check_conv(params([1, 5, 5, 3], [1, 5, 5, 6], [3, 3], 1, [1, 1], 3), ConvPath::Reference, 16);
        check_conv(params([1, 5, 5, 4], [1, 5, 5, 4], [3, 3], 1, [1, 1], 2), ConvPath::Reference, 17);
    }

    #[test]
    fn fully_connected_matches_the_reference() {
        for (seed, (rows, inputs, outputs)) in [(1, 640, 128), (1, 128, 8), (3, 10, 5), (2, 7, 1), (4, 64, 12), (5, 3, 7)].into_iter().enumerate() {
            let mut rng = Rng(seed as u64);
            let p = FcParams { rows, inputs, outputs };
            let x = random_i8(&mut rng, rows * inputs);
            let w = random_i8(&mut rng, outputs * inputs);
            let bias: Vec<i32> = (0..outputs).map(|_| rng.int(-50_000, 50_000) as i32).collect();
            let requant: Vec<Requant> = (0..outputs).map(|_| quantize_multiplier(libm::pow(10.0, -5.0 + 3.0 * rng.unit()))).collect();
            let (x_zp, out_zp) = (rng.int(-128, 127) as i32, rng.int(-128, 127) as i32);
            let act = rng.act_i8(out_zp);
            assert!(fc_is_fast(&p, x_zp, &requant));
            let (mut got, mut reference) = (std::vec![0i8; rows * outputs], std::vec![0i8; rows * outputs]);
            fully_connected_i8(&p, &x, x_zp, &w, Some(&bias), &requant, out_zp, &mut got, act);
            crate::kernels::fully_connected::fully_connected_i8(&p, &x, x_zp, &w, Some(&bias), &requant, out_zp, &mut reference, act);
            assert_eq!(got, reference, "{p:?}");
        }
    }

    /// The shared conformance suites, run on the host.
    #[test]
    fn conformance_suites() {
        use crate::conformance::{self, Cases};
        for seed in [1, 2, 3] {
            if let Err(m) = conformance::conv2d_i8(conv2d_i8, Cases::new(seed, 3000)) {
                panic!("{m}");
            }
            if let Err(m) = conformance::fully_connected_i8(fully_connected_i8, Cases::new(seed, 3000)) {
                panic!("{m}");
            }
        }
    }
}
