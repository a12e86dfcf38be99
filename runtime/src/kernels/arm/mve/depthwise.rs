//! Depthwise int8 convolution with channel multiplier 1 (`groups == c == oc`), vectorised
//! across channels: NHWC keeps a pixel's channels contiguous, so eight channels of one tap are
//! one `VLDRB.S16`, and the weights, transposed once per call into blocks of eight channels in
//! `[tap][channel]` order (a tap's load then steps to the next by its own write-back), one
//! more. `VMULLB.S16` / `VMULLT.S16` multiply the even and the odd channels into 32-bit lanes,
//! added to two accumulator vectors: channels `0, 2, 4, 6` and `1, 3, 5, 7` of the group.
//!
//! An output pixel with a tap in the padding ([`DwJob`]) subtracts the input zero point from
//! the widened inputs (`VSUB.I16`; `x - x_zero_point` is in `-255..=255`), as the reference
//! does, so a tap in the padding contributes nothing and is skipped: each such pixel runs the
//! rectangle of its taps that lie in the image, from the bias. The inner pixels (every tap in
//! the image) run after them from `bias - x_zero_point * sum(w)`, the zero point's products
//! folded into the start, so their taps multiply the inputs as they are; for a kernel three
//! taps wide ([`DwPairJob`]) two output pixels at a time, each tap's weight vector serving
//! both, the output stage's requant vectors too, and the eight bytes of a pixel narrowed and
//! stored by one `VSTRB.16`.
//!
//! Channels go in chunks whose transposed weights and starts fit in the scratch, and in groups
//! of eight; a last partial group is the chunk's last eight channels (the channels it shares
//! with the group before are computed twice, to the same bytes), so at least eight channels are
//! needed. One call runs a run of output pixels of a row whose taps are the same rectangle
//! (every inner pixel of a row: `DwJob::pixels`, `DwPairJob::pairs`), and rows of three taps are
//! unrolled, so the set-up and the loop control are paid per run and per kernel row rather than
//! per tap.

use core::mem::size_of;

use super::super::{Scratch, SCRATCH_BYTES};
use crate::kernels::conv::Conv2dParams;
use crate::quant::{Requant, RequantTable};

/// Channels per chunk for `p`: a multiple of 8, at most `c` rounded up, or 0 when not even
/// eight fit.
fn chunk_channels(p: &Conv2dParams) -> usize {
    let taps = p.kernel[0] * p.kernel[1];
    let fit = SCRATCH_BYTES / (taps + 4) / 8 * 8;
    fit.min(p.input[3].next_multiple_of(8))
}

/// Bytes of scratch [`depthwise_conv2d_s8`] takes for `p`: one chunk's starts and transposed
/// weights (0 where it does not compute `p`).
pub fn scratch_bytes(p: &Conv2dParams) -> usize {
    if !supports(p) {
        return 0;
    }
    let chunk = chunk_channels(p);
    (4 * chunk + p.kernel[0] * p.kernel[1] * chunk).next_multiple_of(4)
}

/// Whether [`depthwise_conv2d_s8`] computes `p`: depthwise with multiplier 1, at least eight
/// channels, a non-empty output, and a chunk of eight channels' weights and starts in the
/// scratch.
pub fn supports(p: &Conv2dParams) -> bool {
    let [_, _, _, c] = p.input;
    let [_, oh, ow, oc] = p.output;
    c >= 8 && p.groups == c && oc == c && oh > 0 && ow > 0 && p.kernel[0] * p.kernel[1] > 0 && chunk_channels(p) >= 8
}

/// One output pixel's channel groups: for each of `groups` groups of eight channels,
/// `out[j] = stage(start[j] + sum over the taps of (x[tap][j] - x_zero_point) * w[tap][j])`, the taps being
/// `rows` kernel rows of `cols` taps from `x` (input bytes `x_col` apart in a row, `x_row`
/// between rows) and `w` (weight bytes 8 apart in a row, `w_row` between rows); then
/// `x`, `dst` advance by 8 channels, `w` by `w_group` bytes (the next block), `start` by 8
/// values, `requant` by 8 entries when `requant_step` is 8. The routine advances those and `groups` (to 0).
#[derive(Debug)]
#[repr(C)]
pub struct DwJob {
    pub x: *const i8,
    pub w: *const i8,
    pub rows: usize,
    pub cols: usize,
    pub x_col: usize,
    pub x_row: usize,
    /// Bytes from one group's weight block to the next.
    pub w_group: usize,
    pub w_row: usize,
    pub groups: usize,
    pub start: *const i32,
    pub requant: *const Requant,
    /// 8 (per channel) or 0 (one entry for every channel).
    pub requant_step: usize,
    pub zero_point: i32,
    pub lo: i32,
    pub hi: i32,
    pub dst: *mut i8,
    pub x_zero_point: i32,
    /// Output pixels (at least 1) with the same taps: after a pixel's groups the routine runs
    /// the next one's, its input `x_step` bytes further and its output `dst_step` bytes
    /// further, from the `*_base` fields (which it advances; the caller sets them equal to
    /// the working fields above).
    pub pixels: usize,
    pub x_step: usize,
    pub x_base: *const i8,
    pub w_base: *const i8,
    pub groups_base: usize,
    pub start_base: *const i32,
    pub requant_base: *const Requant,
    pub dst_base: *mut i8,
    pub dst_step: usize,
}

