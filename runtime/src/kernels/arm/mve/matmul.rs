//! The Helium inner loops, as `global_asm!` leaf routines (Rust has no MVE intrinsics and no
//! q-register operands), and their portable twins for the host tests.
//!
//! - [`rows_s8x4`]: one int8 row `x` of `K` values against the int8 weight rows of output
//!   channels, four channels at a time. Per 16 values of `K`: one `VLDRB.U8` of `x`, and per
//!   channel one `VLDRB.U8` of its row and one `VMLADAVA.S8` (16 multiply-accumulates into a
//!   scalar accumulator), in a tail-predicated loop (`WLSTP.8` / `LETP`): any `K`, no padding,
//!   nothing read past a row. The four accumulators then go through the output stage as one
//!   vector (below), and a scatter store writes the four bytes.
//! - [`quads_s8`]: a 1×1 convolution whose rows are at most 16 values (the first layers of a
//!   MobileNet: `K` of 8 or 16, where [`rows_s8x4`]'s per-group set-up and output stage
//!   outweigh its four `VMLADAVA.S8`): four pixels' rows in q-registers, one channel per pass,
//!   the output stage on the channel's four values as one vector with scalar requant operands
//!   (the same arithmetic as below, lane for lane).
//! - [`starts`]: the accumulators' starts `bias - x_zero_point * sum(w)` of each weight row
//!   (`VADDVA.S8`, `MLS`): the input zero point folded in, so `x` stays int8.
//!
//! # Lanes
//! A call runs `groups` groups of four channels; lane `i` of every group is channel
//! `lanes[i]` of the group. Full groups have `lanes = [0, 1, 2, 3]`; the last, partial group of
//! `r < 4` channels repeats its last channel (`[0, 1, 1, 1]` for `r = 2`): the repeated lanes
//! compute the same byte and store it to the same address, and nothing past the last channel's
//! weights, requant entry or output is touched. The starts are contiguous, four per group, with
//! the same repetition (the caller lays them out so).
//!
//! # Output stage, four lanes at once, bit-exact with [`crate::kernels::output::requantize_i8`]
//! For multipliers `m >= 0` and shifts `-e` with `1 <= e <= 31` ([`rows_s8x4_any`] covers the
//! rest):
//! 1. `VQRDMULH.S32 x, acc, m` is `floor((2·acc·m + 2^31) / 2^32) = floor((acc·m + 2^30) / 2^31)`,
//!    gemmlowp's `SaturatingRoundingDoublingHighMul` for both signs (see the DSP stage's docs);
//!    it saturates only for `acc = m = i32::MIN`, impossible with `m >= 0`.
//! 2. Rounding division by `2^e`, half away from zero, is
//!    `floor((x - [x < 0] + 2^(e-1)) / 2^e)`: `VSHR.S32 #31` gives `-[x < 0]`, a `VADD` adds it
//!    (no overflow: `x > i32::MIN`), and `VRSHL.S32` by `-e` is the rounding shift.
//! 3. `|x| < 2^30` after the shift, so the zero point's add (`VADD.I32` by a scalar) cannot
//!    overflow, as the reference's saturating add does not saturate; then `VMAX.S32` by `lo` and
//!    `VMIN.S32` by `hi` are the reference's `max(lo)` then `min(hi)`.
//!
//! # Exactness of the sums
//! `VMLADAVA.S8` adds the 16 products to the 32-bit accumulator modulo `2^32`, as the reference's
//! wrapping `i32` sum; `start = bias - x_zero_point * sum(w)` (wrapping) is the zero point's
//! share, equal modulo `2^32`. Integer sums do not depend on their order.
//!
//! Lanes move between q and general registers one at a time (`VMOV.32`): the two-lane form's
//! operand order is read differently by the assembler and QEMU.

use crate::quant::Requant;

