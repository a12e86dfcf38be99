//! int8 convolution (regular and depthwise) and fully connected kernels for Arm cores with
//! Helium (MVE, Cortex-M55), bit-exact with the reference kernels.
//!
//! [`conv2d_i8`] and [`fully_connected_i8`] have the reference kernels' signatures and contract
//! and are what the interpreter calls where the build script sets `cfg(mote_arm_mve)` (see
//! `runtime/build.rs`: `-C target-cpu=cortex-m55`). What they do not cover goes to the DSP
//! kernels of [`super`] (which the M55 also runs), and from there to the reference:
//!
//! | shape | kernel | inner loop |
//! |---|---|---|
//! | regular convolution (`groups == 1`), `K = kh·kw·c` | [`conv2d_s8`] | [`matmul::rows_s8x4`]: 16 `K` values × 4 channels per 9 vector instructions |
//! | 1×1 convolution read in place, `K <= 16`, at least 4 output pixels a row | [`conv2d_s8`] | [`matmul::quads_s8`]: 4 pixels' rows held in registers, per channel 1 weight load and 4 `VMLADAV.S8`, the output stage on the 4 pixels' values of a channel as one vector |
//! | depthwise, multiplier 1, at least 8 channels | [`depthwise::depthwise_conv2d_s8`] | inner pixels, 3 taps wide: 8 channels of a tap for 2 pixels per 11 vector instructions (zero point folded into the starts); border pixels: 8 channels of a tap per 7 (zero point subtracted) |
//! | fully connected | [`fully_connected_s8`] | the same routine as a convolution, every row in one call |
//! | other depthwise and grouped convolutions | the DSP kernels | |
//!
//! All need zero points in the int8 range, requant per tensor or per channel with valid
//! entries, and their scratch (the accumulator starts, and for a convolution one gathered
//! window) inside [`super::SCRATCH_BYTES`]. The matmul takes any valid requant entry: shifts
//! `<= -1` (scales below 0.5: what the converter writes for most layers) in
//! [`matmul::rows_s8x4`], the general stage (scales of 0.5 and more, as MobileNet's have) in
//! [`matmul::rows_s8x4_any`]; the depthwise kernel has both stages too.
//!
//! # How (matmul)
//! The input zero point is folded into the accumulators' starts, `bias - x_zero_point * sum(w)`,
//! computed once per call for every channel, so both operands stay int8 and `VMLADAVA.S8`
//! multiplies 16 pairs at once. A convolution's window (the `(ky, kx, c)` values of one output
//! pixel, in the weights' order) is read in place for a 1×1 convolution without padding, and
//! otherwise gathered into the scratch with the padding reading the zero point (which then
//! contributes nothing, as in the reference; a window inside the image is copied by
//! `mote_mve_copy_rows`, a tail-predicated copy of its `kh` rows, without the general gather's
//! set-up). Each window then meets every output channel's weight row, four channels at a time,
//! streamed from the model. The routine loops over rows itself (`RowsJob::pixels`): a 1×1
//! convolution read in place runs a whole output row per call, a fully connected layer all its
//! rows, so the per-call set-up is paid once per row of pixels rather than once per pixel. See [`matmul`] for the routine
//! and the proof that its vector output stage gives the reference's bytes.

pub mod depthwise;
pub mod matmul;

use core::mem::size_of;

use super::{Scratch, SCRATCH_BYTES};
use crate::kernels::conv::Conv2dParams;
use crate::kernels::fully_connected::FcParams;
use crate::quant::{Requant, RequantTable};
use matmul::{rows_s8x4, rows_s8x4_any, QuadsJob, RowsJob, StartsJob};

/// The MVE kernels' output-stage and zero-point condition, shared by both ops: zero points in
/// the int8 range, requant per tensor or per channel with valid entries (the matmul's general
/// stage covers them all).
fn covered(requant: RequantTable<'_>, channels: usize, x_zero_point: i32, out_zero_point: i32) -> bool {
    (-128..=127).contains(&x_zero_point)
        && (-128..=127).contains(&out_zero_point)
        && (requant.entries().len() == 1 || requant.entries().len() == channels)
        && (fast_stage(requant, channels, out_zero_point) || requant.entries().iter().all(|r| r.is_valid()))
}

/// Whether the faster output stage ([`matmul::rows_s8x4`], the depthwise routine's) covers
/// `requant`: every shift `<= -1` (scales below 0.5, what the converter writes for most layers),
/// any multiplier `>= 0`. Stated here rather than borrowed from the DSP stage's
/// [`super::requant::OutputStage`], whose coverage may grow independently.
fn fast_stage(requant: RequantTable<'_>, channels: usize, out_zero_point: i32) -> bool {
    let entries = requant.entries();
    (-128..=127).contains(&out_zero_point)
        && (entries.len() == 1 || entries.len() == channels)
        && (requant.is_normal() || entries.iter().all(|r| r.multiplier >= 0 && (-31..=-1).contains(&r.shift)))
}

