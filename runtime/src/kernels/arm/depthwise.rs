//! Depthwise int8 convolution with channel multiplier 1 (`groups == c == oc`).
//!
//! NHWC keeps a channel's values `c` bytes apart, but `SMLAD` wants two taps of one channel in
//! one word. So four channels at a time are first copied into four *planes*: each channel's
//! padded image widened to int16, the padding holding the input zero point. Two horizontally
//! adjacent taps are then one (unaligned) word load, multiplied with a word holding the two
//! weights. The zero point is folded into the accumulator's start, `bias - x_zero_point *
//! sum(w)`: padded taps then contribute nothing, as in the reference. A plane holds a band of
//! input rows: as many output rows as the scratch allows, the whole image for the small images of
//! keyword spotting.
//!
//! A 3×3 kernel without dilation runs in [`Dw3x3Job`]'s routine, four outputs of a row at a
//! time when the stride is 1. A tall narrow image (keyword spotting's 25×5) is walked along its
//! columns instead: the planes, the kernel and the output strides are transposed.

use super::dsp::{fill_words, smlabb, smlad};
use super::requant::OutputStage;
use super::Scratch;
use crate::kernels::conv::Conv2dParams;

/// Weight pairs a kernel may need: `kh * ceil(kw / 2)`.
const MAX_PAIRS: usize = 32;

/// Band geometry: padded width and input rows per band of `rows` output rows.
struct Planes {
    width: usize,
    rows: usize,
}

impl Planes {
    fn input_rows(p: &Conv2dParams, out_rows: usize) -> usize {
        (out_rows - 1) * p.stride[0] + (p.kernel[0] - 1) * p.dilation[0] + 1
    }

    /// The band of the most output rows whose four planes fit in the scratch.
    fn new(p: &Conv2dParams) -> Option<Planes> {
        let ow = p.output[2];
        let width = (ow - 1) * p.stride[1] + (p.kernel[1] - 1) * p.dilation[1] + 1;
        let fits = |rows: usize| 2 * Planes::input_rows(p, rows) * width <= Scratch::WORDS;
        let rows = (1..=p.output[1]).take_while(|&r| fits(r)).last()?;
        Some(Planes { width, rows })
    }
}

/// Whether [`depthwise_conv2d_s8`] computes `p`: depthwise with multiplier 1, a kernel of at
/// most [`MAX_PAIRS`] weight pairs, and one output row's planes inside the scratch.
pub fn supports(p: &Conv2dParams) -> bool {
    let [_, _, _, c] = p.input;
    let [_, oh, ow, oc] = p.output;
    let [kh, kw] = p.kernel;
    c > 0 && p.groups == c && oc == c && oh > 0 && ow > 0 && kh * kw.div_ceil(2) <= MAX_PAIRS && Planes::new(p).is_some()
}

/// Words of scratch [`depthwise_conv2d_s8`] takes for `p`: four planes of its band, for the
/// larger of the row-wise and the transposed walk (the kernel picks one by cost).
pub fn scratch_words(p: &Conv2dParams) -> usize {
    let words = |q: &Conv2dParams| Planes::new(q).map_or(0, |b| 2 * Planes::input_rows(q, b.rows) * b.width);
    words(p).max(transposed(p).map_or(0, |t| words(&t)))
}

