//! Resize of the H and W axes of an NHWC tensor, nearest or bilinear (ONNX `Resize` with
//! `mode` `nearest` / `linear`, its `coordinate_transformation_mode` and `nearest_mode`).
//!
//! Operands `[x]`; the output keeps the input's dtype and int8 quantization, its N and C.
//! Kernels: [`crate::kernels::resize`].

use serde::{Deserialize, Serialize};

use super::operands::{cast, cast_mut, Check, Exec};
use crate::error::{FormatError, RunError};
use crate::kernels::resize::{self as kernel, ResizeParams};
use crate::tensor::DType;

/// How a source coordinate is computed from a destination one (ONNX
/// `coordinate_transformation_mode`), as stored (discriminants in `FORMAT.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CoordTransform {
    HalfPixel,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
}

/// How a fractional source coordinate picks a pixel in nearest mode (ONNX `nearest_mode`), as
/// stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NearestRound {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
}

/// Interpolation, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ResizeMode {
    Nearest(NearestRound),
    Bilinear,
}

impl From<CoordTransform> for kernel::CoordTransform {
    fn from(c: CoordTransform) -> Self {
        match c {
            CoordTransform::HalfPixel => kernel::CoordTransform::HalfPixel,
            CoordTransform::PytorchHalfPixel => kernel::CoordTransform::PytorchHalfPixel,
            CoordTransform::AlignCorners => kernel::CoordTransform::AlignCorners,
            CoordTransform::Asymmetric => kernel::CoordTransform::Asymmetric,
        }
    }
}

impl From<NearestRound> for kernel::NearestRound {
    fn from(r: NearestRound) -> Self {
        match r {
            NearestRound::RoundPreferFloor => kernel::NearestRound::RoundPreferFloor,
            NearestRound::RoundPreferCeil => kernel::NearestRound::RoundPreferCeil,
            NearestRound::Floor => kernel::NearestRound::Floor,
            NearestRound::Ceil => kernel::NearestRound::Ceil,
        }
    }
}

/// Load-time checks: 4-D input and output of the same N and C and type; bilinear on f32 or int8
/// only (nearest copies any element type).
pub(crate) fn check(c: &Check<'_, '_>, mode: ResizeMode) -> Result<(), FormatError> {
    c.arity_is(1)?;
    c.same_type(&c.x, c.x_id())?;
    if matches!(mode, ResizeMode::Bilinear) {
        c.float_or_i8(&c.x, c.x_id())?;
    }
    let (xd, yd) = (c.x.shape.dims(), c.y.shape.dims());
    if xd.len() != 4 || yd.len() != 4 || xd[0] != yd[0] || xd[3] != yd[3] {
        return Err(c.shape_err(c.y_id()));
    }
    Ok(())
}

pub(crate) fn run(e: &Exec<'_, '_>, out: &mut [u8], mode: ResizeMode, coord: CoordTransform) -> Result<(), RunError> {
    let x = e.x;
    let p = ResizeParams { input: x.shape.nhwc(), output: e.y.shape.nhwc(), coord: coord.into() };
    let data = e.bytes(x)?.ok_or(RunError::Internal)?;
    match (mode, e.y.dtype) {
        (ResizeMode::Nearest(r), DType::I8) => kernel::resize_nearest(&p, r.into(), cast::<i8>(data)?, cast_mut(out)?),
        (ResizeMode::Nearest(r), _) => kernel::resize_nearest(&p, r.into(), cast::<u32>(data)?, cast_mut(out)?),
        (ResizeMode::Bilinear, DType::F32) => kernel::resize_bilinear_f32(&p, cast(data)?, cast_mut(out)?),
        (ResizeMode::Bilinear, DType::I8) => kernel::resize_bilinear_i8(&p, cast(data)?, cast_mut(out)?),
        (ResizeMode::Bilinear, DType::I32) => return Err(RunError::Internal),
    }
    Ok(())
}