/// Bytes of scratch for the starts of `channels` channels (whole groups of four).
fn starts_bytes(channels: usize) -> usize {
    4 * channels.next_multiple_of(4)
}

/// `K` of `p`.
fn window_len(p: &Conv2dParams) -> usize {
    p.kernel[0] * p.kernel[1] * p.input[3]
}

/// Whether each output pixel's window is an input pixel, read in place: a 1×1 convolution
/// without padding whose every output pixel reads an input pixel.
fn reads_in_place(p: &Conv2dParams) -> bool {
    let [_, h, w, _] = p.input;
    let [_, oh, ow, _] = p.output;
    p.kernel == [1, 1] && p.pad == [0, 0] && (oh - 1) * p.stride[0] < h && (ow - 1) * p.stride[1] < w
}

/// Whether [`conv2d_s8`] computes `p`: a regular convolution with a non-empty window and output
/// whose starts and window fit in the scratch.
pub fn supports_conv(p: &Conv2dParams) -> bool {
    let k = window_len(p);
    let [_, oh, ow, oc] = p.output;
    p.groups == 1 && k > 0 && oh > 0 && ow > 0 && oc > 0 && starts_bytes(oc) + if reads_in_place(p) { 0 } else { k } <= SCRATCH_BYTES
}

/// Which kernel [`conv2d_i8`] runs for a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MvePath {
    /// [`conv2d_s8`].
    Matmul,
    /// [`depthwise::depthwise_conv2d_s8`].
    Depthwise,
    /// The DSP kernels' wrapper, [`super::conv2d_i8`].
    Dsp,
}

/// The decision tree of [`conv2d_i8`] (for slices of the documented lengths).
pub fn conv_path(p: &Conv2dParams, x_zero_point: i32, requant: &[Requant], out_zero_point: i32) -> MvePath {
    conv_path_of(p, x_zero_point, RequantTable::new(requant), out_zero_point)
}

fn conv_path_of(p: &Conv2dParams, x_zero_point: i32, requant: RequantTable<'_>, out_zero_point: i32) -> MvePath {
    if !covered(requant, p.output[3], x_zero_point, out_zero_point) {
        MvePath::Dsp
    } else if depthwise::supports(p) {
        MvePath::Depthwise
    } else if supports_conv(p) {
        MvePath::Matmul
    } else {
        MvePath::Dsp
    }
}

/// Whether [`fully_connected_s8`] computes `p`: a non-empty layer.
pub fn supports_fc(p: &FcParams) -> bool {
    p.inputs > 0 && p.outputs > 0
}

/// Whether [`fully_connected_i8`] runs the MVE kernel for a call (`false`: the DSP kernels'
/// wrapper).
pub fn fc_is_mve(p: &FcParams, x_zero_point: i32, requant: &[Requant], out_zero_point: i32) -> bool {
    fc_is_mve_of(p, x_zero_point, RequantTable::new(requant), out_zero_point)
}

fn fc_is_mve_of(p: &FcParams, x_zero_point: i32, requant: RequantTable<'_>, out_zero_point: i32) -> bool {
    covered(requant, p.outputs, x_zero_point, out_zero_point) && supports_fc(p)
}

/// Bytes of scratch [`conv2d_s8`] takes for `p`: the starts and, unless read in place, one
/// gathered window (0 where it does not compute `p`).
fn matmul_scratch_bytes(p: &Conv2dParams) -> usize {
    if !supports_conv(p) {
        return 0;
    }
    (starts_bytes(p.output[3]) + if reads_in_place(p) { 0 } else { window_len(p) }).next_multiple_of(4)
}

/// Bytes of scratch the Helium convolution kernels may take for `p`: the most of the paths the
/// shape allows (which one runs also depends on the requantization). A property of the shape,
/// part of every model's plan ([`crate::kernels::conv2d_i8_scratch_bytes`]).
pub fn conv2d_i8_scratch_bytes(p: &Conv2dParams) -> usize {
    matmul_scratch_bytes(p).max(depthwise::scratch_bytes(p))
}

/// Output channels whose starts [`fully_connected_s8`] holds at once: it runs the channels in
/// chunks of this many, so its scratch stays within the DSP kernel's for the layers that matter
/// (the arena is planned for every target).
const FC_CHUNK: usize = 64;