/// One call of [`rows_s8x4`]: `groups` groups of four output channels for the row `x`.
///
/// The routine advances `start`, `requant` (by four entries per group when `requant_step` is
/// 8) and `groups` (to 0); it leaves the other fields as they are.
#[derive(Debug)]
#[repr(C)]
pub struct RowsJob {
    /// The int8 row, `k` values.
    pub x: *const i8,
    /// `K` (at least 1).
    pub k: usize,
    /// The first group's first weight row; rows are `k` bytes apart.
    pub w: *const i8,
    pub groups: usize,
    /// Four accumulator starts per group (`bias - x_zero_point * sum(w)`), lane order.
    pub start: *const i32,
    /// The first group's first channel's requant entry.
    pub requant: *const Requant,
    /// 8 (per channel) or 0 (one entry for every channel).
    pub requant_step: usize,
    /// The output zero point.
    pub zero_point: i32,
    /// The first group's first output byte; a group's outputs are contiguous.
    pub dst: *mut i8,
    pub lo: i32,
    pub hi: i32,
    /// The channel (within its group) each lane computes.
    pub lanes: [u32; 4],
    /// Rows (at least 1): after a row's groups the routine runs the next row's, its `x`
    /// `x_step` bytes further and its outputs `dst_step` bytes further, from the `*_base`
    /// fields (which it advances; the caller sets them equal to the working fields above).
    /// The routine counts it down to 1 and reads the fields below only for more rows.
    pub pixels: usize,
    pub x_step: usize,
    pub w_base: *const i8,
    pub start_base: *const i32,
    pub requant_base: *const Requant,
    pub groups_base: usize,
    pub dst_base: *mut i8,
    pub dst_step: usize,
}

