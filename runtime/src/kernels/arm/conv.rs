//! Regular (`groups == 1`) int8 convolution, two ways; both gather each output pixel's window
//! in the weights' `(ky, kx, c)` order (`K = kh * kw * c` values).
//!
//! - [`conv2d_block_s8`], when eight output channels' widened weights fit in the scratch
//!   (`K <= 180`): the weights of eight channels at a time are widened once into a weight block
//!   and reused by every pixel; the pixel's window is int8, read in place for a 1×1 convolution
//!   without padding, else gathered with the padding reading the zero point. The input zero
//!   point is folded into the accumulators' start, `bias - x_zero_point * sum(w)`.
//! - [`conv2d_im2col_s8`], for larger `K`: two pixels' windows are widened side by side with the
//!   zero point subtracted (padding is 0) and meet the int8 weight rows, streamed from the model
//!   two at a time.
//!
//! Both compute only the [`LiveChannels`]: an output channel whose multiplier is zero (the
//! converter writes one for a channel whose weights are all zero; pruned models have many) is
//! its zero point, clamped, whatever the input, and its bytes are written once at the end.

use super::dsp::{copy_words, fill_words, smlad, ssub16, sxtb16, sxtb16_ror8};
use super::matmul::{block_s8x8, rows_q15, rows_q15x2, BlockJob, BlockOut, RowsJob};
use super::requant::OutputStage;
use super::Scratch;
use crate::kernels::conv::Conv2dParams;

/// `x_zero_point` in both halfwords, for `SSUB16`.
pub(super) fn zero_point_pair(zero_point: i32) -> u32 {
    (zero_point as u16 as u32) * 0x0001_0001
}

/// `K` of `p`.
fn window_len(p: &Conv2dParams) -> usize {
    p.kernel[0] * p.kernel[1] * p.input[3]
}

/// Whether a pixel's window is the input pixel itself, read in place: a 1×1 convolution without
/// padding whose every output pixel reads an input pixel, on whole groups of channels.
fn reads_in_place(p: &Conv2dParams) -> bool {
    let [_, h, w, c] = p.input;
    let [_, oh, ow, _] = p.output;
    p.kernel == [1, 1] && p.pad == [0, 0] && c % 4 == 0 && (oh - 1) * p.stride[0] < h && (ow - 1) * p.stride[1] < w
}

/// Whether [`conv2d_block_s8`] computes `p`: a regular convolution whose weight block and one
/// gathered window fit in the scratch.
pub fn supports_block(p: &Conv2dParams) -> bool {
    let groups = window_len(p).div_ceil(4);
    p.groups == 1 && groups > 0 && p.output[1] > 0 && p.output[2] > 0 && 17 * groups <= Scratch::WORDS
}

/// Words of scratch [`conv2d_block_s8`] takes for `p`: the weight block, and unless the windows
/// are read in place, as many gathered windows as fit (at most one per output pixel).
pub fn block_scratch_words(p: &Conv2dParams) -> usize {
    let groups = window_len(p).div_ceil(4);
    if reads_in_place(p) {
        return 16 * groups;
    }
    let pixels = p.output[0] * p.output[1] * p.output[2];
    16 * groups + groups * ((Scratch::WORDS - 16 * groups) / groups).min(pixels)
}

/// Widens the weights of output channels `c0 .. c0 + 8` (zeros past `oc` and past `K`) into a
/// weight block and returns their output stage with the starts `bias - x_zero_point * sum(w)`.
/// The output channels whose multiplier is not zero, as a bit set (for up to [`Self::MAX`]
/// channels). A dead channel's every output is its zero point, clamped; see the module docs.
pub struct LiveChannels {
    bits: [u32; LiveChannels::MAX / 32],
    live: usize,
}

impl LiveChannels {
    pub const MAX: usize = 256;

