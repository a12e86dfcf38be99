//! Pool2d (average, max) and GlobalAvgPool over NHWC tensors (ONNX `AveragePool` / `MaxPool` /
//! `GlobalAveragePool`, TFLite `AVERAGE_POOL_2D` / `MAX_POOL_2D` / `MEAN` over H and W).
//!
//! Operands `[x]`; the output keeps the input's dtype and int8 quantization. Kernels:
//! [`crate::kernels::pool`].

use serde::{Deserialize, Serialize};

use super::operands::{cast_mut, window_out, Check, Exec};
use super::{Activation, Feature};
use crate::error::{FormatError, RunError};
use crate::kernels::pool::{self as kernel, Pool2dParams};

/// The reduction of a Pool2d op, as stored (discriminants in `FORMAT.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PoolKind {
    Avg,
    Max,
}

/// Load-time checks of Pool2d: 4-D, non-zero kernel and stride, the output size implied by them;
/// an int8 average counting padded taps only at zero point 0 (the kernel pads with a stored 0).
pub(crate) fn check_pool2d(c: &Check<'_, '_>, kernel: [u16; 2], stride: [u16; 2], pad: [u16; 4], count_include_pad: bool) -> Result<(), FormatError> {
    c.arity_is(1)?;
    c.float_or_i8(&c.x, c.x_id())?;
    c.same_type(&c.x, c.x_id())?;
    let (xd, yd) = (c.x.shape.dims(), c.y.shape.dims());
    if xd.len() != 4 || yd.len() != 4 {
        return Err(c.shape_err(c.x_id()));
    }
    if kernel.contains(&0) || stride.contains(&0) {
        return Err(c.attr());
    }
    // The int8 kernel pads with a stored 0, which is a real 0 only at zero point 0.
    let counts_padding = count_include_pad && pad.iter().any(|&p| p != 0);
    if c.is_i8_in(Feature::Pool) && counts_padding && c.x.qparams().is_some_and(|q| q.zero_point != 0) {
        return Err(c.attr());
    }
    let oh = window_out(xd[1], kernel[0] as u32, stride[0], 1, pad[0], pad[2]).ok_or(c.attr())?;
    let ow = window_out(xd[2], kernel[1] as u32, stride[1], 1, pad[1], pad[3]).ok_or(c.attr())?;
    if yd != [xd[0], oh, ow, xd[3]] {
        return Err(c.shape_err(c.y_id()));
    }
    Ok(())
}

/// Load-time checks of GlobalAvgPool: a 4-D input, an output of `[n, 1, 1, c]` or `[n, c]`.
pub(crate) fn check_global(c: &Check<'_, '_>) -> Result<(), FormatError> {
    c.arity_is(1)?;
    c.float_or_i8(&c.x, c.x_id())?;
    c.same_type(&c.x, c.x_id())?;
    let (xd, yd) = (c.x.shape.dims(), c.y.shape.dims());
    if xd.len() != 4 {
        return Err(c.shape_err(c.x_id()));
    }
    if yd != [xd[0], 1, 1, xd[3]] && yd != [xd[0], xd[3]] {
        return Err(c.shape_err(c.y_id()));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn run_pool2d(e: &Exec<'_, '_>, out: &mut [u8], kind: PoolKind, kernel: [u16; 2], stride: [u16; 2], pad: [u16; 4], count_include_pad: bool, act: Activation) -> Result<(), RunError> {
    let x = e.x;
    let p = Pool2dParams {
        input: x.shape.nhwc(),
        output: e.y.shape.nhwc(),
        kernel: [kernel[0] as usize, kernel[1] as usize],
        stride: [stride[0] as usize, stride[1] as usize],
        pad: [pad[0] as usize, pad[1] as usize],
        count_include_pad,
    };
    match (kind, e.is_i8(Feature::Pool)) {
        (PoolKind::Avg, false) => kernel::avg_pool2d_f32(&p, e.get(x)?, cast_mut(out)?, e.act_f32(act)),
        (PoolKind::Avg, true) => kernel::avg_pool2d_i8(&p, e.get(x)?, cast_mut(out)?, e.act_i8(act)?),
        (PoolKind::Max, false) => kernel::max_pool2d_f32(&p, e.get(x)?, cast_mut(out)?, e.act_f32(act)),
        (PoolKind::Max, true) => kernel::max_pool2d_i8(&p, e.get(x)?, cast_mut(out)?, e.act_i8(act)?),
    }
    Ok(())
}

pub(crate) fn run_global(e: &Exec<'_, '_>, out: &mut [u8], act: Activation) -> Result<(), RunError> {
    let x = e.x;
    let [n, h, w, c] = x.shape.nhwc();
    if e.is_i8(Feature::Pool) {
        kernel::global_avg_pool_i8(n, h * w, c, e.get(x)?, cast_mut(out)?, e.act_i8(act)?);
    } else {
        kernel::global_avg_pool_f32(n, h * w, c, e.get(x)?, cast_mut(out)?, e.act_f32(act));
    }
    Ok(())
}