/// Depthwise convolution, the arithmetic of [`crate::kernels::conv::conv2d_i8`].
///
/// # Safety
/// [`supports`] holds, `stage` was made for `c` channels, `x_zero_point` is in `-128..=127`,
/// and the slices have the lengths `conv2d_i8` documents.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub unsafe fn depthwise_conv2d_s8(
    p: &Conv2dParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    stage: &OutputStage<'_>,
    out: &mut [i8],
    scratch: &mut Scratch,
) {
    let [n, h, wd, c] = p.input;
    let [_, oh, ow, _] = p.output;
    let three = p.kernel == [3, 3] && p.dilation == [1, 1];
    let (q, strides, swapped) = match transposed(p) {
        Some(t) if three && p.stride == [1, 1] && quad_cost(oh, ow) > quad_cost(ow, oh) => (t, Strides { x: [c, wd * c], out: [c, ow * c] }, true),
        _ => (*p, Strides { x: [wd * c, c], out: [ow * c, c] }, false),
    };
    let [kh, kw] = q.kernel;
    let [_, qoh, qow, _] = q.output;
    let Some(planes) = Planes::new(&q) else { return };
    let base = scratch.words() as *mut i16;
    let quads = if three && q.stride[1] == 1 { qow / 4 } else { 0 };
    let mut job = Dw3x3Job {
        w: [0; 6],
        start: 0,
        m2: 0,
        em1: 0,
        zp_round: stage.zp_round(),
        lo: stage.lo(),
        hi: stage.hi(),
        width: 2 * planes.width,
        src: base,
        row_step: 2 * q.stride[0] * planes.width,
        dst: out.as_mut_ptr(),
        dst_step: strides.out[1],
        quads,
        singles: qow - 4 * quads,
        rows: 0,
        single_step: 2 * q.stride[1],
        clamp: stage.clamps(),
        dst_row_step: strides.out[0],
    };
    for b in 0..n {
        let mut oy0 = 0;
        while oy0 < qoh {
            let out_rows = planes.rows.min(qoh - oy0);
            let rows = Planes::input_rows(&q, out_rows);
            let plane_len = rows * planes.width;
            // SAFETY: four planes fit in the scratch (`Planes::new`). The padding keeps the zero
            // point: every channel block of the band writes the same in-image cells.
            unsafe { fill_words(base as *mut u8, super::conv::zero_point_pair(x_zero_point), 2 * plane_len) };
            for c0 in (0..c).step_by(4) {
                let nc = (c - c0).min(4);
                // SAFETY: four planes of `plane_len` halfwords fit (`Planes::new`); the pixels
                // read are in-image.
                unsafe { fill_planes(&q, x.as_ptr().add(b * h * wd * c + c0), &strides, [oy0 * q.stride[0], nc], &planes, rows, base) };
                for j in 0..nc {
                    let ch = c0 + j;
                    // SAFETY: `w` holds `c` kernels of `kh * kw`; plane `j` lies in the scratch;
                    // the band's outputs of channel `ch` lie in `out`.
                    unsafe {
                        let kernel = w.as_ptr().add(ch * kh * kw);
                        // Tap `(ky, kx)` of `q`'s kernel.
                        let tap = |ky: usize, kx: usize| *kernel.add(if swapped { kx * kh + ky } else { ky * kw + kx });
                        let mut sum = 0i32;
                        for t in 0..kh * kw {
                            sum += *kernel.add(t) as i32;
                        }
                        let start = bias.map_or(0, |b| b[ch]).wrapping_sub(x_zero_point * sum);
                        let scale = stage.channel(ch);
                        let plane = base.add(j * plane_len);
                        let dst = out.as_mut_ptr().add(b * oh * ow * c + oy0 * strides.out[0] + ch);
                        if three {
                            for ky in 0..3 {
                                job.w[2 * ky] = tap(ky, 0) as u16 as u32 | (tap(ky, 1) as u16 as u32) << 16;
                                job.w[2 * ky + 1] = tap(ky, 2) as u16 as u32;
                            }
                            (job.start, job.m2, job.em1) = (start, scale.m2, scale.em1);
                            (job.src, job.dst, job.rows) = (plane, dst, out_rows);
                            dw3x3(&mut job);
                        } else {
                            let mut pairs = [0u32; MAX_PAIRS];
                            let row_pairs = kw.div_ceil(2);
                            for ky in 0..kh {
                                for r in 0..row_pairs {
                                    let lo = tap(ky, 2 * r) as u16 as u32;
                                    let hi = if 2 * r + 1 < kw { tap(ky, 2 * r + 1) as u16 as u32 } else { 0 };
                                    pairs[ky * row_pairs + r] = lo | hi << 16;
                                }
                            }
                            channel_band(&q, plane, planes.width, out_rows, &pairs, start, stage, scale, dst);
                        }
                    }
                }
            }
            oy0 += out_rows;
        }
    }
}