    /// The live channels of a stage for `oc` channels, or `None` when every channel is live or
    /// there are more than [`Self::MAX`].
    pub fn new(stage: &OutputStage<'_>, oc: usize) -> Option<LiveChannels> {
        if oc > Self::MAX || stage.all_live() {
            return None;
        }
        let mut set = LiveChannels { bits: [0; LiveChannels::MAX / 32], live: 0 };
        for c in 0..oc {
            let live = !stage.is_dead(c);
            set.bits[c / 32 % (Self::MAX / 32)] |= (live as u32) << (c % 32);
            set.live += live as usize;
        }
        (set.live < oc).then_some(set)
    }

    /// Whether channel `c` (below the stage's channel count) is live.
    fn is_live(&self, c: usize) -> bool {
        self.bits[c / 32 % (Self::MAX / 32)] >> (c % 32) & 1 != 0
    }

}

/// The channels of the weight block that starts at channel `from` into `chs`: `from ..` (up to
/// `oc`), or the next (at most 8) live ones; returns their count and the next block's `from`.
/// Blocks are taken in order.
fn channel_group(oc: usize, live: Option<&LiveChannels>, from: usize, chs: &mut [usize; 8]) -> (usize, usize) {
    let (mut n, mut c) = (0, from);
    while c < oc && n < 8 {
        if live.is_none_or(|l| l.is_live(c)) {
            chs[n] = c;
            n += 1;
        }
        c += 1;
    }
    (n, c)
}

/// Writes every dead channel's bytes of `pixels` pixels of `oc` channels at `out`: the zero
/// point (`zp_round >> 1`), clamped.
///
/// # Safety
/// `out` is writable for `pixels * oc` bytes.
unsafe fn fill_dead(out: *mut i8, pixels: usize, oc: usize, live: &LiveChannels, stage: &OutputStage<'_>) {
    let v = stage.clamp1(stage.zp_round() >> 1);
    for c in (0..oc).filter(|&c| !live.is_live(c)) {
        for i in 0..pixels {
            // SAFETY: inside the output.
            unsafe { *out.add(i * oc + c) = v };
        }
    }
}

/// Widens the weights of output channels `channels` (at most 8; zeros past them and past `K`)
/// into a weight block and returns their output stage with the starts
/// `bias - x_zero_point * sum(w)`.
///
/// # Safety
/// `block` is writable for `16 * ceil(k / 4)` words; `w` holds `oc` rows of `k`; `bias`, when
/// present, `oc` values; `stage` is for `oc` channels; every channel is below `oc`.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn widen_weight_block(
    w: &[i8],
    k: usize,
    channels: &[usize],
    bias: Option<&[i32]>,
    x_zero_point: i32,
    stage: &OutputStage<'_>,
    block: *mut u32,
) -> BlockOut {
    const ONES: u32 = 0x0001_0001;
    let (whole, groups) = (k / 4, k.div_ceil(4));
    let mut out = BlockOut { zp_round: stage.zp_round(), lo: stage.lo(), hi: stage.hi(), clamp: stage.clamps(), ..BlockOut::default() };
    for j in 0..8 {
        let Some(&ch) = channels.get(j) else {
            for g in 0..groups {
                // SAFETY: `16 * groups` words of block.
                unsafe {
                    block.add(16 * g + 2 * j).write(0);
                    block.add(16 * g + 2 * j + 1).write(0);
                }
            }
            out.scale[j] = out.scale[0];
            continue;
        };
        // SAFETY: row `ch < oc` of `w`; `16 * groups` words of block.
        unsafe {
            let row = w.as_ptr().add(ch * k);
            let mut sum = 0i32;
            for g in 0..groups {
                let v = if g < whole {
                    core::ptr::read_unaligned(row.add(4 * g) as *const u32)
                } else {
                    let mut bytes = [0u8; 4];
                    for (t, b) in bytes.iter_mut().enumerate().take(k - 4 * whole) {
                        *b = *row.add(4 * g + t) as u8;
                    }
                    u32::from_le_bytes(bytes)
                };
                let (even, odd) = (sxtb16(v), sxtb16_ror8(v));
                block.add(16 * g + 2 * j).write(even);
                block.add(16 * g + 2 * j + 1).write(odd);
                sum = smlad(odd, ONES, smlad(even, ONES, sum));
            }
            out.start[j] = bias.map_or(0, |b| b[ch]).wrapping_sub(x_zero_point.wrapping_mul(sum));
        }
        let s = stage.channel(ch);
        out.scale[j] = [s.m2, s.em1 as i32];
    }
    out
}