/// Bytes of scratch [`fully_connected_s8`] takes for `p`: one chunk's starts (0 where it does
/// not compute `p`).
pub fn fully_connected_i8_scratch_bytes(p: &FcParams) -> usize {
    if supports_fc(p) {
        starts_bytes(p.outputs.min(FC_CHUNK))
    } else {
        0
    }
}

/// int8 2-D convolution: [`crate::kernels::conv::conv2d_i8`]'s contract and bytes, with the op's
/// planned `scratch` (a scratch shorter than the path needs, or misaligned, hands the call to
/// the DSP kernels, which fall back to the reference in turn).
#[allow(clippy::too_many_arguments)]
pub fn conv2d_i8_with_scratch(
    p: &Conv2dParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    requant: RequantTable<'_>,
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
    scratch: &mut [u8],
) {
    let oc = p.output[3];
    let lengths = x.len() == p.input.iter().product::<usize>()
        && out.len() == p.output.iter().product::<usize>()
        && w.len() == oc * p.kernel[0] * p.kernel[1] * (p.input[3] / p.groups.max(1))
        && bias.is_none_or(|b| b.len() == oc);
    let path = if lengths { conv_path_of(p, x_zero_point, requant, out_zero_point) } else { MvePath::Dsp };
    let need = match path {
        MvePath::Matmul => matmul_scratch_bytes(p),
        MvePath::Depthwise => depthwise::scratch_bytes(p),
        MvePath::Dsp => 0,
    };
    let words = if path == MvePath::Dsp { None } else { super::scratch_words(scratch, need) };
    // SAFETY: the path's `supports` holds, the stage is covered for `oc` channels,
    // `x_zero_point` is in the int8 range, the lengths match and the scratch holds the path's
    // need.
    unsafe {
        match (path, words) {
            (MvePath::Matmul, Some(mut words)) => conv2d_s8(p, x, x_zero_point, w, bias, requant, out_zero_point, out, act, &mut words),
            (MvePath::Depthwise, Some(mut words)) => {
                depthwise::depthwise_conv2d_s8(p, x, x_zero_point, w, bias, requant, out_zero_point, out, act, &mut words)
            }
            _ => super::conv2d_i8_with_scratch(p, x, x_zero_point, w, bias, requant, out_zero_point, out, act, scratch),
        }
    }
}

/// int8 2-D convolution: [`crate::kernels::conv::conv2d_i8`]'s signature, contract and bytes,
/// through [`conv2d_i8_with_scratch`] with exactly the planned scratch
/// ([`crate::kernels::conv2d_i8_scratch_bytes`]) of a stack buffer (what the conformance suites
/// call).
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
    super::with_stack_scratch(crate::kernels::conv2d_i8_scratch_bytes(p), |scratch| {
        conv2d_i8_with_scratch(p, x, x_zero_point, w, bias, RequantTable::new(requant), out_zero_point, out, act, scratch)
    });
}

/// int8 fully connected layer: [`crate::kernels::fully_connected::fully_connected_i8`]'s
/// contract and bytes, with the op's planned `scratch` (as [`conv2d_i8_with_scratch`]).
#[allow(clippy::too_many_arguments)]
pub fn fully_connected_i8_with_scratch(
    p: &FcParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    requant: RequantTable<'_>,
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
    scratch: &mut [u8],
) {
    let lengths = p.fits(x.len(), w.len(), out.len(), bias);
    let words = if lengths && fc_is_mve_of(p, x_zero_point, requant, out_zero_point) {
        super::scratch_words(scratch, fully_connected_i8_scratch_bytes(p))
    } else {
        None
    };
    match words {
        // SAFETY: `supports_fc` holds, the stage is covered for `outputs` channels,
        // `x_zero_point` is in the int8 range, the lengths match and the starts fit.
        Some(mut words) => unsafe { fully_connected_s8(p, x, x_zero_point, w, bias, requant, out_zero_point, out, act, &mut words) },
        None => super::fully_connected_i8_with_scratch(p, x, x_zero_point, w, bias, requant, out_zero_point, out, act, scratch),
    }
}

/// int8 fully connected layer: [`crate::kernels::fully_connected::fully_connected_i8`]'s
/// signature, contract and bytes, through [`fully_connected_i8_with_scratch`] with exactly the
/// planned scratch of a stack buffer (what the conformance suites call).
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
    super::with_stack_scratch(crate::kernels::fully_connected_i8_scratch_bytes(p), |scratch| {
        fully_connected_i8_with_scratch(p, x, x_zero_point, w, bias, RequantTable::new(requant), out_zero_point, out, act, scratch)
    });
}