#[cfg(mote_arm_mve)]
core::arch::global_asm!(
    // Module-level assembly is also parsed for the base architecture (see `dsp_cpu!`).
    ".cpu cortex-m55",
    //
    // mote_mve_rows_s8x4(job: *mut RowsJob) and mote_mve_rows_s8x4_any(job: *mut RowsJob): one
    // body; `general` 1 adds the output stage for any shift (below).
    // r0 job, r1 x, r3/r7/r2/r5 weight rows of lanes 0-3, r4/r6/r8/r10 their accumulators,
    // r9 the group's weights, r11 dst, r12 and (outside the MAC loop) r2, r3, r5, r7 temporaries,
    // lr the loop count. q4 requant offsets, q5 lanes (store offsets), q6 row offsets; q3 lo and
    // q7 hi (general: q3 zero, q7 a temporary); q0-q2 temporaries.
    ".macro mote_mve_rows name, general",
    ".section .text.\\name,\"ax\",%progbits",
    ".global \\name",
    ".type \\name,%function",
    ".p2align 2",
    ".thumb_func",
    "\\name:",
    "push {{r4-r11, lr}}",
    "vpush {{d8-d15}}",
    "vldrw.u32 q5, [r0, #44]",
    "ldr r12, [r0, #24]",
    "vmul.i32 q4, q5, r12",
    "ldr r12, [r0, #4]",
    "vmul.i32 q6, q5, r12",
    ".if \\general",
    "vmov.i32 q3, #0",
    ".else",
    "ldr r12, [r0, #36]",
    "vdup.32 q3, r12",
    "ldr r12, [r0, #40]",
    "vdup.32 q7, r12",
    ".endif",
    "ldr r9, [r0, #8]",
    "ldr r11, [r0, #32]",
    "1:",
    "vadd.i32 q2, q6, r9",
    "vmov.32 r3, q2[0]",
    "vmov.32 r7, q2[1]",
    "vmov.32 r2, q2[2]",
    "vmov.32 r5, q2[3]",
    "ldr r12, [r0, #16]",
    "ldm r12!, {{r4, r6, r8, r10}}",
    "str r12, [r0, #16]",
    "ldrd r1, r12, [r0]",
    "wlstp.8 lr, r12, 3f",
    "2:",
    "vldrb.u8 q0, [r1], #16",
    "vldrb.u8 q1, [r3], #16",
    "vmladava.s8 r4, q0, q1",
    "vldrb.u8 q1, [r7], #16",
    "vmladava.s8 r6, q0, q1",
    "vldrb.u8 q1, [r2], #16",
    "vmladava.s8 r8, q0, q1",
    "vldrb.u8 q1, [r5], #16",
    "vmladava.s8 r10, q0, q1",
    "letp lr, 2b",
    "3:",
    "vmov.32 q0[0], r4",
    "vmov.32 q0[1], r6",
    "vmov.32 q0[2], r8",
    "vmov.32 q0[3], r10",
    "ldrd r2, r3, [r0, #20]",
    "vldrw.u32 q1, [r2, q4]",
    "adds r5, r2, #4",
    ".if \\general",
    // Shift s: x saturated left by max(s, 0), the high-mul, then the rounding right shift by
    // -min(s, 0) with its fixup only where that shift is not 0 (`x & min(s, 0)` keeps x's sign
    // bit exactly there).
    "vldrw.u32 q2, [r5, q4]",
    "vmax.s32 q7, q2, q3",
    "vqshl.s32 q0, q0, q7",
    "vqrdmulh.s32 q0, q0, q1",
    "vmin.s32 q2, q2, q3",
    "vand q1, q0, q2",
    "vshr.s32 q1, q1, #31",
    "vadd.i32 q0, q0, q1",
    "vrshl.s32 q0, q0, q2",
    ".else",
    "vqrdmulh.s32 q0, q0, q1",
    "vldrw.u32 q1, [r5, q4]",
    "vshr.s32 q2, q0, #31",
    "vadd.i32 q0, q0, q2",
    "vrshl.s32 q0, q0, q1",
    ".endif",
    "add.w r2, r2, r3, lsl #2",
    "str r2, [r0, #20]",
    "ldr r7, [r0, #28]",
    ".if \\general",
    // The zero point's add saturates, as the reference's (x may be near the int32 limits).
    "vqadd.s32 q0, q0, r7",
    "ldr r7, [r0, #36]",
    "vdup.32 q7, r7",
    "vmax.s32 q0, q0, q7",
    "ldr r7, [r0, #40]",
    "vdup.32 q7, r7",
    "vmin.s32 q0, q0, q7",
    ".else",
    "vadd.i32 q0, q0, r7",
    "vmax.s32 q0, q0, q3",
    "vmin.s32 q0, q0, q7",
    ".endif",
    "vstrb.32 q0, [r11, q5]",
    "adds r11, #4",
    "ldr r3, [r0, #4]",
    "add.w r9, r9, r3, lsl #2",
    "ldr r12, [r0, #12]",
    "subs r12, #1",
    "str r12, [r0, #12]",
    "bne 1b",
    // The next row: `x_step` further, the groups again.
    "ldr r12, [r0, #60]",
    "subs r12, #1",
    "beq 9f",
    "str r12, [r0, #60]",
    "ldr r1, [r0]",
    "ldr r2, [r0, #64]",
    "add r1, r2",
    "str r1, [r0]",
    "ldrd r11, r2, [r0, #84]",
    "add r11, r2",
    "str r11, [r0, #84]",
    "ldrd r9, r1, [r0, #68]",
    "str r1, [r0, #16]",
    "ldrd r1, r2, [r0, #76]",
    "str r1, [r0, #20]",
    "str r2, [r0, #12]",
    "b 1b",
    "9:",
    "vpop {{d8-d15}}",
    "pop {{r4-r11, pc}}",
    ".size \\name, . - \\name",
    ".endm",
    "mote_mve_rows mote_mve_rows_s8x4, 0",
    "mote_mve_rows mote_mve_rows_s8x4_any, 1",
    ".purgem mote_mve_rows",
    //
    // mote_mve_starts(job: *const StartsJob)
    // r1 the row being read, r2 k, r3 rows left, r4 starts, r5 bias, r6 bias step, r7 zero
    // point, r8 the sum, r9 the bias, r12 the row's start.
    ".section .text.mote_mve_starts,\"ax\",%progbits",
    ".global mote_mve_starts",
    ".type mote_mve_starts,%function",
    ".p2align 2",
    ".thumb_func",
    "mote_mve_starts:",
    "push {{r4-r9, lr}}",
    "ldm r0, {{r1-r7}}",
    "1:",
    "mov r12, r1",
    "movs r8, #0",
    "wlstp.8 lr, r2, 3f",
    "2:",
    "vldrb.u8 q0, [r1], #16",
    "vaddva.s8 r8, q0",
    "letp lr, 2b",
    "3:",
    "ldr r9, [r5]",
    "add r5, r6",
    "mls r9, r7, r8, r9",
    "str r9, [r4], #4",
    "add.w r1, r12, r2",
    "subs r3, #1",
    "bne 1b",
    "pop {{r4-r9, pc}}",
    ".size mote_mve_starts, . - mote_mve_starts",
    ".text",
);

