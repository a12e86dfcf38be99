//! Conv2d: NHWC 2-D convolution, regular, depthwise and grouped, with stride, dilation and
//! padding (ONNX `Conv`, TFLite `CONV_2D` / `DEPTHWISE_CONV_2D`).
//!
//! Operands: f32 `[x, w, bias?]`, int8 `[x, w, bias, requant]` (see `Check::weighted`); weights OHWI
//! `[out_channels, kh, kw, in_channels / groups]`. Kernels: [`crate::kernels::conv`].
//!
//! # Output trailing the input
//! For a batch of one, the planner may place the output `shift` bytes *before* the input so that
//! the two overlap (a stride-1 convolution then needs a little more than one tensor's bytes
//! instead of two). The op runs in bands of output rows, top to bottom: the band starting at row
//! `r0` reads input rows from `lo = max(0, r0 * stride - pad_top)` on, and ends at the last row
//! `r1` whose output bytes end at or before input row `lo`'s first byte,
//! `r1 = min(oh, (shift + lo * input_row_bytes) / output_row_bytes)`. Each band is an ordinary
//! kernel call on disjoint slices (its input rows with the top padding that remains, its output
//! rows), and no band writes a byte that it or a later band still reads, since `lo` only grows.
//! A `shift` is allowed where every band makes progress ([`may_overlap`], checked at load); the
//! writer tries the smallest one that needs at most [`MAX_BANDS`] bands.

use super::operands::{cast, cast_mut, qparams, window_out, Check, Exec};
use super::{Activation, Feature};
use crate::error::{FormatError, RunError};
use crate::kernels::conv::{self as kernel, Conv2dParams};
use crate::tensor::{DType, TensorDesc};

/// Load-time checks: operand types, 4-D shapes, `groups` dividing both channel counts, the
/// output size implied by stride, dilation and padding.
pub(crate) fn check(c: &Check<'_, '_>, stride: [u16; 2], dilation: [u16; 2], pad: [u16; 4], groups: u32) -> Result<(), FormatError> {
    let w_id = c.id(1)?;
    let w = c.input(1)?;
    c.weighted(Feature::Conv, w_id, &w)?;
    let (xd, wd, yd) = (c.x.shape.dims(), w.shape.dims(), c.y.shape.dims());
    if xd.len() != 4 || wd.len() != 4 || yd.len() != 4 {
        return Err(c.shape_err(if xd.len() != 4 { c.x_id() } else if wd.len() != 4 { w_id } else { c.y_id() }));
    }
    if stride.contains(&0) || dilation.contains(&0) || groups == 0 || xd[3] % groups != 0 || wd[0] % groups != 0 {
        return Err(c.attr());
    }
    if wd[3] != xd[3] / groups {
        return Err(c.shape_err(w_id));
    }
    let oh = window_out(xd[1], wd[1], stride[0], dilation[0], pad[0], pad[2]);
    let ow = window_out(xd[2], wd[2], stride[1], dilation[1], pad[1], pad[3]);
    if yd != [xd[0], oh.ok_or(c.attr())?, ow.ok_or(c.attr())?, wd[0]] {
        return Err(c.shape_err(c.y_id()));
    }
    Ok(())
}