/// The output channels of one row, through [`rows_s8x4`]: whole groups of four, then the last
/// partial group with its last channel repeated (see [`matmul`]'s "Lanes").
struct Channels {
    job: RowsJob,
    /// Whether the requant entries need [`matmul::rows_s8x4_any`].
    general: bool,
    channels: usize,
    starts: *const i32,
    requant: *const Requant,
    w: *const i8,
}

impl Channels {
    /// Writes the starts `bias - x_zero_point * sum(w)` (the bias alone for a zero point of 0) of `channels` weight rows of `k` values
    /// into `starts`, the last one repeated up to a whole group, and prepares the jobs.
    ///
    /// # Safety
    /// `starts` is writable for [`starts_bytes`]`(channels)`; `w` holds `channels` rows of `k`
    /// (`k >= 1`, `channels >= 1`); `bias`, when present, `channels` values; `requant` is
    /// covered for `channels` channels and `out_zero_point`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn new(w: &[i8], k: usize, channels: usize, bias: Option<&[i32]>, x_zero_point: i32, table: RequantTable<'_>, out_zero_point: i32, act: (i8, i8), starts: *mut i32) -> Channels {
        let requant = table.entries();
        static NO_BIAS: i32 = 0;
        let job = StartsJob {
            w: w.as_ptr(),
            k,
            rows: channels,
            starts,
            bias: bias.map_or(&NO_BIAS as *const i32, |b| b.as_ptr()),
            bias_step: if bias.is_some() { 4 } else { 0 },
            x_zero_point,
        };
        // SAFETY: as the caller promises.
        unsafe {
            if x_zero_point == 0 {
                // No products to fold in (a folded bias): the starts are the bias.
                for o in 0..channels {
                    *starts.add(o) = bias.map_or(0, |b| b[o]);
                }
            } else {
                matmul::starts(&job);
            }
            for o in channels..channels.next_multiple_of(4) {
                *starts.add(o) = *starts.add(channels - 1);
            }
        }
        let job = RowsJob {
            x: core::ptr::null(),
            k,
            w: w.as_ptr(),
            groups: 0,
            start: starts,
            requant: requant.as_ptr(),
            requant_step: if requant.len() == 1 { 0 } else { size_of::<Requant>() },
            zero_point: out_zero_point,
            dst: core::ptr::null_mut(),
            lo: act.0 as i32,
            hi: act.1 as i32,
            lanes: [0, 1, 2, 3],
            pixels: 1,
            x_step: 0,
            w_base: core::ptr::null(),
            start_base: core::ptr::null(),
            requant_base: core::ptr::null(),
            groups_base: 0,
            dst_base: core::ptr::null_mut(),
            dst_step: 0,
        };
        Channels { job, general: !fast_stage(table, channels, out_zero_point), channels, starts, requant: requant.as_ptr(), w: w.as_ptr() }
    }

    /// Every channel's output for `4 * quads` rows of at most 16 values (`k <= 16`), the
    /// first at `x`, the next ones `x_pixel` bytes apart, at `dst` and `pixel_step` bytes
    /// apart: [`matmul::quads_s8`].
    ///
    /// # Safety
    /// `quads >= 1`, `k <= 16`; every row holds `k` bytes; every row's `channels` outputs are
    /// writable.
    #[inline(always)]
    unsafe fn run_quads(&mut self, x: *const i8, dst: *mut i8, quads: usize, x_pixel: usize, pixel_step: usize) {
        let step = pixel_step as u32;
        let mut job = QuadsJob {
            x,
            k: self.job.k,
            w: self.w,
            channels: self.channels,
            start: self.starts,
            requant: self.requant,
            requant_step: self.job.requant_step,
            zero_point: self.job.zero_point,
            lo: self.job.lo,
            hi: self.job.hi,
            dst,
            x_pixel,
            quads,
            offsets: [0, step, 2 * step, 3 * step],
        };
        // SAFETY: the rows, weights, starts, requant entries and outputs exist (`new`'s and
        // the caller's promises).
        unsafe { matmul::quads_s8(&mut job, self.general) }
    }

    /// Every channel's output for the row `x`, at `dst`: [`Self::run_rows`] for one row.
    ///
    /// # Safety
    /// `x` holds `k` bytes; `dst` is writable for `channels` bytes.
    #[inline(always)]
    unsafe fn run(&mut self, x: *const i8, dst: *mut i8) {
        // SAFETY: the caller's promises, for one row.
        unsafe { self.run_rows(x, dst, 1, 0, 0) }
    }

    /// Every channel's output for `rows` rows, the first at `x`, the next ones `x_step` bytes
    /// apart, at `dst` and `dst_step` bytes apart.
    ///
    /// # Safety
    /// `rows >= 1`; every row holds `k` bytes; every row's `channels` outputs are writable.
    #[inline(always)]
    unsafe fn run_rows(&mut self, x: *const i8, dst: *mut i8, rows: usize, x_step: usize, dst_step: usize) {
        let whole = self.channels / 4;
        let left = self.channels % 4;
        let job = &mut self.job;
        job.x = x;
        job.dst = dst;
        job.start = self.starts;
        job.requant = self.requant;
        job.w = self.w;
        job.pixels = rows;
        job.x_step = x_step;
        job.dst_step = dst_step;
        (job.w_base, job.start_base, job.requant_base, job.groups_base, job.dst_base) = (job.w, job.start, job.requant, whole, dst);
        // SAFETY: the groups' rows, requant entries, starts and outputs exist (`new`'s and the
        // caller's promises).
        unsafe {
            if whole > 0 {
                job.groups = whole;
                job.lanes = [0, 1, 2, 3];
                if self.general {
                    rows_s8x4_any(job);
                } else {
                    rows_s8x4(job);
                }
            }
            if left > 0 {
                let c0 = 4 * whole;
                let last = left as u32 - 1;
                job.groups = 1;
                job.lanes = [0, 1.min(last), 2.min(last), 3.min(last)];
                job.w = self.w.add(c0 * job.k);
                job.dst = dst.add(c0);
                job.x = x;
                job.pixels = rows;
                (job.w_base, job.start_base, job.requant_base, job.groups_base, job.dst_base) = (job.w, job.start, job.requant, 1, job.dst);
                if self.general {
                    rows_s8x4_any(job);
                } else {
                    rows_s8x4(job);
                }
            }
        }
    }
}