#[cfg(mote_arm_mve)]
core::arch::global_asm!(
    ".cpu cortex-m55",
    //
    // mote_mve_dw_s8x8(job: *mut DwJob)
    // r0 job, r1 x of the row (rows of 3 taps: the step from a row's last tap to the next row's
    // first), r2 w of the row (likewise), r3 x of the tap, r4 w of the tap, r5 rows left, r6
    // x_col, r7 w_group, r8 x_row, r9 w_row, r10 cols, r11/r12 temporaries (r12 the input zero
    // point during the taps), lr taps left in the row. q0/q1 even/odd accumulators, q2 inputs,
    // q3 weights, q4 products and temporaries, q5 the starts' offsets, q6 the requant entries'
    // offsets, q7 the lane offsets [0, 2, 4, 6].
    // mote_mve_dw_s8x8_any: the same body with the output stage for any valid requant entry.
    ".macro mote_mve_dw name, general",
    ".section .text.\\name,\"ax\",%progbits",
    ".global \\name",
    ".type \\name,%function",
    ".p2align 2",
    ".thumb_func",
    "\\name:",
    "push {{r4-r11, lr}}",
    "vpush {{d8-d15}}",
    "movs r12, #0",
    "vidup.u32 q7, r12, #2",
    "ldrd r6, r8, [r0, #16]",
    "ldrd r7, r9, [r0, #24]",
    "ldr r10, [r0, #12]",
    "vshl.i32 q5, q7, #2",
    "ldr r11, [r0, #44]",
    "vmul.i32 q6, q7, r11",
    "1:",
    // Starts: channel j's at start + 4j.
    "ldr r11, [r0, #36]",
    "vldrw.u32 q0, [r11, q5]",
    "adds r11, #4",
    "vldrw.u32 q1, [r11, q5]",
    "adds r11, #28",
    "str r11, [r0, #36]",
    "ldr r5, [r0, #8]",
    "ldr r12, [r0, #64]",
    "cmp r10, #3",
    "beq 5f",
    "ldrd r1, r2, [r0]",
    "2:",
    "mov r3, r1",
    "mov r4, r2",
    "dls lr, r10",
    "3:",
    "vldrb.s16 q2, [r3]",
    "vsub.i16 q2, q2, r12",
    "vldrb.s16 q3, [r4], #8",
    "vmullb.s16 q4, q2, q3",
    "vadd.i32 q0, q0, q4",
    "vmullt.s16 q4, q2, q3",
    "vadd.i32 q1, q1, q4",
    "add r3, r6",
    "le lr, 3b",
    "add r1, r8",
    "add r2, r9",
    "subs r5, #1",
    "bne 2b",
    "b 6f",
    // Rows of three taps, unrolled.
    "5:",
    "ldrd r3, r4, [r0]",
    "sub.w r1, r8, r6, lsl #1",
    "sub.w r2, r9, #24",
    "4:",
    "vldrb.s16 q2, [r3]",
    "vsub.i16 q2, q2, r12",
    "vldrb.s16 q3, [r4], #8",
    "vmullb.s16 q4, q2, q3",
    "vadd.i32 q0, q0, q4",
    "vmullt.s16 q4, q2, q3",
    "vadd.i32 q1, q1, q4",
    "add r3, r6",
    "vldrb.s16 q2, [r3]",
    "vsub.i16 q2, q2, r12",
    "vldrb.s16 q3, [r4], #8",
    "vmullb.s16 q4, q2, q3",
    "vadd.i32 q0, q0, q4",
    "vmullt.s16 q4, q2, q3",
    "vadd.i32 q1, q1, q4",
    "add r3, r6",
    "vldrb.s16 q2, [r3]",
    "vsub.i16 q2, q2, r12",
    "vldrb.s16 q3, [r4], #8",
    "vmullb.s16 q4, q2, q3",
    "vadd.i32 q0, q0, q4",
    "vmullt.s16 q4, q2, q3",
    "vadd.i32 q1, q1, q4",
    "add r3, r1",
    "add r4, r2",
    "subs r5, #1",
    "bne 4b",
    "6:",
    // Output stage (see `matmul`), even lanes then odd: requant entry of channel j at
    // requant + j * requant_step.
    "ldrd r11, r12, [r0, #40]",
    ".if \\general",
    // As `rows_s8x4_any`'s stage (see `matmul`), q3 zero.
    "vmov.i32 q3, #0",
    "adds r1, r11, #4",
    "vldrw.u32 q4, [r1, q6]",
    "vmax.s32 q2, q4, q3",
    "vqshl.s32 q0, q0, q2",
    "vldrw.u32 q2, [r11, q6]",
    "vqrdmulh.s32 q0, q0, q2",
    "vmin.s32 q4, q4, q3",
    "vand q2, q0, q4",
    "vshr.s32 q2, q2, #31",
    "vadd.i32 q0, q0, q2",
    "vrshl.s32 q0, q0, q4",
    "add r1, r11, r12",
    "adds r1, #4",
    "vldrw.u32 q4, [r1, q6]",
    "vmax.s32 q2, q4, q3",
    "vqshl.s32 q1, q1, q2",
    "subs r1, #4",
    "vldrw.u32 q2, [r1, q6]",
    "vqrdmulh.s32 q1, q1, q2",
    "vmin.s32 q4, q4, q3",
    "vand q2, q1, q4",
    "vshr.s32 q2, q2, #31",
    "vadd.i32 q1, q1, q2",
    "vrshl.s32 q1, q1, q4",
    ".else",
    "vldrw.u32 q4, [r11, q6]",
    "vqrdmulh.s32 q0, q0, q4",
    "adds r1, r11, #4",
    "vldrw.u32 q4, [r1, q6]",
    "vshr.s32 q2, q0, #31",
    "vadd.i32 q0, q0, q2",
    "vrshl.s32 q0, q0, q4",
    "add r1, r11, r12",
    "vldrw.u32 q4, [r1, q6]",
    "vqrdmulh.s32 q1, q1, q4",
    "adds r1, #4",
    "vldrw.u32 q4, [r1, q6]",
    "vshr.s32 q2, q1, #31",
    "vadd.i32 q1, q1, q2",
    "vrshl.s32 q1, q1, q4",
    ".endif",
    "add.w r11, r11, r12, lsl #3",
    "str r11, [r0, #40]",
    "ldrd r11, r12, [r0, #48]",
    ".if \\general",
    // The zero point's add saturates, as the reference's.
    "vqadd.s32 q0, q0, r11",
    "vqadd.s32 q1, q1, r11",
    ".else",
    "vadd.i32 q0, q0, r11",
    "vadd.i32 q1, q1, r11",
    ".endif",
    "vdup.32 q4, r12",
    "vmax.s32 q0, q0, q4",
    "vmax.s32 q1, q1, q4",
    "ldr r12, [r0, #56]",
    "vdup.32 q4, r12",
    "vmin.s32 q0, q0, q4",
    "vmin.s32 q1, q1, q4",
    "ldr r11, [r0, #60]",
    "vstrb.32 q0, [r11, q7]",
    "adds r12, r11, #1",
    "vstrb.32 q1, [r12, q7]",
    "adds r11, #8",
    "str r11, [r0, #60]",
    "ldrd r1, r2, [r0]",
    "adds r1, #8",
    "add r2, r7",
    "strd r1, r2, [r0]",
    "ldr r11, [r0, #32]",
    "subs r11, #1",
    "str r11, [r0, #32]",
    "bne 1b",
    // The next pixel: the same taps `x_step` further, the groups again.
    "ldr r11, [r0, #68]",
    "subs r11, #1",
    "beq 9f",
    "str r11, [r0, #68]",
    "ldrd r1, r2, [r0, #72]",
    "add r1, r2",
    "str r1, [r0, #76]",
    "ldr r2, [r0, #80]",
    "strd r1, r2, [r0]",
    "ldrd r1, r2, [r0, #84]",
    "strd r1, r2, [r0, #32]",
    "ldr r1, [r0, #92]",
    "str r1, [r0, #40]",
    "ldrd r1, r2, [r0, #96]",
    "add r1, r2",
    "str r1, [r0, #96]",
    "str r1, [r0, #60]",
    "b 1b",
    "9:",
    "vpop {{d8-d15}}",
    "pop {{r4-r11, pc}}",
    ".size \\name, . - \\name",
    ".endm",
    "mote_mve_dw mote_mve_dw_s8x8, 0",
    "mote_mve_dw mote_mve_dw_s8x8_any, 1",
    ".purgem mote_mve_dw",
    ".text",
);