#[cfg(mote_arm_mve)]
extern "C" {
    fn mote_mve_rows_s8x4(job: *mut RowsJob);
    fn mote_mve_rows_s8x4_any(job: *mut RowsJob);
    fn mote_mve_starts(job: *const StartsJob);
}

/// Runs a [`RowsJob`].
///
/// # Safety
/// `groups >= 1`, `k >= 1`; `x` holds `k` bytes; for every group `g` and lane `i`, weight row
/// `4g + lanes[i]` (`k` bytes from `w`) and requant entry `4g + lanes[i]` (when the step is 8)
/// exist, `start` holds `4 * groups` values, and output `dst + 4g + lanes[i]` is writable;
/// `requant` is 4-byte aligned; every lane's requant entry has `multiplier >= 0` and a shift in
/// `-31..=-1`.
#[cfg(mote_arm_mve)]
#[inline(always)]
pub unsafe fn rows_s8x4(job: &mut RowsJob) {
    // SAFETY: forwarded to the caller.
    unsafe { mote_mve_rows_s8x4(job) }
}

/// [`rows_s8x4`] with the output stage for any valid requant entry ([`Requant::is_valid`]:
/// `multiplier >= 0`, `shift` in `-31..=30`), the reference's
/// [`crate::quant::multiply_by_quantized_multiplier`]: `VQSHL.S32` by `max(shift, 0)` is its
/// saturating left shift, and the rounding right shift by `-min(shift, 0)` takes its fixup only
/// where that shift is not 0; the zero point is added saturating (`VQADD`). Six more instructions
/// per group than [`rows_s8x4`].
///
/// # Safety
/// As [`rows_s8x4`], with every lane's requant entry valid.
#[cfg(mote_arm_mve)]
#[inline(always)]
pub unsafe fn rows_s8x4_any(job: &mut RowsJob) {
    // SAFETY: forwarded to the caller.
    unsafe { mote_mve_rows_s8x4_any(job) }
}

/// The accumulator starts of `rows` weight rows of `k` values:
/// `starts[r] = bias[r] - x_zero_point * sum(w[r * k .. r * k + k])` (wrapping `i32`), `bias`
/// read `bias_step` bytes apart (0: one value for every row).
#[derive(Debug)]
#[repr(C)]
pub struct StartsJob {
    pub w: *const i8,
    pub k: usize,
    pub rows: usize,
    pub starts: *mut i32,
    pub bias: *const i32,
    pub bias_step: usize,
    pub x_zero_point: i32,
}

/// Runs a [`StartsJob`].
///
/// # Safety
/// `k >= 1`, `rows >= 1`; `w` holds `rows * k` bytes; `starts` is writable for `rows` values;
/// `bias` holds what its step reaches.
#[cfg(mote_arm_mve)]
#[inline(always)]
pub unsafe fn starts(job: &StartsJob) {
    // SAFETY: forwarded to the caller.
    unsafe { mote_mve_starts(job) }
}