/// Regular convolution through [`rows_s8x4`], the arithmetic of
/// [`crate::kernels::conv::conv2d_i8`].
///
/// # Safety
/// [`supports_conv`] holds, `requant` is covered for `p.output[3]` channels and
/// `out_zero_point`, `x_zero_point` is in `-128..=127`, and the slices have the lengths
/// `conv2d_i8` documents.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub unsafe fn conv2d_s8(
    p: &Conv2dParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    requant: RequantTable<'_>,
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
    scratch: &mut Scratch,
) {
    let [n, h, wd, c] = p.input;
    let [_, oh, ow, oc] = p.output;
    let k = window_len(p);
    let starts = scratch.words() as *mut i32;
    // SAFETY: the starts, then the window, fit in the scratch (`supports_conv`).
    let window = unsafe { (scratch.words() as *mut u8).add(starts_bytes(oc)) };
    // SAFETY: the caller's promises; the starts fit.
    let mut channels = unsafe { Channels::new(w, k, oc, bias, x_zero_point, requant, out_zero_point, act, starts) };
    let dst = out.as_mut_ptr();
    if reads_in_place(p) {
        let x_pixel = p.stride[1] * c;
        for b in 0..n {
            for oy in 0..oh {
                // SAFETY: the pixels read are in the image (`reads_in_place`); the output
                // row's `ow * oc` bytes exist.
                unsafe {
                    let src = x.as_ptr().add((b * h + oy * p.stride[0]) * wd * c);
                    let dst = dst.add((b * oh + oy) * ow * oc);
                    if k <= 16 && ow >= 4 {
                        channels.run_quads(src, dst, ow / 4, x_pixel, oc);
                        if ow % 4 != 0 {
                            // The last four pixels (some computed twice, to the same bytes).
                            channels.run_quads(src.add((ow - 4) * x_pixel), dst.add((ow - 4) * oc), 1, x_pixel, oc);
                        }
                    } else {
                        channels.run_rows(src, dst, ow, x_pixel, oc);
                    }
                }
            }
        }
        return;
    }
    let [kh, kw] = p.kernel;
    // The last window origins inside the image (none with dilation: `gather` handles those).
    let limits = if p.dilation == [1, 1] { h.checked_sub(kh).zip(wd.checked_sub(kw)) } else { None };
    let (y_last, x_last) = limits.unwrap_or((0, 0));
    let mut at = [0, 0, 0];
    for pixel in 0..n * oh * ow {
        let [b, oy, ox] = at;
        let (y0, x0) = ((oy * p.stride[0]).wrapping_sub(p.pad[0]), (ox * p.stride[1]).wrapping_sub(p.pad[1]));
        // SAFETY: the window fits in the scratch; an inside window's rows are in the image;
        // the output pixel's `oc` bytes exist.
        unsafe {
            if limits.is_some() && y0 <= y_last && x0 <= x_last {
                // A window inside the image (`y0`, `x0` wrap to large values when negative).
                copy_rows(window, x.as_ptr().add(((b * h + y0) * wd + x0) * c) as *const u8, kw * c, kh, wd * c);
            } else {
                super::conv::gather(p, x, at, window, x_zero_point as u8);
            }
            channels.run(window as *const i8, dst.add(pixel * oc));
        }
        at = super::conv::next_pixel(p, at);
    }
}