#[cfg(mote_arm_mve)]
extern "C" {
    fn mote_mve_dw_s8x8(job: *mut DwJob);
    fn mote_mve_dw_s8x8_any(job: *mut DwJob);
}

/// Runs a [`DwJob`], with the output stage of [`super::matmul::rows_s8x4_any`] where `general`
/// (any valid requant entry: scales of 0.5 and more, as MobileNet's depthwise layers have),
/// else that of [`super::matmul::rows_s8x4`].
///
/// # Safety
/// `groups`, `rows`, `cols` >= 1; every tap's eight input and weight bytes of every group are
/// readable; the starts, requant entries (4-byte aligned) and outputs of every group exist;
/// every channel's requant entry is valid and, unless `general`, has `multiplier >= 0` and a
/// shift in `-31..=-1`.
#[cfg(mote_arm_mve)]
#[inline(always)]
unsafe fn dw_s8x8(job: &mut DwJob, general: bool) {
    // SAFETY: forwarded to the caller.
    unsafe {
        if general {
            mote_mve_dw_s8x8_any(job)
        } else {
            mote_mve_dw_s8x8(job)
        }
    }
}

/// Portable twin of the Arm routine, lane for lane, for the host tests.
///
/// # Safety
/// As the Arm routine.
#[cfg(not(mote_arm_mve))]
unsafe fn dw_s8x8(job: &mut DwJob, general: bool) {
    use super::matmul::{stage_any, stage_fast};
    // SAFETY: within the caller's ranges.
    unsafe {
        loop {
            while job.groups > 0 {
                for j in 0..8 {
                    let mut acc = *job.start.add(j);
                    for r in 0..job.rows {
                        for t in 0..job.cols {
                            let xv = *job.x.add(r * job.x_row + t * job.x_col + j) as i32 - job.x_zero_point;
                            let wv = *job.w.add(r * job.w_row + t * 8 + j) as i32;
                            acc = acc.wrapping_add(xv * wv);
                        }
                    }
                    let rq = *(job.requant as *const u8).add(j * job.requant_step).cast::<Requant>();
                    let v = if general { stage_any(acc, rq) } else { stage_fast(acc, rq) };
                    *job.dst.add(j) = v.saturating_add(job.zero_point).max(job.lo).min(job.hi) as i8;
                }
                job.x = job.x.add(8);
                job.w = job.w.add(job.w_group);
                job.dst = job.dst.add(8);
                job.start = job.start.add(8);
                job.requant = (job.requant as *const u8).add(8 * job.requant_step).cast();
                job.groups -= 1;
            }
            if job.pixels == 1 {
                return;
            }
            job.pixels -= 1;
            job.x_base = job.x_base.add(job.x_step);
            job.dst_base = job.dst_base.add(job.dst_step);
            (job.x, job.w, job.groups, job.start, job.requant, job.dst) = (job.x_base, job.w_base, job.groups_base, job.start_base, job.requant_base, job.dst_base);
        }
    }
}

