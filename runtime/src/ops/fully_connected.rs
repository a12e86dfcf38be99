//! FullyConnected: `x [.., k] · w[n, k]ᵀ + bias` over the innermost axis (ONNX `Gemm` /
//! `MatMul` + `Add`, TFLite `FULLY_CONNECTED`).
//!
//! Operands: f32 `[x, w, bias?]`, int8 `[x, w, bias, requant]` (see `Check::weighted`). Kernels:
//! [`crate::kernels::fully_connected`]. int8 weights may be stored in the `fc-q15` layout
//! ([`crate::format::Layout::FcQ15`], feature `fully_connected_q15`), which runs
//! [`crate::kernels::fully_connected_q15_i8_with_scratch`]; the int32 bias may be stored with
//! the input's zero point folded in ([`crate::format::Layout::FcBiasFolded`], same feature),
//! and the kernel then runs with an input zero point of 0.

use super::operands::{cast_mut, qparams, Check, Exec};
use super::{Activation, Feature};
use crate::error::{FormatError, RunError};
use crate::kernels::fully_connected::{self as kernel, FcParams};
use crate::tensor::{DType, TensorDesc};

/// Load-time checks: operand types, `w` of `[n, k]` with `k` the input's innermost size, an
/// output of `[.., n]` with the input's row count.
pub(crate) fn check(c: &Check<'_, '_>) -> Result<(), FormatError> {
    let w_id = c.id(1)?;
    let w = c.input(1)?;
    c.weighted(Feature::FullyConnected, w_id, &w)?;
    let (xd, wd, yd) = (c.x.shape.dims(), w.shape.dims(), c.y.shape.dims());
    let (Some(&kx), Some(&ky)) = (xd.last(), yd.last()) else { return Err(c.shape_err(c.x_id())) };
    if wd.len() != 2 || wd[1] != kx {
        return Err(c.shape_err(w_id));
    }
    let rows = |d: &[u32]| d[..d.len() - 1].iter().map(|&v| v as u64).product::<u64>();
    if ky != wd[0] || rows(xd) != rows(yd) {
        return Err(c.shape_err(c.y_id()));
    }
    Ok(())
}

fn params(ins: &[TensorDesc<'_>]) -> Option<FcParams> {
    let wd = ins.get(1)?.shape.dims();
    let (outputs, inputs) = (*wd.first()? as usize, *wd.get(1)? as usize);
    let rows = ins.first()?.shape.numel()? as usize / inputs.max(1);
    Some(FcParams { rows, inputs, outputs })
}

pub(crate) fn run(e: &Exec<'_, '_>, out: &mut [u8], scratch: &mut [u8], act: Activation) -> Result<(), RunError> {
    let p = params(e.ins).ok_or(RunError::Internal)?;
    let (x, w) = (e.x, e.input(1)?);
    if e.is_i8(Feature::FullyConnected) {
        let requant = e.requant(3)?;
        let bias = Some(e.get::<i32>(e.input(2)?)?);
        let (zx, zy) = (qparams(x)?.zero_point, qparams(e.y)?.zero_point);
        #[cfg(feature = "fully_connected_q15")]
        let zx = if e.layout(2) == crate::format::Layout::FcBiasFolded { 0 } else { zx };
        #[cfg(feature = "fully_connected_q15")]
        if e.layout(1) == crate::format::Layout::FcQ15 {
            return run_q15(e, &p, zx, zy, bias, requant, out, act, scratch);
        }
        crate::kernels::fully_connected_i8_with_scratch(&p, e.get(x)?, zx, e.get(w)?, bias, requant, zy, cast_mut(out)?, e.act_i8(act)?, scratch);
    } else {
        kernel::fully_connected_f32(&p, e.get(x)?, e.get(w)?, e.optional(2)?, cast_mut(out)?, e.act_f32(act));
    }
    Ok(())
}

/// The int8 layer on weights in the `fc-q15` layout. Not inlined: the interpreter's run loop
/// stays the size it is without packed weights.
#[cfg(feature = "fully_connected_q15")]
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn run_q15(e: &Exec<'_, '_>, p: &FcParams, zx: i32, zy: i32, bias: Option<&[i32]>, requant: crate::quant::RequantTable<'_>, out: &mut [u8], act: Activation, scratch: &mut [u8]) -> Result<(), RunError> {
    crate::kernels::fully_connected_q15_i8_with_scratch(p, e.get(e.x)?, zx, e.get(e.input(1)?)?, bias, requant, zy, cast_mut(out)?, e.act_i8(act)?, scratch);
    Ok(())
}

/// The int8 kernel's scratch for the shape ([`crate::kernels::fully_connected_i8_scratch_bytes`]),
/// 0 for f32.
pub(crate) fn scratch_bytes(ins: &[TensorDesc<'_>]) -> usize {
    match (ins.first(), params(ins)) {
        (Some(x), Some(p)) if x.dtype == DType::I8 => crate::kernels::fully_connected_i8_scratch_bytes(&p),
        _ => 0,
    }
}

/// `rows * k * n`.
pub(crate) fn macs(ins: &[TensorDesc<'_>]) -> u64 {
    params(ins).map_or(0, |p| p.macs())
}