#[cfg(mote_arm_mve)]
core::arch::global_asm!(
    ".cpu cortex-m55",
    //
    // mote_mve_copy_rows(dst, src, run, rows, src_step): `rows` runs of `run` bytes, `src_step`
    // apart in the source, one after the other at `dst`, 16 bytes per tail-predicated step.
    // r4 src_step, r5/r6 the row's source/destination, lr the loop count.
    ".section .text.mote_mve_copy_rows,\"ax\",%progbits",
    ".global mote_mve_copy_rows",
    ".type mote_mve_copy_rows,%function",
    ".p2align 2",
    ".thumb_func",
    "mote_mve_copy_rows:",
    "push {{r4-r6, lr}}",
    "ldr r4, [sp, #16]",
    "1:",
    "mov r5, r1",
    "mov r6, r0",
    "wlstp.8 lr, r2, 3f",
    "2:",
    "vldrb.u8 q0, [r5], #16",
    "vstrb.8 q0, [r6], #16",
    "letp lr, 2b",
    "3:",
    "add r0, r2",
    "add r1, r4",
    "subs r3, #1",
    "bne 1b",
    "pop {{r4-r6, pc}}",
    ".size mote_mve_copy_rows, . - mote_mve_copy_rows",
    ".text",
);

#[cfg(mote_arm_mve)]
extern "C" {
    fn mote_mve_copy_rows(dst: *mut u8, src: *const u8, run: usize, rows: usize, src_step: usize);
}

/// Copies `rows` runs of `run` bytes, `src_step` bytes apart from `src`, one after the other
/// to `dst` (a window inside the image, without [`super::conv::gather`]'s set-up).
///
/// # Safety
/// `rows >= 1`; `dst` is writable for `rows * run` bytes; every run is readable.
#[cfg(mote_arm_mve)]
#[inline(always)]
unsafe fn copy_rows(dst: *mut u8, src: *const u8, run: usize, rows: usize, src_step: usize) {
    // SAFETY: forwarded to the caller.
    unsafe { mote_mve_copy_rows(dst, src, run, rows, src_step) }
}

/// Portable twin of the Arm routine.
///
/// # Safety
/// As the Arm routine.
#[cfg(not(mote_arm_mve))]
unsafe fn copy_rows(dst: *mut u8, src: *const u8, run: usize, rows: usize, src_step: usize) {
    for r in 0..rows {
        // SAFETY: the caller's ranges.
        unsafe { core::ptr::copy_nonoverlapping(src.add(r * src_step), dst.add(r * run), run) };
    }
}