/// Convolution through weight blocks, the arithmetic of
/// [`crate::kernels::conv::conv2d_i8`].
///
/// # Safety
/// [`supports_block`] holds, `stage` was made for `p.output[3]` channels (and `live` from it),
/// `x_zero_point` is in `-128..=127`, and the slices have the lengths `conv2d_i8` documents.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub unsafe fn conv2d_block_s8(
    p: &Conv2dParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    stage: &OutputStage<'_>,
    live: Option<&LiveChannels>,
    out: &mut [i8],
    scratch: &mut Scratch,
) {
    let [n, h, wd, c] = p.input;
    let [_, oh, ow, oc] = p.output;
    let pixels = n * oh * ow;
    // Blocks of scattered channels store through a copy: worth it only when it saves a block.
    let live = live.filter(|l| l.live.div_ceil(8) < oc.div_ceil(8));
    if let Some(live) = live {
        // SAFETY: the output has `pixels * oc` bytes; the live channels' bytes are written below.
        unsafe { fill_dead(out.as_mut_ptr(), pixels, oc, live, stage) };
    }
    let k = window_len(p);
    let groups = k.div_ceil(4);
    let block = scratch.words();
    // SAFETY: the windows follow the block inside the scratch (`supports_block`).
    let windows = unsafe { block.add(16 * groups) };
    let blocks = live.map_or(oc, |l| l.live).div_ceil(8);
    if reads_in_place(p) {
        let (mut from, mut chs) = (0, [0; 8]);
        for _ in 0..blocks {
            let (nc, next) = channel_group(oc, live, from, &mut chs);
            from = next;
            // SAFETY: the block fits; `w`, `bias` and `stage` are as the caller promises.
            let stage8 = unsafe { widen_weight_block(w, k, &chs[..nc], bias, x_zero_point, stage, block) };
            let mut job = BlockJob { x: x.as_ptr(), x_step: p.stride[1] * c, count: 0, dst: out.as_mut_ptr(), dst_step: oc, block, groups, out: &stage8 };
            for b in 0..n {
                for oy in 0..oh {
                    // SAFETY: in-image pixels are read (`reads_in_place`); the output row's
                    // pixels are written.
                    unsafe {
                        job.x = x.as_ptr().add((b * h + oy * p.stride[0]) * wd * c);
                        run_block(&mut job, out.as_mut_ptr().add((b * oh + oy) * ow * oc), ow, &chs[..nc]);
                    }
                }
            }
        }
        return;
    }
    // Gathered windows: either each chunk of windows once, widening every block again per chunk,
    // or each block once, gathering every window again per block, whichever costs less (roughly,
    // in instructions).
    let capacity = (Scratch::WORDS - 16 * groups) / groups;
    let chunks = pixels.div_ceil(capacity);
    let (gather_cost, widen_cost) = (12 * p.kernel[0] + k / 2, 80 * groups);
    let gather_once = pixels * gather_cost + chunks * blocks * widen_cost <= blocks * (pixels * gather_cost + widen_cost);
    let (outer, inner) = if gather_once { (chunks, blocks) } else { (blocks, chunks) };
    let mut at = [0, 0, 0];
    let mut stage8 = BlockOut::default();
    let (mut chs, mut nc, mut from) = ([0; 8], 0, 0);
    for i in 0..outer {
        for j in 0..inner {
            let (chunk, blk) = if gather_once { (i, j) } else { (j, i) };
            let first = chunk * capacity;
            let count = capacity.min(pixels - first);
            // SAFETY: the block and `count` windows fit in the scratch; in-image pixels are read
            // and the chunk's output pixels written; `w`, `bias` and `stage` are as the caller
            // promises.
            unsafe {
                if !gather_once || j == 0 {
                    if chunk == 0 {
                        at = [0, 0, 0];
                    }
                    for q in 0..count {
                        gather(p, x, at, windows.add(q * groups) as *mut u8, x_zero_point as u8);
                        at = next_pixel(p, at);
                    }
                }
                if gather_once || j == 0 {
                    (nc, from) = channel_group(oc, live, if blk == 0 { 0 } else { from }, &mut chs);
                    stage8 = widen_weight_block(w, k, &chs[..nc], bias, x_zero_point, stage, block);
                }
                let mut job = BlockJob { x: windows as *const i8, x_step: 4 * groups, count: 0, dst: out.as_mut_ptr(), dst_step: oc, block, groups, out: &stage8 };
                run_block(&mut job, out.as_mut_ptr().add(first * oc), count, &chs[..nc]);
            }
        }
    }
}

