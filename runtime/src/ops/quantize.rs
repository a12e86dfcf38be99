//! Quantize (f32 → int8) and Dequantize (int8 → f32) with per-tensor parameters (ONNX
//! `QuantizeLinear` / `DequantizeLinear`, TFLite `QUANTIZE` / `DEQUANTIZE`).
//!
//! Operands `[x]`; the int8 side (the output of Quantize, the input of Dequantize) carries the
//! parameters. Kernels: [`crate::kernels::quantize`].

use super::operands::{cast_mut, qparams, Check, Exec};
use crate::error::{FormatError, RunError};
use crate::kernels::quantize as kernel;
use crate::tensor::DType;

/// Load-time checks: `x` of dtype `from`, the output of dtype `to`, the same shape, and
/// per-tensor parameters on the int8 side.
pub(crate) fn check(c: &Check<'_, '_>, from: DType, to: DType) -> Result<(), FormatError> {
    c.arity_is(1)?;
    c.expect_dtype(&c.x, c.x_id(), from)?;
    c.expect_dtype(&c.y, c.y_id(), to)?;
    let (quantized, id) = if c.is_i8() { (&c.x, c.x_id()) } else { (&c.y, c.y_id()) };
    if quantized.qparams().is_none() {
        return Err(FormatError::InvalidQuantization { tensor: id });
    }
    if c.x.shape != c.y.shape {
        return Err(c.shape_err(c.y_id()));
    }
    Ok(())
}

pub(crate) fn run_quantize(e: &Exec<'_, '_>, out: &mut [u8]) -> Result<(), RunError> {
    kernel::quantize_f32_i8(qparams(e.y)?, e.get(e.x)?, cast_mut(out)?);
    Ok(())
}

pub(crate) fn run_dequantize(e: &Exec<'_, '_>, out: &mut [u8]) -> Result<(), RunError> {
    let x = e.x;
    kernel::dequantize_i8_f32(qparams(x)?, e.get(x)?, cast_mut(out)?);
    Ok(())
}