/// Fully connected layer through [`rows_s8x4`], the arithmetic of
/// [`crate::kernels::fully_connected::fully_connected_i8`].
///
/// # Safety
/// [`supports_fc`] holds, `requant` is covered for `p.outputs` channels and `out_zero_point`,
/// `x_zero_point` is in `-128..=127`, the slices have the lengths `fully_connected_i8`
/// documents, and `scratch` holds [`fully_connected_i8_scratch_bytes`].
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub unsafe fn fully_connected_s8(
    p: &FcParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    requant: RequantTable<'_>,
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
    scratch: &mut Scratch,
) {
    let (k, m) = (p.inputs, p.outputs);
    let mut c0 = 0;
    while c0 < m {
        let cn = FC_CHUNK.min(m - c0);
        let requant = requant.channels(c0, cn);
        // SAFETY: the caller's promises; one chunk's starts fit (`fully_connected_i8_scratch_bytes`).
        let mut channels =
            unsafe { Channels::new(&w[c0 * k..], k, cn, bias.map(|b| &b[c0..c0 + cn]), x_zero_point, requant, out_zero_point, act, scratch.words() as *mut i32) };
        // SAFETY: the rows of `x` and `out` exist; channels `c0 .. c0 + cn` of each row.
        unsafe { channels.run_rows(x.as_ptr(), out.as_mut_ptr().add(c0), p.rows, k, m) };
        c0 += cn;
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

    fn params(input: [usize; 4], output: [usize; 4], kernel: [usize; 2], stride: usize, pad: [usize; 2]) -> Conv2dParams {
        Conv2dParams { input, output, kernel, stride: [stride; 2], dilation: [1, 1], pad, groups: 1 }
    }

    /// Runs `p` on random data through [`conv2d_i8`] and the reference; checks every byte.
    fn check_conv(p: Conv2dParams, seed: u64, per_tensor: bool) {
        let mut rng = Rng(seed);
        let oc = p.output[3];
        let x = random_i8(&mut rng, p.input.iter().product());
        let w = random_i8(&mut rng, oc * p.kernel[0] * p.kernel[1] * p.input[3] / p.groups);
        let bias: Vec<i32> = (0..oc).map(|_| rng.int(-50_000, 50_000) as i32).collect();
        let n_rq = if per_tensor { 1 } else { oc };
        let requant: Vec<Requant> = (0..n_rq).map(|_| quantize_multiplier(libm::pow(10.0, -4.0 + 3.0 * rng.unit()))).collect();
        let (x_zp, out_zp) = (rng.int(-128, 127) as i32, rng.int(-128, 127) as i32);
        let act = rng.act_i8(out_zp);
        let want = if p.groups > 1 { MvePath::Depthwise } else { MvePath::Matmul };
        assert_eq!(conv_path(&p, x_zp, &requant, out_zp), want, "{p:?}");
        let n = p.output.iter().product();
        let (mut got, mut reference) = (std::vec![0i8; n], std::vec![0i8; n]);
        conv2d_i8(&p, &x, x_zp, &w, Some(&bias), &requant, out_zp, &mut got, act);
        crate::kernels::conv::conv2d_i8(&p, &x, x_zp, &w, Some(&bias), &requant, out_zp, &mut reference, act);
        if let Some(at) = got.iter().zip(&reference).position(|(g, r)| g != r) {
            panic!("{p:?}: out[{at}] = {}, reference {}", got[at], reference[at]);
        }
    }

    #[test]
    fn benchmark_and_odd_layers_match_the_reference() {
        check_conv(params([1, 49, 10, 1], [1, 25, 5, 64], [10, 4], 2, [4, 1]), 1, false);
        check_conv(params([1, 25, 5, 64], [1, 25, 5, 64], [1, 1], 1, [0, 0]), 3, false);
        check_conv(params([1, 32, 32, 3], [1, 32, 32, 16], [3, 3], 1, [1, 1]), 4, true);
        check_conv(params([1, 32, 32, 16], [1, 16, 16, 32], [1, 1], 2, [0, 0]), 5, false);
        check_conv(params([1, 6, 9, 8], [1, 6, 9, 16], [1, 1], 1, [0, 0]), 6, true);
        check_conv(params([1, 3, 7, 17], [1, 3, 7, 5], [1, 1], 1, [0, 0]), 12, false);
        check_conv(params([1, 8, 8, 64], [1, 8, 8, 64], [3, 3], 1, [1, 1]), 7, false);
        // Channel counts that leave a partial group, K below and around 16, batch 2.
        for oc in 1..=9 {
            check_conv(params([2, 3, 5, 5], [2, 3, 5, oc], [1, 1], 1, [0, 0]), 8 + oc as u64, oc % 2 == 0);
            check_conv(params([1, 4, 3, 7], [1, 4, 3, oc], [3, 3], 1, [1, 1]), 20 + oc as u64, oc % 3 == 0);
        }
        // Windows wholly in the padding; dilation.
        check_conv(params([1, 2, 2, 4], [1, 4, 4, 3], [1, 1], 1, [1, 1]), 30, false);
        check_conv(Conv2dParams { dilation: [2, 3], ..params([1, 9, 11, 6], [1, 5, 5, 6], [3, 3], 1, [0, 1]) }, 31, false);
        // Depthwise: keyword spotting's layer, stride 2, partial groups, padding-only windows,
        // dilation, more channels than one chunk holds.
        let dw = |input: [usize; 4], output: [usize; 4], kernel, stride, pad| Conv2dParams { groups: input[3], ..params(input, output, kernel, stride, pad) };
        check_conv(dw([1, 25, 5, 64], [1, 25, 5, 64], [3, 3], 1, [1, 1]), 40, false);
        check_conv(dw([1, 7, 9, 13], [1, 4, 5, 13], [3, 3], 2, [1, 1]), 41, true);
        check_conv(dw([2, 7, 9, 8], [2, 4, 5, 8], [5, 3], 2, [2, 1]), 42, false);
        check_conv(dw([1, 2, 2, 9], [1, 5, 5, 9], [1, 1], 1, [2, 2]), 43, false);
        check_conv(Conv2dParams { dilation: [2, 3], ..dw([1, 9, 11, 20], [1, 5, 5, 20], [3, 3], 1, [0, 1]) }, 44, false);
        check_conv(dw([1, 4, 4, 300], [1, 4, 4, 300], [3, 3], 1, [1, 1]), 45, false);
        // A last chunk of fewer than eight channels (3×3: 232 channels per chunk).
        check_conv(dw([1, 3, 3, 234], [1, 3, 3, 234], [3, 3], 1, [1, 1]), 46, false);
    }

    /// Scales of 0.5 and more (shifts >= 0), zero and tiny multipliers: the general stage.
    #[test]
    fn any_requant_matches_the_reference() {
        for (seed, scale_exp) in [(50u64, -1.0), (51, 0.0), (52, 1.5), (53, -9.5)] {
            let depthwise = |c: usize, stride: usize| Conv2dParams { groups: c, ..params([1, 7, 6, c], [1, 7usize.div_ceil(stride), 6usize.div_ceil(stride), c], [3, 3], stride, [1, 1]) };
            let shapes = [
                params([1, 6, 5, 24], [1, 6, 5, 13], [1, 1], 1, [0, 0]),
                params([1, 3, 6, 9], [1, 3, 6, 7], [1, 1], 1, [0, 0]),
                params([1, 5, 4, 7], [1, 5, 4, 6], [3, 3], 1, [1, 1]),
                depthwise(8, 1),
                depthwise(20, 2),
            ];
            for p in shapes {
                let mut rng = Rng(seed);
                let oc = p.output[3];
                let x = random_i8(&mut rng, p.input.iter().product());
                let w = random_i8(&mut rng, oc * window_len(&p) / p.groups);
                let bias: Vec<i32> = (0..oc).map(|_| rng.int(-50_000, 50_000) as i32).collect();
                let mut requant: Vec<Requant> = (0..oc).map(|_| quantize_multiplier(libm::pow(10.0, scale_exp + rng.unit()))).collect();
                requant[0] = Requant { multiplier: 0, shift: 0 };
                requant[1] = Requant { multiplier: i32::MAX, shift: 30 };
                let (x_zp, out_zp) = (rng.int(-128, 127) as i32, rng.int(-128, 127) as i32);
                let act = rng.act_i8(out_zp);
                let want = if p.groups > 1 { MvePath::Depthwise } else { MvePath::Matmul };
                assert_eq!(conv_path(&p, x_zp, &requant, out_zp), want);
                let n = p.output.iter().product();
                let (mut got, mut reference) = (std::vec![0i8; n], std::vec![0i8; n]);
                conv2d_i8(&p, &x, x_zp, &w, Some(&bias), &requant, out_zp, &mut got, act);
                crate::kernels::conv::conv2d_i8(&p, &x, x_zp, &w, Some(&bias), &requant, out_zp, &mut reference, act);
                assert_eq!(got, reference, "{p:?} scale 10^{scale_exp}");
            }
        }
    }

    #[test]
    fn fully_connected_matches_the_reference() {
        for (seed, (rows, inputs, outputs)) in [(1, 640, 128), (1, 128, 8), (3, 10, 5), (2, 7, 1), (4, 64, 12), (3, 17, 3)].into_iter().enumerate() {
            let mut rng = Rng(seed as u64);
            let p = FcParams { rows, inputs, outputs };
            let x = random_i8(&mut rng, rows * inputs);
            let w = random_i8(&mut rng, outputs * inputs);
            let bias: Vec<i32> = (0..outputs).map(|_| rng.int(-50_000, 50_000) as i32).collect();
            let requant: Vec<Requant> = (0..outputs).map(|_| quantize_multiplier(libm::pow(10.0, -5.0 + 3.0 * rng.unit()))).collect();
            let (x_zp, out_zp) = (rng.int(-128, 127) as i32, rng.int(-128, 127) as i32);
            let act = rng.act_i8(out_zp);
            assert!(fc_is_mve(&p, x_zp, &requant, out_zp));
            let (mut got, mut reference) = (std::vec![0i8; rows * outputs], std::vec![0i8; rows * outputs]);
            fully_connected_i8(&p, &x, x_zp, &w, Some(&bias), &requant, out_zp, &mut got, act);
            crate::kernels::fully_connected::fully_connected_i8(&p, &x, x_zp, &w, Some(&bias), &requant, out_zp, &mut reference, act);
            assert_eq!(got, reference, "{p:?}");
        }
    }

    /// The shared conformance suites, run on the host through the portable twins of the
    /// assembly; `examples/kernel-conformance` runs the assembly itself on the Cortex-M55 under
    /// QEMU.
    #[test]
    fn conformance_suites() {
        use crate::conformance::{self, Cases};
        for seed in [1, 2, 3] {
            if let Err(m) = conformance::conv2d_i8(conv2d_i8, Cases::new(seed, 2000)) {
                panic!("{m}");
            }
            if let Err(m) = conformance::fully_connected_i8(fully_connected_i8, Cases::new(seed, 2000)) {
                panic!("{m}");
            }
        }
    }
}