/// `p` with its two spatial axes swapped, when its whole image fits the planes at once (the
/// routines walk rows; a tall narrow image is walked faster along its columns).
fn transposed(p: &Conv2dParams) -> Option<Conv2dParams> {
    let swap = |[a, b]: [usize; 2]| [b, a];
    let [n, h, w, c] = p.input;
    let [_, oh, ow, oc] = p.output;
    let t = Conv2dParams {
        input: [n, w, h, c],
        output: [n, ow, oh, oc],
        kernel: swap(p.kernel),
        stride: swap(p.stride),
        dilation: swap(p.dilation),
        // Bottom/right padding is implied by the output size: only top/left swap.
        pad: swap(p.pad),
        groups: p.groups,
    };
    Planes::new(&t).filter(|planes| planes.rows >= ow).map(|_| t)
}

/// Roughly the instructions of [`dw3x3`] on `rows` rows of `len` outputs (four at a time, then
/// one at a time).
fn quad_cost(rows: usize, len: usize) -> usize {
    rows * (92 * (len / 4) + 36 * (len % 4) + 10)
}

/// Byte strides of the input and output rows and columns, `[row, column]`, as the planes walk
/// them (swapped for a transposed walk).
struct Strides {
    x: [usize; 2],
    out: [usize; 2],
}

/// Writes the in-image cells of rows `y0 ..` (padded coordinates, `rows` of them) of `nc`
/// channels, from `x` (the image's first pixel, channel `c0`), into their planes; the padding
/// cells are left as they are.
///
/// # Safety
/// `base` is writable for four planes of `rows * planes.width` halfwords; `x` is the image.
unsafe fn fill_planes(p: &Conv2dParams, x: *const i8, strides: &Strides, [y0, nc]: [usize; 2], planes: &Planes, rows: usize, base: *mut i16) {
    let [_, h, wd, _] = p.input;
    let width = planes.width;
    let plane_len = rows * width;
    let left = p.pad[1];
    let (first, last) = (left.min(width), (left + wd).min(width));
    if first >= last {
        return;
    }
    // The band's rows `r_first .. r_last` are in the image.
    let top = p.pad[0] as isize - y0 as isize;
    let r_first = top.clamp(0, rows as isize) as usize;
    let r_last = (top + h as isize).clamp(r_first as isize, rows as isize) as usize;
    if r_first == r_last {
        return;
    }
    let [row_stride, col_stride] = strides.x;
    // SAFETY: plane rows and in-image pixels, as the caller promises.
    unsafe {
        let src = x.add((y0 + r_first - p.pad[0]) * row_stride + (first - left) * col_stride);
        let dst = base.add(r_first * width + first);
        if nc == 4 {
            let mut job = FillJob { src, src_step: col_stride, dst, plane: 2 * plane_len, count: last - first, rows: r_last - r_first, src_row: row_stride, dst_row: 2 * width };
            fill4(&mut job);
            return;
        }
        for r in 0..r_last - r_first {
            for col in 0..last - first {
                for j in 0..nc {
                    *dst.add(r * width + j * plane_len + col) = *src.add(r * row_stride + col * col_stride + j) as i16;
                }
            }
        }
    }
}

/// Four channels of `rows` rows of `count` pixels (`src_step` bytes apart, rows `src_row`
/// apart), widened into four planes (`plane` bytes apart) from `dst` on (rows `dst_row` apart).
#[derive(Debug)]
#[repr(C)]
struct FillJob {
    src: *const i8,
    src_step: usize,
    dst: *mut i16,
    plane: usize,
    count: usize,
    rows: usize,
    src_row: usize,
    dst_row: usize,
}