/// One call of [`quads_s8`]: a 1×1 convolution's rows of at most 16 values (`K <= 16`), four
/// output pixels at a time, one output channel per pass. The four pixels' rows stay in
/// q-registers (loaded once per quad, lanes past `K` zero); per channel, one predicated load of
/// its weight row and four `VMLADAV.S8`, and the output stage runs on the four pixels' values
/// of the channel as one vector, with that channel's multiplier and shift as scalars, scattered
/// `pixel_step` bytes apart. The routine advances `x`, `dst` and `quads` (to 0).
#[derive(Debug)]
#[repr(C)]
pub struct QuadsJob {
    /// The quad's first pixel's row; the others `x_pixel` bytes apart.
    pub x: *const i8,
    /// `K`, `1..=16`.
    pub k: usize,
    /// Channel 0's weight row; rows are `k` bytes apart.
    pub w: *const i8,
    /// Output channels (at least 1).
    pub channels: usize,
    /// One start per channel (`bias - x_zero_point * sum(w)`).
    pub start: *const i32,
    pub requant: *const Requant,
    /// 8 (per channel) or 0 (one entry for every channel).
    pub requant_step: usize,
    pub zero_point: i32,
    pub lo: i32,
    pub hi: i32,
    /// The quad's first pixel's channel 0 output.
    pub dst: *mut i8,
    pub x_pixel: usize,
    /// Quads (at least 1): the next one `4 * x_pixel` input bytes and `4 * pixel_step` output
    /// bytes further.
    pub quads: usize,
    /// `[0, 1, 2, 3] * pixel_step`: the quad's outputs of a channel.
    pub offsets: [u32; 4],
}

#[cfg(mote_arm_mve)]
core::arch::global_asm!(
    ".cpu cortex-m55",
    //
    // mote_mve_quads_s8(job: *mut QuadsJob), mote_mve_quads_s8_any: the output stage for any
    // valid requant entry. r0 job, r1 temporary, r2 zero point, r3 requant step, r4/r6/r8/r10
    // the four pixels' sums (then multiplier, shift, temporaries), r5 the channel's weights,
    // r7 its start, r9 its requant entry, r11 its outputs, r12 K, lr channels left. P0 the
    // first K lanes; q0-q3 the pixels' rows, q4 weights, q5 the channel's four values, q6
    // output offsets, q7 temporary.
    ".macro mote_mve_quads name, general",
    ".section .text.\\name,\"ax\",%progbits",
    ".global \\name",
    ".type \\name,%function",
    ".p2align 2",
    ".thumb_func",
    "\\name:",
    "push {{r4-r11, lr}}",
    "vpush {{d8-d15}}",
    "ldr r12, [r0, #4]",
    "vctp.8 r12",
    "vldrw.u32 q6, [r0, #52]",
    "ldr r2, [r0, #28]",
    "ldr r3, [r0, #24]",
    "1:",
    "ldr r1, [r0]",
    "ldr r4, [r0, #44]",
    "adds r5, r1, r4",
    "adds r6, r5, r4",
    "adds r7, r6, r4",
    "vpstttt",
    "vldrbt.u8 q0, [r1]",
    "vldrbt.u8 q1, [r5]",
    "vldrbt.u8 q2, [r6]",
    "vldrbt.u8 q3, [r7]",
    "ldr r5, [r0, #8]",
    "ldr r7, [r0, #16]",
    "ldr r9, [r0, #20]",
    "ldr r11, [r0, #40]",
    "ldr r1, [r0, #12]",
    "dls lr, r1",
    "2:",
    "vpst",
    "vldrbt.u8 q4, [r5]",
    "add r5, r12",
    "vmladav.s8 r4, q0, q4",
    "vmladav.s8 r6, q1, q4",
    "vmladav.s8 r8, q2, q4",
    "vmladav.s8 r10, q3, q4",
    "vmov.32 q5[0], r4",
    "vmov.32 q5[1], r6",
    "vmov.32 q5[2], r8",
    "vmov.32 q5[3], r10",
    "ldr r1, [r7], #4",
    "vadd.i32 q5, q5, r1",
    "ldrd r4, r6, [r9]",
    "add r9, r3",
    ".if \\general",
    // Shift s: saturated left by max(s, 0), the high-mul, the rounding right shift by
    // -min(s, 0) with its fixup only where that shift is not 0.
    "bic.w r8, r6, r6, asr #31",
    "and.w r6, r6, r6, asr #31",
    "vqshl.s32 q5, r8",
    "vqrdmulh.s32 q5, q5, r4",
    "vdup.32 q7, r6",
    "vand q7, q5, q7",
    "vshr.s32 q7, q7, #31",
    "vadd.i32 q5, q5, q7",
    "vrshl.s32 q5, r6",
    "vqadd.s32 q5, q5, r2",
    ".else",
    "vqrdmulh.s32 q5, q5, r4",
    "vshr.s32 q7, q5, #31",
    "vadd.i32 q5, q5, q7",
    "vrshl.s32 q5, r6",
    "vadd.i32 q5, q5, r2",
    ".endif",
    "ldrd r4, r6, [r0, #32]",
    "vdup.32 q7, r4",
    "vmax.s32 q5, q5, q7",
    "vdup.32 q7, r6",
    "vmin.s32 q5, q5, q7",
    "vstrb.32 q5, [r11, q6]",
    "adds r11, #1",
    "le lr, 2b",
    // The next quad.
    "ldr r1, [r0]",
    "ldr r4, [r0, #44]",
    "add.w r1, r1, r4, lsl #2",
    "str r1, [r0]",
    "ldr r1, [r0, #40]",
    "ldr r4, [r0, #56]",
    "add.w r1, r1, r4, lsl #2",
    "str r1, [r0, #40]",
    "ldr r1, [r0, #48]",
    "subs r1, #1",
    "str r1, [r0, #48]",
    "bne 1b",
    "vpop {{d8-d15}}",
    "pop {{r4-r11, pc}}",
    ".size \\name, . - \\name",
    ".endm",
    "mote_mve_quads mote_mve_quads_s8, 0",
    "mote_mve_quads mote_mve_quads_s8_any, 1",
    ".purgem mote_mve_quads",
    ".text",
);