/// The kernel's geometry from the shapes of `x`, `w` and `y` and the attributes.
#[inline]
fn params(x: &TensorDesc<'_>, w: &TensorDesc<'_>, y: &TensorDesc<'_>, stride: [u16; 2], dilation: [u16; 2], pad: [u16; 4], groups: u32) -> Conv2dParams {
    let wd = w.shape.nhwc();
    Conv2dParams {
        input: x.shape.nhwc(),
        output: y.shape.nhwc(),
        kernel: [wd[1], wd[2]],
        stride: [stride[0] as usize, stride[1] as usize],
        dilation: [dilation[0] as usize, dilation[1] as usize],
        pad: [pad[0] as usize, pad[1] as usize],
        groups: groups as usize,
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn run(e: &Exec<'_, '_>, out: &mut [u8], scratch: &mut [u8], stride: [u16; 2], dilation: [u16; 2], pad: [u16; 4], groups: u32, act: Activation) -> Result<(), RunError> {
    let (x, w) = (e.x, e.input(1)?);
    let p = params(x, w, e.y, stride, dilation, pad, groups);
    if let Some(xb) = e.bytes(x)? {
        return call(e, &p, xb, out, scratch, act);
    }
    // The output trails the input: `out` is the window holding both.
    let (xo, yo) = (e.window_offset(x)?, e.window_offset(e.y)?);
    let shift = xo.checked_sub(yo).ok_or(RunError::Internal)? as u64;
    let elem = e.y.dtype.size();
    let (ri, ro) = row_bytes(&p, elem);
    let mut r0 = 0;
    while r0 < p.output[1] {
        let (r1, lo, hi) = next_band(&p, elem, shift, r0).ok_or(RunError::Internal)?;
        let split = yo + r1 * ro;
        let (head, tail) = out.split_at_mut(split);
        let ob = head.get_mut(yo + r0 * ro..).ok_or(RunError::Internal)?;
        let xs = (xo + lo * ri).checked_sub(split).ok_or(RunError::Internal)?;
        let xb = tail.get(xs..xs + (hi - lo) * ri).ok_or(RunError::Internal)?;
        let [_, _, iw, c] = p.input;
        let [_, _, ow, oc] = p.output;
        let band = Conv2dParams { input: [1, hi - lo, iw, c], output: [1, r1 - r0, ow, oc], pad: [lo + p.pad[0] - r0 * p.stride[0], p.pad[1]], ..p };
        call(e, &band, xb, ob, scratch, act)?;
        r0 = r1;
    }
    Ok(())
}

/// One kernel call: `p` over input bytes `xb` into output bytes `ob`.
#[inline(never)]
fn call(e: &Exec<'_, '_>, p: &Conv2dParams, xb: &[u8], ob: &mut [u8], scratch: &mut [u8], act: Activation) -> Result<(), RunError> {
    let (x, w) = (e.x, e.input(1)?);
    if e.is_i8(Feature::Conv) {
        let requant = e.requant(3)?;
        let bias = Some(e.get::<i32>(e.input(2)?)?);
        let (zx, zy) = (qparams(x)?.zero_point, qparams(e.y)?.zero_point);
        crate::kernels::conv2d_i8_with_scratch(p, cast(xb)?, zx, e.get(w)?, bias, requant, zy, cast_mut(ob)?, e.act_i8(act)?, scratch);
    } else {
        kernel::conv2d_f32(p, cast(xb)?, e.get(w)?, e.optional(2)?, cast_mut(ob)?, e.act_f32(act));
    }
    Ok(())
}

/// The most bands the writer accepts for an output trailing its input: each band costs a kernel
/// call (for the Arm block kernel, widening the weights again).
pub const MAX_BANDS: usize = 8;

/// Bytes of one input row and of one output row.
fn row_bytes(p: &Conv2dParams, elem: usize) -> (usize, usize) {
    (p.input[2] * p.input[3] * elem, p.output[2] * p.output[3] * elem)
}

/// The band from output row `r0` when the output starts `shift` bytes before the input:
/// `(r1, lo, hi)`, its output rows `r0 .. r1` reading input rows `lo .. hi`. `None` where it
/// cannot make progress (or the batch is not one, or the band would read no input row).
fn next_band(p: &Conv2dParams, elem: usize, shift: u64, r0: usize) -> Option<(usize, usize, usize)> {
    let [n, h, _, _] = p.input;
    let oh = p.output[1];
    let (ri, ro) = row_bytes(p, elem);
    if n != 1 || r0 >= oh || ro == 0 {
        return None;
    }
    let top = (r0 * p.stride[0]) as i64 - p.pad[0] as i64;
    let lo = top.clamp(0, h as i64) as usize;
    // In `usize`, saturating: exact wherever the output's bytes (`oh * ro`) fit a `usize`, and
    // no software 64-bit divide on 32-bit cores.
    let r1 = (usize::try_from(shift).unwrap_or(usize::MAX).saturating_add(lo * ri) / ro).min(oh);
    let bottom = ((r1.max(1) - 1) * p.stride[0]) as i64 - p.pad[0] as i64 + ((p.kernel[0] - 1) * p.dilation[0]) as i64 + 1;
    let hi = bottom.clamp(0, h as i64) as usize;
    (r1 > r0 && hi > lo).then_some((r1, lo, hi))
}

/// How many bands the op runs in at `shift`, `None` if some band cannot make progress.
fn bands(p: &Conv2dParams, elem: usize, shift: u64) -> Option<usize> {
    let (mut r0, mut count) = (0, 0);
    while r0 < p.output[1] {
        r0 = next_band(p, elem, shift, r0)?.0;
        count += 1;
    }
    Some(count)
}

/// The overlap rule (see the module docs): the output may start `shift` bytes before input 0.
#[allow(clippy::too_many_arguments)]
pub(crate) fn may_overlap(slot: usize, ins: &[TensorDesc<'_>], y: &TensorDesc<'_>, stride: [u16; 2], dilation: [u16; 2], pad: [u16; 4], groups: u32, shift: u64) -> bool {
    match ins {
        [x, w, ..] if slot == 0 => bands(&params(x, w, y, stride, dilation, pad, groups), y.dtype.size(), shift).is_some(),
        _ => false,
    }
}

/// The smallest shift, a multiple of 16, that runs the op in at most [`MAX_BANDS`] bands.
pub(crate) fn overlap_shift(ins: &[TensorDesc<'_>], y: &TensorDesc<'_>, stride: [u16; 2], dilation: [u16; 2], pad: [u16; 4], groups: u32) -> Option<u64> {
    let [x, w, ..] = ins else { return None };
    let p = params(x, w, y, stride, dilation, pad, groups);
    let elem = y.dtype.size();
    let fits = |k: u64| bands(&p, elem, 16 * k).is_some_and(|b| b <= MAX_BANDS);
    let (mut lo, mut hi) = (1u64, (y.byte_len()? as u64).div_ceil(16).max(1));
    if !fits(hi) {
        return None;
    }
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fits(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(16 * lo)
}

/// The int8 kernel's scratch for the shape ([`crate::kernels::conv2d_i8_scratch_bytes`]), 0 for
/// f32. The bands of an output trailing its input have fewer pixels and get the same scratch;
/// a band whose kernel would want more (a depthwise band walked transposed, in theory) takes the
/// reference kernel: the same bytes, more instructions.
pub(crate) fn scratch_bytes(ins: &[TensorDesc<'_>], y: &TensorDesc<'_>, stride: [u16; 2], dilation: [u16; 2], pad: [u16; 4], groups: u32) -> usize {
    match ins {
        [x, w, ..] if x.dtype == DType::I8 => crate::kernels::conv2d_i8_scratch_bytes(&params(x, w, y, stride, dilation, pad, groups)),
        _ => 0,
    }
}

/// `n * oh * ow * oc * kh * kw * (c / groups)`, padded taps included.
pub(crate) fn macs(ins: &[TensorDesc<'_>], y: &TensorDesc<'_>, stride: [u16; 2], dilation: [u16; 2], pad: [u16; 4], groups: u32) -> u64 {
    match ins {
        [x, w, ..] => params(x, w, y, stride, dilation, pad, groups).macs(),
        _ => 0,
    }
}