/// Runs `job` for `count` pixels from `job.x` into the output channels `channels` of the pixels
/// from `dst` (their channel 0) on: in place for 8 consecutive channels, else through a local
/// copy.
///
/// # Safety
/// As [`block_s8x8`], for the pixels and outputs named.
#[inline(always)]
unsafe fn run_block(job: &mut BlockJob, dst: *mut i8, count: usize, channels: &[usize]) {
    // SAFETY: forwarded from the caller.
    unsafe {
        if channels.len() == 8 && channels[7] == channels[0] + 7 {
            job.dst = dst.add(channels[0]);
            job.count = count;
            block_s8x8(job);
            return;
        }
        for i in 0..count {
            let mut bytes = [0i8; 8];
            job.dst = bytes.as_mut_ptr();
            job.count = 1;
            block_s8x8(job);
            for (&ch, &v) in channels.iter().zip(bytes.iter()) {
                *dst.add(i * job.dst_step + ch) = v;
            }
        }
    }
}

/// The pixel after `[b, oy, ox]` in memory order.
pub(super) fn next_pixel(p: &Conv2dParams, [b, oy, ox]: [usize; 3]) -> [usize; 3] {
    if ox + 1 < p.output[2] {
        [b, oy, ox + 1]
    } else if oy + 1 < p.output[1] {
        [b, oy + 1, 0]
    } else {
        [b + 1, 0, 0]
    }
}

/// Copies `n` bytes: whole words, then the last bytes without a loop (a byte loop would become a
/// `memcpy` call, far dearer than the few bytes of a window row).
///
/// # Safety
/// Both ranges are valid for `n` bytes.
#[inline(always)]
unsafe fn copy_run(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's ranges.
    unsafe {
        if n == 4 {
            core::ptr::write_unaligned(dst as *mut u32, core::ptr::read_unaligned(src as *const u32));
            return;
        }
        if n >= 4 {
            copy_words(dst, src, n / 4);
        }
        let i = n & !3;
        if n & 2 != 0 {
            core::ptr::write_unaligned(dst.add(i) as *mut u16, core::ptr::read_unaligned(src.add(i) as *const u16));
        }
        if n & 1 != 0 {
            *dst.add(n - 1) = *src.add(n - 1);
        }
    }
}

/// Writes `n` copies of `byte`, as [`copy_run`] copies.
///
/// # Safety
/// The range is valid for `n` bytes.
#[inline(always)]
unsafe fn fill_run(dst: *mut u8, byte: u8, n: usize) {
    let word = u32::from_ne_bytes([byte; 4]);
    // SAFETY: the caller's range.
    unsafe {
        if n >= 4 {
            fill_words(dst, word, n / 4);
        }
        let i = n & !3;
        if n & 2 != 0 {
            core::ptr::write_unaligned(dst.add(i) as *mut u16, word as u16);
        }
        if n & 1 != 0 {
            *dst.add(n - 1) = byte;
        }
    }
}