#[cfg(mote_arm_mve)]
extern "C" {
    fn mote_mve_quads_s8(job: *mut QuadsJob);
    fn mote_mve_quads_s8_any(job: *mut QuadsJob);
}

/// Runs a [`QuadsJob`], with the output stage of [`rows_s8x4_any`] where `general`, else that
/// of [`rows_s8x4`].
///
/// # Safety
/// `quads`, `channels` >= 1, `k` in `1..=16`; every quad's four rows of `k` bytes, every
/// channel's weight row, start and requant entry (4-byte aligned) exist, and every quad's
/// outputs are writable; unless `general`, every requant entry has `multiplier >= 0` and a shift
/// in `-31..=-1`.
#[cfg(mote_arm_mve)]
#[inline(always)]
pub unsafe fn quads_s8(job: &mut QuadsJob, general: bool) {
    // SAFETY: forwarded to the caller.
    unsafe {
        if general {
            mote_mve_quads_s8_any(job)
        } else {
            mote_mve_quads_s8(job)
        }
    }
}

/// Portable twins of the routines, lane for lane, for the host tests.
#[cfg(not(mote_arm_mve))]
mod portable {
    use super::RowsJob;

    /// `VQRDMULH.S32`.
    pub fn vqrdmulh(a: i32, b: i32) -> i32 {
        ((2 * a as i64 * b as i64 + (1 << 31)) >> 32).clamp(i32::MIN as i64, i32::MAX as i64) as i32
    }

    /// `VRSHL.S32` by a shift in `-32..=31` (negative: rounding shift right).
    pub fn vrshl(a: i32, shift: i32) -> i32 {
        if shift >= 0 {
            a.wrapping_shl(shift as u32)
        } else {
            ((a as i64 + (1i64 << (-shift - 1))) >> -shift) as i32
        }
    }

    /// The general output stage of `rows_s8x4_any` for one lane, before the zero point.
    pub fn stage_any(acc: i32, r: crate::quant::Requant) -> i32 {
        let x = ((acc as i64) << r.shift.max(0)).clamp(i32::MIN as i64, i32::MAX as i64) as i32;
        let x = vqrdmulh(x, r.multiplier);
        let right = r.shift.min(0);
        vrshl(x.wrapping_add(if right < 0 { x >> 31 } else { 0 }), right)
    }