/// One channel's outputs for a band of `out_rows` rows from its plane.
///
/// # Safety
/// `plane` holds the band's rows of `width` halfwords; `dst` is the band's first output of this
/// channel, with `c` bytes between pixels.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn channel_band(
    p: &Conv2dParams,
    plane: *const i16,
    width: usize,
    out_rows: usize,
    pairs: &[u32; MAX_PAIRS],
    start: i32,
    stage: &OutputStage<'_>,
    scale: super::requant::ChannelScale,
    dst: *mut i8,
) {
    let [_, _, ow, c] = p.output;
    let [kh, kw] = p.kernel;
    let [sh, sw] = p.stride;
    let [dh, dw] = p.dilation;
    let row_pairs = kw.div_ceil(2);
    let mut d = dst;
    // SAFETY: every tap lies in the band (the planes cover the windows); outputs as promised.
    unsafe {
        for ry in 0..out_rows {
            let top = plane.add(ry * sh * width);
            for ox in 0..ow {
                let mut acc = start;
                let corner = top.add(ox * sw);
                for ky in 0..kh {
                    let tap = corner.add(ky * dh * width);
                    let wk = &pairs[ky * row_pairs..];
                    if dw == 1 {
                        for (q, &pair) in wk[..kw / 2].iter().enumerate() {
                            acc = smlad(core::ptr::read_unaligned(tap.add(2 * q) as *const u32), pair, acc);
                        }
                        if kw % 2 == 1 {
                            acc = smlabb(*tap.add(kw - 1) as u32, wk[kw / 2], acc);
                        }
                    } else {
                        for kx in 0..kw {
                            let wv = if kx % 2 == 0 { wk[kx / 2] } else { wk[kx / 2] >> 16 };
                            acc = smlabb(*tap.add(kx * dw) as u32, wv, acc);
                        }
                    }
                }
                *d = stage.clamp1(stage.requantize(scale, acc));
                d = d.add(c);
            }
        }
    }
}

/// One channel's 3×3 (no dilation) outputs for a band of `rows` output rows: for each row, from
/// `src` (its window's top-left cell, `width` bytes per plane row), `quads` steps of four outputs
/// (stride 1: loads `[x0, x1]` … `[x4, x5]` per kernel row serve all four), then `singles` of
/// one (`single_step` bytes apart), written from `dst` on, `dst_step` bytes apart; then
/// `src += row_step`, `dst += dst_row_step`. The routine advances `src`, `dst` and `rows`.
#[derive(Debug)]
#[repr(C)]
pub struct Dw3x3Job {
    /// Per kernel row `[w0 | w1 << 16, w2]`.
    pub w: [u32; 6],
    pub start: i32,
    pub m2: i32,
    pub em1: u32,
    pub zp_round: i32,
    pub lo: u32,
    pub hi: u32,
    pub width: usize,
    pub src: *const i16,
    pub row_step: usize,
    pub dst: *mut i8,
    pub dst_step: usize,
    pub quads: usize,
    pub singles: usize,
    pub rows: usize,
    pub single_step: usize,
    /// 0 when `lo`, `hi` are the whole int8 range: the clamp is skipped.
    pub clamp: u32,
    /// Bytes from one row's first output to the next row's.
    pub dst_row_step: usize,
}