/// Output pixel `(b, oy, ox)`'s int8 window in the weights' `(ky, kx, c)` order at `dst`, taps
/// in the padding reading `zero_point`: without dilation a kernel row is one run of in-image
/// bytes between runs of padding, with dilation one run per tap.
///
/// # Safety
/// `dst` is writable for `K` bytes; `x` has the input's length.
#[inline(never)]
pub(super) unsafe fn gather(p: &Conv2dParams, x: &[i8], [b, oy, ox]: [usize; 3], dst: *mut u8, zero_point: u8) {
    let [_, h, wd, c] = p.input;
    let [kh, kw] = p.kernel;
    let y0 = (oy * p.stride[0]) as isize - p.pad[0] as isize;
    let x0 = (ox * p.stride[1]) as isize - p.pad[1] as isize;
    let (dh, dw) = (p.dilation[0] as isize, p.dilation[1] as isize);
    let run = kw * c;
    let image = x.as_ptr().wrapping_add(b * h * wd * c) as *const u8;
    if dh == 1 && dw == 1 && y0 >= 0 && x0 >= 0 && y0 as usize + kh <= h && x0 as usize + kw <= wd {
        // A window inside the image (most of them): `kh` runs of `kw * c` bytes, and none of
        // the set-up below.
        let mut src = image.wrapping_add((y0 as usize * wd + x0 as usize) * c);
        for ky in 0..kh {
            // SAFETY: `K` bytes from `dst`; the window's rows are in the image.
            unsafe { copy_run(dst.add(ky * run), src, run) };
            src = src.wrapping_add(wd * c);
        }
        return;
    }
    if dw == 1 {
        // Taps `left .. right` of every row are in the image.
        let left = (-x0).clamp(0, kw as isize) as usize;
        let right = (wd as isize - x0).clamp(left as isize, kw as isize) as usize;
        let (before, inside) = (left * c, (right - left) * c);
        let row_step = dh * (wd * c) as isize;
        let mut src = image.wrapping_offset(y0 * (wd * c) as isize + (x0 + left as isize) * c as isize);
        for ky in 0..kh {
            let iy = y0 + ky as isize * dh;
            // SAFETY: `K` bytes from `dst`; `src` points into the in-image row `iy`.
            unsafe {
                let d = dst.add(ky * run);
                if iy < 0 || iy >= h as isize {
                    fill_run(d, zero_point, run);
                } else {
                    fill_run(d, zero_point, before);
                    copy_run(d.add(before), src, inside);
                    fill_run(d.add(before + inside), zero_point, run - before - inside);
                }
            }
            src = src.wrapping_offset(row_step);
        }
        return;
    }
    for ky in 0..kh {
        let iy = y0 + ky as isize * dh;
        // SAFETY: `K` bytes from `dst`; sources are in-image pixels.
        unsafe {
            let d = dst.add(ky * run);
            if iy < 0 || iy >= h as isize {
                fill_run(d, zero_point, run);
                continue;
            }
            let row = image.add(iy as usize * wd * c);
            for kx in 0..kw {
                let ix = x0 + kx as isize * dw;
                if ix < 0 || ix >= wd as isize {
                    fill_run(d.add(kx * c), zero_point, c);
                } else {
                    copy_run(d.add(kx * c), row.add(ix as usize * c), c);
                }
            }
        }
    }
}