/// Pairs of output pixels of a row whose every tap is in the image, for a kernel three taps
/// wide: for each of `groups` groups of eight channels and each of `pairs` pairs,
/// `out[j] = stage(start[j] + sum over the taps of x[tap][j] * w[tap][j])` for pixel A (taps
/// from `x`: `rows` kernel rows `x_row` bytes apart, three taps `x_col` apart) and pixel B
/// (the same `x_pixel` bytes further, its outputs `dst_pixel` bytes after A's); weights from
/// `w`, the group's `rows * 3` taps of eight, one tap's weights serving both pixels. The next
/// pair is `2 * x_pixel` input bytes and `2 * dst_pixel` output bytes further. After a group,
/// `x` and `dst` advance by 8, `w` by `w_group`, `start` by 8 values and `requant` by 8 entries
/// when `requant_step` is 8 (the routine advances those and `groups`, to 0). The zero point's
/// products are in the starts (`bias - x_zero_point * sum(w)`).
#[derive(Debug)]
#[repr(C)]
pub struct DwPairJob {
    pub x: *const i8,
    pub w: *const i8,
    pub rows: usize,
    pub x_col: usize,
    pub x_row: usize,
    pub x_pixel: usize,
    pub pairs: usize,
    pub groups: usize,
    pub start: *const i32,
    pub requant: *const Requant,
    /// 8 (per channel) or 0 (one entry for every channel).
    pub requant_step: usize,
    pub zero_point: i32,
    pub lo: i32,
    pub hi: i32,
    pub dst: *mut i8,
    pub dst_pixel: usize,
    pub w_group: usize,
    /// Byte offsets of channels 0, 2, 4, 6's requant entries: `[0, 2, 4, 6] * requant_step`.
    pub offsets: [i32; 4],
}