    /// The output stage of `rows_s8x4` (shifts `<= -1`) for one lane, before the zero point.
    pub fn stage_fast(acc: i32, r: crate::quant::Requant) -> i32 {
        let x = vqrdmulh(acc, r.multiplier);
        vrshl(x.wrapping_add(x >> 31), r.shift)
    }

    /// # Safety
    /// As the Arm routine.
    pub unsafe fn rows_s8x4(job: &mut RowsJob) {
        // SAFETY: forwarded.
        unsafe { rows(job, stage_fast) }
    }

    /// # Safety
    /// As the Arm routine.
    pub unsafe fn rows_s8x4_any(job: &mut RowsJob) {
        // SAFETY: forwarded.
        unsafe { rows(job, stage_any) }
    }

    unsafe fn rows(job: &mut RowsJob, stage: fn(i32, crate::quant::Requant) -> i32) {
        // SAFETY: within the caller's ranges.
        unsafe {
            let mut w = job.w;
            let mut dst = job.dst;
            loop {
                while job.groups > 0 {
                    let mut v = [0i32; 4];
                    for (i, lane) in v.iter_mut().enumerate() {
                        let c = job.lanes[i] as usize;
                        let row = w.add(c * job.k);
                        let mut acc = *job.start.add(i);
                        for t in 0..job.k {
                            acc = acc.wrapping_add(*job.x.add(t) as i32 * *row.add(t) as i32);
                        }
                        let r = *(job.requant as *const u8).add(c * job.requant_step).cast::<crate::quant::Requant>();
                        *lane = stage(acc, r).saturating_add(job.zero_point).max(job.lo).min(job.hi);
                    }
                    for (i, &lane) in v.iter().enumerate() {
                        *dst.add(job.lanes[i] as usize) = lane as i8;
                    }
                    job.start = job.start.add(4);
                    job.requant = (job.requant as *const u8).add(4 * job.requant_step).cast();
                    w = w.add(4 * job.k);
                    dst = dst.add(4);
                    job.groups -= 1;
                }
                if job.pixels == 1 {
                    return;
                }
                job.pixels -= 1;
                job.x = job.x.add(job.x_step);
                job.dst_base = job.dst_base.add(job.dst_step);
                (w, dst, job.start, job.requant, job.groups) = (job.w_base, job.dst_base, job.start_base, job.requant_base, job.groups_base);
            }
        }
    }

    /// # Safety
    /// As the Arm routine.
    pub unsafe fn quads_s8(job: &mut super::QuadsJob, general: bool) {
        let stage = if general { stage_any } else { stage_fast };
        // SAFETY: within the caller's ranges.
        unsafe {
            while job.quads > 0 {
                for o in 0..job.channels {
                    let row = job.w.add(o * job.k);
                    let r = *(job.requant as *const u8).add(o * job.requant_step).cast::<crate::quant::Requant>();
                    for (q, &offset) in job.offsets.iter().enumerate() {
                        let x = job.x.add(q * job.x_pixel);
                        let mut acc = *job.start.add(o);
                        for t in 0..job.k {
                            acc = acc.wrapping_add(*x.add(t) as i32 * *row.add(t) as i32);
                        }
                        *job.dst.add(offset as usize + o) = stage(acc, r).saturating_add(job.zero_point).max(job.lo).min(job.hi) as i8;
                    }
                }
                job.x = job.x.add(4 * job.x_pixel);
                job.dst = job.dst.add(4 * job.offsets[1] as usize);
                job.quads -= 1;
            }
        }
    }

    /// # Safety
    /// As the Arm routine.
    pub unsafe fn starts(job: &super::StartsJob) {
        // SAFETY: within the caller's ranges.
        unsafe {
            for r in 0..job.rows {
                let mut s = 0i32;
                for t in 0..job.k {
                    s = s.wrapping_add(*job.w.add(r * job.k + t) as i32);
                }
                let b = *(job.bias as *const u8).add(r * job.bias_step).cast::<i32>();
                *job.starts.add(r) = b.wrapping_sub(job.x_zero_point.wrapping_mul(s));
            }
        }
    }
}

#[cfg(not(mote_arm_mve))]
pub use portable::*;