/// Widens the whole groups of `k` int8 values, zero point subtracted, into every `stride`-th
/// word pair of `cols`, and returns the last `k % 4` values (zero point subtracted).
///
/// # Safety
/// `src` holds `k` bytes; `cols` is writable at `stride * g + 0..2` for every group `g`.
#[inline(always)]
pub(super) unsafe fn widen(src: *const u8, k: usize, zp_pair: u32, zero_point: i32, cols: *mut u32, stride: usize) -> [i32; 3] {
    let groups = k / 4;
    // SAFETY: inside the source and the columns.
    unsafe {
        let (mut s, mut c) = (src, cols);
        for _ in 0..groups {
            let v = core::ptr::read_unaligned(s as *const u32);
            c.write(ssub16(sxtb16(v), zp_pair));
            c.add(1).write(ssub16(sxtb16_ror8(v), zp_pair));
            (s, c) = (s.add(4), c.add(stride));
        }
        let mut tail = [0i32; 3];
        for (t, v) in tail.iter_mut().enumerate().take(k % 4) {
            *v = *src.add(4 * groups + t) as i8 as i32 - zero_point;
        }
        tail
    }
}

/// Whether [`conv2d_im2col_s8`] computes `p`: a regular convolution whose column pair and
/// window fit in the scratch.
pub fn supports_im2col(p: &Conv2dParams) -> bool {
    let k = window_len(p);
    p.groups == 1 && 4 * (k / 4) + k.div_ceil(4) <= Scratch::WORDS
}

/// Words of scratch [`conv2d_im2col_s8`] takes for `p`: the column pair and one window.
pub fn im2col_scratch_words(p: &Conv2dParams) -> usize {
    let k = window_len(p);
    4 * (k / 4) + k.div_ceil(4)
}

/// One pixel's widened column at `cols` (every `stride`-th word pair), through the int8 window
/// at `window`, and its last `k % 4` values.
///
/// # Safety
/// `x` has the input's length; `cols` and `window` lie in the scratch as [`supports_im2col`]
/// sizes them.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn column(p: &Conv2dParams, x: &[i8], x_zero_point: i32, at: [usize; 3], cols: *mut u32, stride: usize, window: *mut u8) -> [i32; 3] {
    // SAFETY: forwarded from the caller.
    unsafe {
        gather(p, x, at, window, x_zero_point as u8);
        widen(window, window_len(p), zero_point_pair(x_zero_point), x_zero_point, cols, stride)
    }
}

/// Convolution through im2col, the arithmetic of [`crate::kernels::conv::conv2d_i8`].
///
/// # Safety
/// [`supports_im2col`] holds, `stage` was made for `p.output[3]` channels (and `live` from it),
/// `x_zero_point` is in `-128..=127`, and the slices have the lengths `conv2d_i8` documents.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub unsafe fn conv2d_im2col_s8(
    p: &Conv2dParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    stage: &OutputStage<'_>,
    live: Option<&LiveChannels>,
    out: &mut [i8],
    scratch: &mut Scratch,
) {
    let [n, _, _, _] = p.input;
    let [_, oh, ow, oc] = p.output;
    let k = window_len(p);
    // Live channel pairs run alone only on the routines' own shapes (the portable loop of
    // `columns_times_rows` takes the rest).
    let live = live.filter(|_| k % 4 == 0 && oc % 2 == 0);
    let pixels = n * oh * ow;
    if let Some(live) = live {
        // SAFETY: the output has `pixels * oc` bytes; the live channels' bytes are written below.
        unsafe { fill_dead(out.as_mut_ptr(), pixels, oc, live, stage) };
    }
    let base = scratch.words();
    // SAFETY: the window follows the column pair inside the scratch (`supports_im2col`).
    let window = unsafe { base.add(4 * (k / 4)) } as *mut u8;
    let mut at = [0, 0, 0];
    let mut pix = 0;
    while pix < pixels {
        let pair = pix + 1 < pixels;
        let stride = if pair { 4 } else { 2 };
        // SAFETY: scratch ranges as above; `x`, `w` and `out` have their documented lengths.
        unsafe {
            let tail_a = column(p, x, x_zero_point, at, base, stride, window);
            at = next_pixel(p, at);
            let tail_b = if pair {
                let t = column(p, x, x_zero_point, at, base.add(2), stride, window);
                at = next_pixel(p, at);
                t
            } else {
                [0; 3]
            };
            let dst = out.as_mut_ptr().add(pix * oc);
            match live {
                Some(live) => columns_times_live_rows(base, pair, w, k, bias, stage, dst, oc, live),
                None => columns_times_rows(base, pair, [tail_a, tail_b], w, k, bias, stage, dst, oc),
            }
        }
        pix += if pair { 2 } else { 1 };
    }
}