#[cfg(mote_arm_mve)]
core::arch::global_asm!(
    ".cpu cortex-m55",
    //
    // mote_mve_dw3_pairs(job: *mut DwPairJob)
    // r0 job, r1/r2 pixel A's/B's tap, r3 w of the tap, r4 x_col, r5 the step from a row's
    // third tap to the next row's first, r6 x_pixel, r7 A's output (a low register, as the
    // narrowing store needs), r8 pixel A's first tap, r9 pairs left, r10-r12 temporaries, lr
    // rows left. q0/q1 A's even/odd accumulators (channels 0, 2, 4, 6 and 1, 3, 5, 7), q2/q3
    // B's, q4 weights, q5/q6 A's/B's inputs, q7 products; in the output stage q4-q6 requant
    // vectors and temporaries, q7 the entries' offsets.
    // mote_mve_dw3_pairs_any: the output stage for any valid requant entry.
    ".macro mote_mve_dw3_tap step",
    "vldrb.s16 q4, [r3], #8",
    "vldrb.s16 q5, [r1]",
    "vldrb.s16 q6, [r2]",
    "vmullb.s16 q7, q5, q4",
    "vadd.i32 q0, q0, q7",
    "vmullt.s16 q7, q5, q4",
    "vadd.i32 q1, q1, q7",
    "vmullb.s16 q7, q6, q4",
    "vadd.i32 q2, q2, q7",
    "vmullt.s16 q7, q6, q4",
    "vadd.i32 q3, q3, q7",
    "add r1, \\step",
    "add r2, \\step",
    ".endm",
    // Requantizes accumulators \a (pixel A) and \b (pixel B) with the entries at r12 + q7
    // (multipliers) and r12 + 4 + q7 (shifts); q6 zero in the general stage.
    ".macro mote_mve_dw3_stage a, b, general",
    "adds r11, r12, #4",
    ".if \\general",
    "vldrw.u32 q4, [r11, q7]",
    "vmax.s32 q5, q4, q6",
    "vmin.s32 q4, q4, q6",
    "vqshl.s32 \\a, \\a, q5",
    "vqshl.s32 \\b, \\b, q5",
    "vldrw.u32 q5, [r12, q7]",
    "vqrdmulh.s32 \\a, \\a, q5",
    "vqrdmulh.s32 \\b, \\b, q5",
    "vand q5, \\a, q4",
    "vshr.s32 q5, q5, #31",
    "vadd.i32 \\a, \\a, q5",
    "vand q5, \\b, q4",
    "vshr.s32 q5, q5, #31",
    "vadd.i32 \\b, \\b, q5",
    ".else",
    "vldrw.u32 q5, [r12, q7]",
    "vldrw.u32 q4, [r11, q7]",
    "vqrdmulh.s32 \\a, \\a, q5",
    "vqrdmulh.s32 \\b, \\b, q5",
    "vshr.s32 q5, \\a, #31",
    "vadd.i32 \\a, \\a, q5",
    "vshr.s32 q5, \\b, #31",
    "vadd.i32 \\b, \\b, q5",
    ".endif",
    "vrshl.s32 \\a, \\a, q4",
    "vrshl.s32 \\b, \\b, q4",
    ".endm",
    ".macro mote_mve_dw3 name, general",
    ".section .text.\\name,\"ax\",%progbits",
    ".global \\name",
    ".type \\name,%function",
    ".p2align 2",
    ".thumb_func",
    "\\name:",
    "push {{r4-r11, lr}}",
    "vpush {{d8-d15}}",
    "ldrd r4, r5, [r0, #12]",
    "sub.w r5, r5, r4, lsl #1",
    "ldr r6, [r0, #20]",
    "1:",
    "ldr r9, [r0, #24]",
    "ldr r8, [r0, #0]",
    "ldr r7, [r0, #56]",
    "2:",
    "ldr r12, [r0, #32]",
    "vld20.32 {{q0, q1}}, [r12]",
    "vld21.32 {{q0, q1}}, [r12]",
    "vmov q2, q0",
    "vmov q3, q1",
    "mov r1, r8",
    "add.w r2, r8, r6",
    "ldr r3, [r0, #4]",
    "ldr r10, [r0, #8]",
    "dls lr, r10",
    "3:",
    "mote_mve_dw3_tap r4",
    "mote_mve_dw3_tap r4",
    "mote_mve_dw3_tap r5",
    "le lr, 3b",
    "ldr r12, [r0, #36]",
    "vldrw.u32 q7, [r0, #68]",
    ".if \\general",
    "vmov.i32 q6, #0",
    ".endif",
    "mote_mve_dw3_stage q0, q2, \\general",
    "ldr r11, [r0, #40]",
    "add r12, r11",
    "mote_mve_dw3_stage q1, q3, \\general",
    "ldrd r11, r12, [r0, #44]",
    ".if \\general",
    // The zero point's add saturates, as the reference's.
    "vqadd.s32 q0, q0, r11",
    "vqadd.s32 q1, q1, r11",
    "vqadd.s32 q2, q2, r11",
    "vqadd.s32 q3, q3, r11",
    ".else",
    "vadd.i32 q0, q0, r11",
    "vadd.i32 q1, q1, r11",
    "vadd.i32 q2, q2, r11",
    "vadd.i32 q3, q3, r11",
    ".endif",
    "vdup.32 q4, r12",
    "vmax.s32 q0, q0, q4",
    "vmax.s32 q1, q1, q4",
    "vmax.s32 q2, q2, q4",
    "vmax.s32 q3, q3, q4",
    "ldr r12, [r0, #52]",
    "vdup.32 q4, r12",
    "vmin.s32 q0, q0, q4",
    "vmin.s32 q1, q1, q4",
    "vmin.s32 q2, q2, q4",
    "vmin.s32 q3, q3, q4",
    // Even and odd channels interleaved as 16-bit lanes, stored as eight bytes.
    "vmovnt.i32 q0, q1",
    "vstrb.16 q0, [r7]",
    "ldr r12, [r0, #60]",
    "vmovnt.i32 q2, q3",
    "add.w r1, r7, r12",
    "vstrb.16 q2, [r1]",
    "add.w r7, r7, r12, lsl #1",
    "add.w r8, r8, r6, lsl #1",
    "subs r9, #1",
    "bne 2b",
    // The next group.
    "ldrd r1, r2, [r0]",
    "adds r1, #8",
    "ldr r3, [r0, #64]",
    "add r2, r3",
    "strd r1, r2, [r0]",
    "ldr r1, [r0, #32]",
    "adds r1, #32",
    "str r1, [r0, #32]",
    "ldrd r1, r2, [r0, #36]",
    "add.w r1, r1, r2, lsl #3",
    "str r1, [r0, #36]",
    "ldr r1, [r0, #56]",
    "adds r1, #8",
    "str r1, [r0, #56]",
    "ldr r1, [r0, #28]",
    "subs r1, #1",
    "str r1, [r0, #28]",
    "bne 1b",
    "vpop {{d8-d15}}",
    "pop {{r4-r11, pc}}",
    ".size \\name, . - \\name",
    ".endm",
    "mote_mve_dw3 mote_mve_dw3_pairs, 0",
    "mote_mve_dw3 mote_mve_dw3_pairs_any, 1",
    ".purgem mote_mve_dw3",
    ".purgem mote_mve_dw3_stage",
    ".purgem mote_mve_dw3_tap",
    ".text",
);