#[cfg(mote_arm_dsp)]
core::arch::global_asm!(
    dsp_cpu!(),
    // mote_dsp_dw3x3(job: *mut Dw3x3Job)
    // r0 job, r1 src, r2 dst, r3 width, r4-r7 accumulators, r8 taps, r9/r10 weights (then
    // constants), r11 kernel row, r12 count, lr dst_step.
    ".section .text.mote_dsp_dw3x3,\"ax\",%progbits",
    ".global mote_dsp_dw3x3",
    ".type mote_dsp_dw3x3,%function",
    ".p2align 2",
    ".thumb_func",
    "mote_dsp_dw3x3:",
    "push {{r4-r11, lr}}",
    ".macro mote_dw_requant acc",
    "smmlar r8, \\acc, r9, \\acc",
    "add.w r8, r8, r8, asr #31",
    "asr r8, r8, r10",
    "qadd r8, r8, r11",
    "ssat \\acc, #8, r8, asr #1",
    ".endm",
    ".macro mote_dw_clamp",
    "ldr r8, [r0, #84]",
    "cmp r8, #0",
    "beq 9f",
    "ldrd r9, r10, [r0, #40]",
    "ssub8 r8, r4, r9",
    "sel r4, r4, r9",
    "ssub8 r8, r10, r4",
    "sel r4, r4, r10",
    "9:",
    ".endm",
    ".macro mote_dw_quad_row rp",
    "ldr r8, [\\rp]",
    "smlad r4, r8, r9, r4",
    "ldr r8, [\\rp, #2]",
    "smlad r5, r8, r9, r5",
    "ldr r8, [\\rp, #4]",
    "smlabb r4, r8, r10, r4",
    "smlatb r5, r8, r10, r5",
    "smlad r6, r8, r9, r6",
    "ldr r8, [\\rp, #6]",
    "smlad r7, r8, r9, r7",
    "ldr r8, [\\rp, #8]",
    "smlabb r6, r8, r10, r6",
    "smlatb r7, r8, r10, r7",
    ".endm",
    ".macro mote_dw_single_row rp",
    "ldr r8, [\\rp]",
    "smlad r4, r8, r9, r4",
    "ldrsh r8, [\\rp, #4]",
    "smlabb r4, r8, r10, r4",
    ".endm",
    "ldr r3, [r0, #48]",
    "ldr lr, [r0, #64]",
    "1:",
    "ldr r2, [r0, #60]",
    "ldr r1, [r0, #52]",
    "ldr r12, [r0, #68]",
    "cmp r12, #0",
    "beq 3f",
    "2:",
    "ldr r4, [r0, #24]",
    "mov r5, r4",
    "mov r6, r4",
    "mov r7, r4",
    "ldrd r9, r10, [r0]",
    "mote_dw_quad_row r1",
    "add r11, r1, r3",
    "ldrd r9, r10, [r0, #8]",
    "mote_dw_quad_row r11",
    "add r11, r3",
    "ldrd r9, r10, [r0, #16]",
    "mote_dw_quad_row r11",
    "adds r1, #8",
    "ldrd r9, r10, [r0, #28]",
    "ldr r11, [r0, #36]",
    "mote_dw_requant r4",
    "mote_dw_requant r5",
    "mote_dw_requant r6",
    "mote_dw_requant r7",
    "bfi r4, r5, #8, #8",
    "bfi r4, r6, #16, #8",
    "bfi r4, r7, #24, #8",
    "mote_dw_clamp",
    ".rept 3",
    "strb r4, [r2]",
    "add r2, lr",
    "lsrs r4, r4, #8",
    ".endr",
    "strb r4, [r2]",
    "add r2, lr",
    "subs r12, #1",
    "bne 2b",
    "3:",
    "ldr r12, [r0, #72]",
    "cmp r12, #0",
    "beq 5f",
    "4:",
    "ldr r4, [r0, #24]",
    "ldrd r9, r10, [r0]",
    "mote_dw_single_row r1",
    "add r11, r1, r3",
    "ldrd r9, r10, [r0, #8]",
    "mote_dw_single_row r11",
    "add r11, r3",
    "ldrd r9, r10, [r0, #16]",
    "mote_dw_single_row r11",
    "ldr r8, [r0, #80]",
    "add r1, r8",
    "ldrd r9, r10, [r0, #28]",
    "ldr r11, [r0, #36]",
    "mote_dw_requant r4",
    "mote_dw_clamp",
    "strb r4, [r2]",
    "add r2, lr",
    "subs r12, #1",
    "bne 4b",
    "5:",
    "ldrd r1, r8, [r0, #52]",
    "add r1, r8",
    "str r1, [r0, #52]",
    "ldr r2, [r0, #60]",
    "ldr r8, [r0, #88]",
    "add r2, r8",
    "str r2, [r0, #60]",
    "ldr r8, [r0, #76]",
    "subs r8, #1",
    "str r8, [r0, #76]",
    "bne 1b",
    ".purgem mote_dw_requant",
    ".purgem mote_dw_clamp",
    ".purgem mote_dw_quad_row",
    ".purgem mote_dw_single_row",
    "pop {{r4-r11, pc}}",
    ".size mote_dsp_dw3x3, . - mote_dsp_dw3x3",
    //
    // mote_dsp_fill4(job: *const FillJob): r0 job, r1 src, r2 src_step, r3 dst, r4-r6 planes
    // 1-3 offsets, r7/r11 the row's first src/dst, r12 count, lr rows; r8 the pixel's word,
    // r9/r10 its even and odd channels.
    ".section .text.mote_dsp_fill4,\"ax\",%progbits",
    ".global mote_dsp_fill4",
    ".type mote_dsp_fill4,%function",
    ".p2align 2",
    ".thumb_func",
    "mote_dsp_fill4:",
    "push {{r4-r11, lr}}",
    "ldm r0, {{r1, r2, r3, r4}}",
    "ldr lr, [r0, #20]",
    "add r5, r4, r4",
    "add r6, r5, r4",
    "mov r7, r1",
    "mov r11, r3",
    "1:",
    "ldr r12, [r0, #16]",
    "2:",
    "ldr r8, [r1]",
    "add r1, r2",
    "sxtb16 r9, r8",
    "sxtb16 r10, r8, ror #8",
    "strh r10, [r3, r4]",
    "lsrs r8, r9, #16",
    "strh r8, [r3, r5]",
    "lsrs r8, r10, #16",
    "strh r8, [r3, r6]",
    "strh r9, [r3], #2",
    "subs r12, #1",
    "bne 2b",
    "ldrd r8, r9, [r0, #24]",
    "add r7, r8",
    "add r11, r9",
    "mov r1, r7",
    "mov r3, r11",
    "subs lr, #1",
    "bne 1b",
    "pop {{r4-r11, pc}}",
    ".size mote_dsp_fill4, . - mote_dsp_fill4",
    ".text",
);