/// [`columns_times_rows`] for the channel pairs with a live channel; the bytes of the other
/// pairs are left alone.
///
/// # Safety
/// As [`columns_times_rows`], with `k % 4 == 0`, `oc` even and `live` made from `stage`.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn columns_times_live_rows(
    cols: *const u32,
    pair: bool,
    w: &[i8],
    k: usize,
    bias: Option<&[i32]>,
    stage: &OutputStage<'_>,
    dst: *mut i8,
    oc: usize,
    live: &LiveChannels,
) {
    let mut job = RowsJob::new(cols, w.as_ptr(), k / 4, 1, bias, stage, dst, oc);
    for o in (0..oc).step_by(2) {
        // SAFETY: rows, biases, requant entries and outputs of channels `o`, `o + 1` (< oc); the
        // routine advances the job past them, as the dead branch does.
        unsafe {
            if live.is_live(o) || live.is_live(o + 1) {
                job.pairs = 1;
                if pair {
                    rows_q15x2(&mut job);
                } else {
                    rows_q15(&mut job);
                }
            } else {
                job.w = job.w.add(2 * k);
                job.bias = job.bias.byte_add(2 * job.bias_step);
                job.requant = job.requant.byte_add(2 * job.requant_step);
                job.dst = job.dst.add(2);
            }
        }
    }
}

/// The output channels of one column or a column pair: `dst[o] = stage(bias[o] + col_a · w_o)`
/// and, for a pair, `dst[oc + o] = stage(bias[o] + col_b · w_o)`.
///
/// Whole channel pairs of rows with `k % 4 == 0` run in [`rows_q15x2`] / [`rows_q15`]; an odd
/// last channel, and every channel when `k % 4 != 0`, take the portable loop below.
///
/// # Safety
/// `cols` holds the column (pair) of `k / 4` groups, `tails` the last `k % 4` values of each
/// column; `w` holds `oc` rows of `k`; `bias`, when present, `oc` values; `stage` was made for
/// `oc` channels; `dst` is writable for `oc` bytes, and `2 * oc` for a pair.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub(super) unsafe fn columns_times_rows(
    cols: *const u32,
    pair: bool,
    tails: [[i32; 3]; 2],
    w: &[i8],
    k: usize,
    bias: Option<&[i32]>,
    stage: &OutputStage<'_>,
    dst: *mut i8,
    oc: usize,
) {
    let groups = k / 4;
    let fast = if k % 4 == 0 { oc / 2 * 2 } else { 0 };
    // SAFETY: forwarded from the caller.
    unsafe {
        if fast > 0 {
            let mut job = RowsJob::new(cols, w.as_ptr(), groups, fast / 2, bias, stage, dst, oc);
            if pair {
                rows_q15x2(&mut job);
            } else {
                rows_q15(&mut job);
            }
        }
        let stride = if pair { 4 } else { 2 };
        for o in fast..oc {
            let row = w.as_ptr().add(o * k);
            for (i, tail) in tails.iter().enumerate().take(if pair { 2 } else { 1 }) {
                let mut acc = bias.map_or(0, |b| b[o]);
                for g in 0..groups {
                    let v = core::ptr::read_unaligned(row.add(4 * g) as *const u32);
                    let col = cols.add(stride * g + 2 * i);
                    acc = smlad(*col.add(1), sxtb16_ror8(v), smlad(*col, sxtb16(v), acc));
                }
                for (t, &xv) in tail.iter().enumerate().take(k % 4) {
                    acc = acc.wrapping_add(xv * *row.add(4 * groups + t) as i32);
                }
                *dst.add(i * oc + o) = stage.clamp1(stage.requantize(stage.channel(o), acc));
            }
        }
    }
}