#[cfg(mote_arm_mve)]
extern "C" {
    fn mote_mve_dw3_pairs(job: *mut DwPairJob);
    fn mote_mve_dw3_pairs_any(job: *mut DwPairJob);
}

/// Runs a [`DwPairJob`], with the output stage of [`super::matmul::rows_s8x4_any`] where
/// `general`, else that of [`super::matmul::rows_s8x4`] (as [`dw_s8x8`]).
///
/// # Safety
/// `groups`, `pairs`, `rows` >= 1; every tap's eight input and weight bytes of every group and
/// pixel are readable; the starts, requant entries (4-byte aligned) and outputs of every group
/// exist; the requant entries are as [`dw_s8x8`] requires.
#[cfg(mote_arm_mve)]
#[inline(always)]
unsafe fn dw3_pairs(job: &mut DwPairJob, general: bool) {
    // SAFETY: forwarded to the caller.
    unsafe {
        if general {
            mote_mve_dw3_pairs_any(job)
        } else {
            mote_mve_dw3_pairs(job)
        }
    }
}

/// Portable twin of the Arm routine, lane for lane, for the host tests.
///
/// # Safety
/// As the Arm routine.
#[cfg(not(mote_arm_mve))]
unsafe fn dw3_pairs(job: &mut DwPairJob, general: bool) {
    use super::matmul::{stage_any, stage_fast};
    // SAFETY: within the caller's ranges.
    unsafe {
        while job.groups > 0 {
            let (mut x, mut dst) = (job.x, job.dst);
            for _ in 0..job.pairs {
                for (px, d) in [(x, dst), (x.add(job.x_pixel), dst.add(job.dst_pixel))] {
                    for j in 0..8 {
                        let mut acc = *job.start.add(j);
                        for r in 0..job.rows {
                            for t in 0..3 {
                                let xv = *px.add(r * job.x_row + t * job.x_col + j) as i32;
                                acc = acc.wrapping_add(xv * *job.w.add((r * 3 + t) * 8 + j) as i32);
                            }
                        }
                        let rq = *(job.requant as *const u8).add(j * job.requant_step).cast::<Requant>();
                        let v = if general { stage_any(acc, rq) } else { stage_fast(acc, rq) };
                        *d.add(j) = v.saturating_add(job.zero_point).max(job.lo).min(job.hi) as i8;
                    }
                }
                x = x.add(2 * job.x_pixel);
                dst = dst.add(2 * job.dst_pixel);
            }
            job.x = job.x.add(8);
            job.w = job.w.add(job.w_group);
            job.dst = job.dst.add(8);
            job.start = job.start.add(8);
            job.requant = (job.requant as *const u8).add(8 * job.requant_step).cast();
            job.groups -= 1;
        }
    }
}