#[cfg(mote_arm_dsp)]
extern "C" {
    fn mote_dsp_dw3x3(job: *mut Dw3x3Job);
    fn mote_dsp_fill4(job: *const FillJob);
}

/// Runs a [`FillJob`].
///
/// # Safety
/// `count >= 1`, `rows >= 1`; the pixels' four bytes are readable; the four planes' cells are
/// writable.
#[cfg(mote_arm_dsp)]
#[inline(always)]
unsafe fn fill4(job: &mut FillJob) {
    // SAFETY: forwarded to the caller.
    unsafe { mote_dsp_fill4(job) }
}

/// Portable twin of the Arm routine, for the host tests.
///
/// # Safety
/// As the Arm routine.
#[cfg(not(mote_arm_dsp))]
unsafe fn fill4(job: &mut FillJob) {
    // SAFETY: within the caller's ranges.
    unsafe {
        for r in 0..job.rows {
            for i in 0..job.count {
                for j in 0..4 {
                    let dst = (job.dst as *mut u8).add(r * job.dst_row + j * job.plane).cast::<i16>();
                    *dst.add(i) = *job.src.add(r * job.src_row + i * job.src_step + j) as i16;
                }
            }
        }
    }
}

/// Runs a [`Dw3x3Job`].
///
/// # Safety
/// `rows >= 1`; every window read lies in the plane (the band's rows, `width` bytes each, every
/// tap in the padded image); every output written lies in the output tensor.
#[cfg(mote_arm_dsp)]
#[inline(always)]
unsafe fn dw3x3(job: &mut Dw3x3Job) {
    // SAFETY: forwarded to the caller.
    unsafe { mote_dsp_dw3x3(job) }
}

/// Portable twin of the Arm routine, for the host tests.
///
/// # Safety
/// As the Arm routine.
#[cfg(not(mote_arm_dsp))]
unsafe fn dw3x3(job: &mut Dw3x3Job) {
    use super::dsp::{clamp_i8x4, requantize};
    // SAFETY: within the caller's ranges.
    unsafe {
        while job.rows > 0 {
            let row_dst = job.dst;
            let mut src = job.src as *const u8;
            let outputs = 4 * job.quads + job.singles;
            for i in 0..outputs {
                let mut acc = job.start;
                for ky in 0..3 {
                    let row = src.add(ky * job.width);
                    let pair = core::ptr::read_unaligned(row as *const u32);
                    let third = core::ptr::read_unaligned(row.add(4) as *const i16) as u32;
                    acc = smlabb(third, job.w[2 * ky + 1], smlad(pair, job.w[2 * ky], acc));
                }
                let v = requantize(acc, job.m2, job.em1, job.zp_round);
                *job.dst = clamp_i8x4(v as u32, job.lo, job.hi) as i8;
                job.dst = job.dst.add(job.dst_step);
                src = src.add(if i < 4 * job.quads { 2 } else { job.single_step });
            }
            job.src = (job.src as *const u8).add(job.row_step) as *const i16;
            job.dst = row_dst.add(job.dst_row_step);
            job.rows -= 1;
        }
    }
}
