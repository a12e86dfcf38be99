//! Conv2d: NHWC 2-D convolution, regular, depthwise and grouped, with stride, dilation and
//! padding (ONNX `Conv`, TFLite `CONV_2D` / `DEPTHWISE_CONV_2D`).
//!
//! Operands: f32 `[x, w, bias?]`, int8 `[x, w, bias, requant]` (see `Check::weighted`); weights OHWI
//! `[out_channels, kh, kw, in_channels / groups]`. Kernels: [`crate::kernels::conv`].

use super::operands::{cast_mut, qparams, window_out, Check, Exec};
use super::Activation;
use crate::error::{FormatError, RunError};
use crate::kernels::conv::{self as kernel, Conv2dParams};
use crate::quant::Requant;
use crate::tensor::TensorDesc;

/// Load-time checks: operand types, 4-D shapes, `groups` dividing both channel counts, the
/// output size implied by stride, dilation and padding.
pub(crate) fn check(c: &Check<'_, '_>, stride: [u16; 2], dilation: [u16; 2], pad: [u16; 4], groups: u32) -> Result<(), FormatError> {
    let w_id = c.id(1)?;
    let w = c.input(1)?;
    c.weighted(w_id, &w)?;
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

pub(crate) fn run(e: &Exec<'_, '_>, out: &mut [u8], stride: [u16; 2], dilation: [u16; 2], pad: [u16; 4], groups: u32, act: Activation) -> Result<(), RunError> {
    let (x, w) = (e.x, e.input(1)?);
    let p = params(x, w, e.y, stride, dilation, pad, groups);
    if e.is_i8() {
        let requant: &[Requant] = e.get(e.input(3)?)?;
        let bias = Some(e.get::<i32>(e.input(2)?)?);
        crate::kernels::conv2d_i8(&p, e.get(x)?, qparams(x)?.zero_point, e.get(w)?, bias, requant, qparams(e.y)?.zero_point, cast_mut(out)?, e.act_i8(act)?);
    } else {
        kernel::conv2d_f32(&p, e.get(x)?, e.get(w)?, e.optional(2)?, cast_mut(out)?, e.act_f32(act));
    }
    Ok(())
}

/// `n * oh * ow * oc * kh * kw * (c / groups)`, padded taps included.
pub(crate) fn macs(ins: &[TensorDesc<'_>], y: &TensorDesc<'_>, stride: [u16; 2], dilation: [u16; 2], pad: [u16; 4], groups: u32) -> u64 {
    match ins {
        [x, w, ..] => params(x, w, y, stride, dilation, pad, groups).macs(),
        _ => 0,
    }
}