/// Depthwise convolution, the arithmetic of [`crate::kernels::conv::conv2d_i8`].
///
/// Per chunk of channels: first the output pixels with a tap in the padding, through
/// [`DwJob`] with the bias as start and the zero point subtracted per tap; then the inner
/// pixels (every tap in the image), with `bias - x_zero_point * sum(w)` as start, through
/// [`DwPairJob`] for kernels three taps wide (an odd last pixel of a row through [`DwJob`]),
/// else [`DwJob`], in both cases with no zero point to subtract.
///
/// # Safety
/// [`supports`] holds, `requant` has one entry or `c`, each valid ([`Requant::is_valid`]),
/// `out_zero_point` is in the int8 range,
/// `x_zero_point` is in `-128..=127`, and the slices have the lengths `conv2d_i8` documents.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub unsafe fn depthwise_conv2d_s8(
    p: &Conv2dParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    table: RequantTable<'_>,
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
    scratch: &mut Scratch,
) {
    let [n, h, wd, c] = p.input;
    let [_, oh, ow, _] = p.output;
    let [kh, kw] = p.kernel;
    let [sh, sw] = p.stride;
    let [dh, dw] = p.dilation;
    let taps = kh * kw;
    let chunk = chunk_channels(p);
    let starts = scratch.words() as *mut i32;
    // SAFETY: the transposed weights follow the starts in the scratch (`chunk_channels`).
    let wt = unsafe { starts.add(chunk) } as *mut i8;
    let requant = table.entries();
    let requant_step = if requant.len() == 1 { 0 } else { size_of::<Requant>() };
    let general = !super::fast_stage(table, c, out_zero_point);
    let (inner_y, inner_x) = (inner(p.pad[0], sh, dh, kh, h, oh), inner(p.pad[1], sw, dw, kw, wd, ow));
    let dst_at = |b: usize, oy: usize, ox: usize| ((b * oh + oy) * ow + ox) * c;
    let out = out.as_mut_ptr();
    let mut c0 = 0;
    while c0 < c {
        if c - c0 < 8 {
            // A last chunk of fewer than eight channels: the last eight instead (the channels it
            // shares with the chunk before are computed twice, to the same bytes).
            c0 = c - 8;
        }
        let cn = chunk.min(c - c0);
        // SAFETY: `cn` channels' starts and `taps * cn` weights fit; `w` holds `c` kernels.
        unsafe {
            for j in 0..cn {
                *starts.add(j) = bias.map_or(0, |b| b[c0 + j]);
            }
            // Blocks of eight channels, the last one the chunk's last eight.
            for g in 0..cn.div_ceil(8) {
                let first = (8 * g).min(cn - 8);
                for j in 0..8 {
                    let kernel = w.as_ptr().add((c0 + first + j) * taps);
                    for t in 0..taps {
                        *wt.add((g * taps + t) * 8 + j) = *kernel.add(t);
                    }
                }
            }
        }
        let (whole, last) = (cn / 8, cn % 8 != 0);
        let requant_first = requant[if requant_step == 0 { 0 } else { c0 }..].as_ptr();
        // A run of `pixels` output pixels of row `oy` from `ox` whose taps are kernel rows
        // `ky0..ky1` and columns `kx0..kx1`, every group of the chunk, through `DwJob`.
        let runs = |b: usize, oy: usize, ox: usize, pixels: usize, [ky0, ky1]: [usize; 2], [kx0, kx1]: [usize; 2], x_zero_point: i32| {
            let iy = oy * sh + ky0 * dh - p.pad[0];
            let ix = ox * sw + kx0 * dw - p.pad[1];
            // SAFETY: every tap run of every pixel of the run lies in the image
            // (`ky0..ky1`, `kx0..kx1`), its eight channels inside the chunk; the
            // weights, starts and outputs exist.
            unsafe {
                let x_first = x.as_ptr().add(((b * h + iy) * wd + ix) * c + c0);
                let w_first = wt.add((ky0 * kw + kx0) * 8);
                let dst = out.add(dst_at(b, oy, ox) + c0);
                let mut job = DwJob {
                    x: x_first,
                    w: w_first,
                    rows: ky1 - ky0,
                    cols: kx1 - kx0,
                    x_col: dw * c,
                    x_row: dh * wd * c,
                    w_group: taps * 8,
                    w_row: kw * 8,
                    groups: whole,
                    start: starts,
                    requant: requant_first,
                    requant_step,
                    zero_point: out_zero_point,
                    lo: act.0 as i32,
                    hi: act.1 as i32,
                    dst,
                    x_zero_point,
                    pixels,
                    x_step: sw * c,
                    x_base: x_first,
                    w_base: w_first,
                    groups_base: whole,
                    start_base: starts,
                    requant_base: requant_first,
                    dst_base: dst,
                    dst_step: c,
                };
                if whole > 0 {
                    dw_s8x8(&mut job, general);
                }
                if last {
                    let back = cn - 8;
                    job.x = x_first.add(back);
                    job.w = w_first.add(whole * taps * 8);
                    job.dst = dst.add(back);
                    job.start = starts.add(back);
                    job.requant = requant_first.add(if requant_step == 0 { 0 } else { back });
                    job.groups = 1;
                    job.pixels = pixels;
                    (job.x_base, job.w_base, job.groups_base, job.start_base, job.requant_base, job.dst_base) =
                        (job.x, job.w, 1, job.start, job.requant, job.dst);
                    dw_s8x8(&mut job, general);
                }
            }
        };
        // The pixels with a tap in the padding, from the bias, in runs with the same taps.
        for b in 0..n {
            for oy in 0..oh {
                let y0 = (oy * sh) as isize - p.pad[0] as isize;
                let ky = [first_tap(y0, dh), end_tap(y0, dh, h, kh)];
                let taps_x = |ox: usize| {
                    let x0 = (ox * sw) as isize - p.pad[1] as isize;
                    [first_tap(x0, dw), end_tap(x0, dw, wd, kw)]
                };
                let spans = if inner_y.contains(&oy) { [0..inner_x.start, inner_x.end..ow] } else { [0..ow, ow..ow] };
                for span in spans {
                    let mut ox = span.start;
                    while ox < span.end {
                        let kx = taps_x(ox);
                        let mut end = ox + 1;
                        while end < span.end && taps_x(end) == kx {
                            end += 1;
                        }
                        if ky[0] >= ky[1] || kx[0] >= kx[1] {
                            // No tap in the image: the starts alone, through the reference's stage.
                            for q in ox..end {
                                for j in 0..cn {
                                    // SAFETY: `cn` starts were written above.
                                    let acc = unsafe { *starts.add(j) };
                                    let rq = requant[if requant_step == 0 { 0 } else { c0 + j }];
                                    // SAFETY: output `j` of the chunk at pixel `q`.
                                    unsafe { *out.add(dst_at(b, oy, q) + c0 + j) = crate::kernels::output::requantize_i8(acc, rq, out_zero_point, act) };
                                }
                            }
                        } else {
                            runs(b, oy, ox, end - ox, ky, kx, x_zero_point);
                        }
                        ox = end;
                    }
                }
            }
        }
        if inner_y.is_empty() || inner_x.is_empty() {
            c0 += cn;
            continue;
        }
        if inner_x.len() < 2 {
            // No pairs to gain from folding: the inner pixels as the border ones.
            for b in 0..n {
                for oy in inner_y.clone() {
                    runs(b, oy, inner_x.start, 1, [0, kh], [0, kw], x_zero_point);
                }
            }
            c0 += cn;
            continue;
        }
        // The inner pixels: the zero point's products folded into the starts.
        static NO_BIAS: i32 = 0;
        let job = super::matmul::StartsJob {
            w: w[c0 * taps..].as_ptr(),
            k: taps,
            rows: cn,
            starts,
            bias: bias.map_or(&NO_BIAS as *const i32, |b| b[c0..].as_ptr()),
            bias_step: if bias.is_some() { 4 } else { 0 },
            x_zero_point,
        };
        // SAFETY: `w` holds the chunk's `cn` kernels of `taps`; `cn` starts fit.
        unsafe { super::matmul::starts(&job) };
        let pixels = inner_x.len();
        for b in 0..n {
            for oy in inner_y.clone() {
                if kw != 3 {
                    runs(b, oy, inner_x.start, pixels, [0, kh], [0, kw], 0);
                    continue;
                }
                let iy = oy * sh - p.pad[0];
                let ix = inner_x.start * sw - p.pad[1];
                // SAFETY: every tap of every inner pixel lies in the image, its eight channels
                // inside the chunk; the weights, starts and outputs exist.
                unsafe {
                    let x_first = x.as_ptr().add(((b * h + iy) * wd + ix) * c + c0);
                    let dst = out.add(dst_at(b, oy, inner_x.start) + c0);
                    let step = requant_step as i32;
                    let pair = |group: usize, groups: usize| {
                        let back = (8 * group).min(cn - 8);
                        DwPairJob {
                            x: x_first.add(back),
                            w: wt.add(group * taps * 8),
                            rows: kh,
                            x_col: dw * c,
                            x_row: dh * wd * c,
                            x_pixel: sw * c,
                            pairs: pixels / 2,
                            groups,
                            start: starts.add(back),
                            requant: requant_first.add(if requant_step == 0 { 0 } else { back }),
                            requant_step,
                            zero_point: out_zero_point,
                            lo: act.0 as i32,
                            hi: act.1 as i32,
                            dst: dst.add(back),
                            dst_pixel: c,
                            w_group: taps * 8,
                            offsets: [0, 2 * step, 4 * step, 6 * step],
                        }
                    };
                    for (group, groups) in [(0, whole), (whole, last as usize)] {
                        if groups > 0 && pixels >= 2 {
                            dw3_pairs(&mut pair(group, groups), general);
                        }
                    }
                }
                if pixels % 2 == 1 {
                    // The odd last pixel alone (a pair would compute it twice).
                    runs(b, oy, inner_x.end - 1, 1, [0, kh], [0, kw], 0);
                }
            }
        }
        c0 += cn;
    }
}

/// The output coordinates along one axis whose every tap is in the image.
pub(crate) fn inner(pad: usize, stride: usize, dilation: usize, taps: usize, size: usize, out: usize) -> core::ops::Range<usize> {
    let span = (taps - 1) * dilation;
    let lo = pad.div_ceil(stride);
    let hi = if size > span { ((size - 1 - span + pad) / stride + 1).min(out) } else { 0 };
    lo..hi.max(lo)
}

/// The first kernel tap `k` (taps `d` apart from `origin`) whose coordinate is `>= 0`.
fn first_tap(origin: isize, d: usize) -> usize {
    if origin >= 0 {
        0
    } else {
        ((-origin) as usize).div_ceil(d)
    }
}

/// One past the last of `taps` kernel taps whose coordinate is `< size`.
fn end_tap(origin: isize, d: usize, size: usize, taps: usize) -> usize {
    let room = size as isize - origin;
    if room <= 0 {
        0
    } else {
        (room as usize).div_ceil(d).min(taps)
    }
}
