//! Depthwise int8 convolution with channel multiplier 1 (`groups == c == oc`), vectorised
//! across channels: NHWC keeps a pixel's channels contiguous, so eight channels of one tap are
//! one `VLDRB.S16`, and the weights, transposed once per call into blocks of eight channels in
//! `[tap][channel]` order (a tap's load then steps to the next by its own write-back), one
//! more. `VMULLB.S16` / `VMULLT.S16` multiply the even and the odd channels into 32-bit lanes,
//! added to two accumulator vectors: channels `0, 2, 4, 6` and `1, 3, 5, 7` of the group.
//!
//! The input zero point is subtracted from the widened inputs (`VSUB.I16`; `x - x_zero_point`
//! is in `-255..=255`), as the reference does, so a tap in the padding contributes nothing and
//! is skipped: each output pixel runs the rectangle of its taps that lie in the image, from the
//! bias. (Folding the zero point into the start, as the matmul does, would need a per-pixel
//! correction for the skipped taps.) Channels go in chunks whose transposed weights and starts fit in
//! the scratch, and in groups of eight; a last partial group is the chunk's last eight channels
//! (the channels it shares with the group before are computed twice, to the same bytes), so at
//! least eight channels are needed.
//!
//! One call runs a run of output pixels of a row whose taps are the same rectangle (every
//! pixel away from the borders: `DwJob::pixels`), and rows of three taps are unrolled, so the
//! set-up and the loop control are paid per run and per kernel row rather than per tap.

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

/// Depthwise convolution, the arithmetic of [`crate::kernels::conv::conv2d_i8`].
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
        for b in 0..n {
            for oy in 0..oh {
                let y0 = (oy * sh) as isize - p.pad[0] as isize;
                // Kernel rows `ky0 .. ky1` are in the image.
                let ky0 = first_tap(y0, dh);
                let ky1 = end_tap(y0, dh, h, kh);
                let taps_x = |ox: usize| {
                    let x0 = (ox * sw) as isize - p.pad[1] as isize;
                    (x0, first_tap(x0, dw), end_tap(x0, dw, wd, kw))
                };
                let mut ox = 0;
                while ox < ow {
                    // A run of output pixels with the same taps: one call.
                    let (x0, kx0, kx1) = taps_x(ox);
                    let mut end = ox + 1;
                    while end < ow && taps_x(end).1 == kx0 && taps_x(end).2 == kx1 {
                        end += 1;
                    }
                    let pixels = end - ox;
                    let dst = out[((b * oh + oy) * ow + ox) * c + c0..].as_mut_ptr();
                    if ky0 >= ky1 || kx0 >= kx1 {
                        // No tap in the image: the starts alone, through the reference's stage.
                        for q in 0..pixels {
                            for j in 0..cn {
                                // SAFETY: `cn` starts were written above.
                                let acc = unsafe { *starts.add(j) };
                                let rq = requant[if requant_step == 0 { 0 } else { c0 + j }];
                                // SAFETY: output `j` of the run's pixel `q`'s chunk.
                                unsafe { *dst.add(q * c + j) = crate::kernels::output::requantize_i8(acc, rq, out_zero_point, act) };
                            }
                        }
                        ox = end;
                        continue;
                    }
                    let iy = (y0 + (ky0 * dh) as isize) as usize;
                    let ix = (x0 + (kx0 * dw) as isize) as usize;
                    // SAFETY: every tap run of every pixel of the run lies in the image
                    // (`ky0..ky1`, `kx0..kx1`), its eight channels inside the chunk; the
                    // weights, starts and outputs exist.
                    unsafe {
                        let x_first = x.as_ptr().add(((b * h + iy) * wd + ix) * c + c0);
                        let w_first = wt.add((ky0 * kw + kx0) * 8);
                        let requant_first = requant.as_ptr().add(if requant_step == 0 { 0 } else { c0 });
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
                            job.requant = requant.as_ptr().add(if requant_step == 0 { 0 } else { c0 + back });
                            job.groups = 1;
                            job.pixels = pixels;
                            (job.x_base, job.w_base, job.groups_base, job.start_base, job.requant_base, job.dst_base) =
                                (job.x, job.w, 1, job.start, job.requant, job.dst);
                            dw_s8x8(&mut job, general);
                        }
                    }
                    ox = end;
                }
            }
        }
        c0 += cn;
    }
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
