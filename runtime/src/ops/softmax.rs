//! Softmax over the innermost axis (ONNX `Softmax` with the last axis, TFLite `SOFTMAX`).
//!
//! Operands: f32 `[x]`; int8 `[x, exp_table]`, where `exp_table` is a constant i32 `[256]` built
//! on the host by [`softmax_exp_table`](crate::kernels::softmax::softmax_exp_table) from `beta`
//! and the input scale, and the attribute `out_inv_q16` is
//! [`softmax_out_inv_q16`](crate::kernels::softmax::softmax_out_inv_q16) of the output scale.
//! Kernels: [`crate::kernels::softmax`].

use super::operands::{cast_mut, qparams, Check, Exec};
use super::Feature;
use crate::error::{FormatError, RunError};
use crate::kernels::softmax::{self as kernel, SOFTMAX_I8_MAX_N};
use crate::tensor::DType;

/// Load-time checks: f32 or int8 of the output's dtype and shape; int8 with its table, a
/// non-zero `out_inv_q16` and an innermost axis the kernel computes exactly; a finite `beta`.
pub(crate) fn check(c: &Check<'_, '_>, beta: f32, out_inv_q16: u32) -> Result<(), FormatError> {
    c.float_or_i8(&c.x, c.x_id())?;
    c.expect_dtype(&c.y, c.y_id(), c.x.dtype)?;
    let xd = c.x.shape.dims();
    if c.is_i8_in(Feature::Softmax) {
        c.arity_is(2)?;
        c.table(1, DType::I32)?;
        if out_inv_q16 == 0 || xd.last().is_some_and(|&n| n as usize > SOFTMAX_I8_MAX_N) {
            return Err(c.attr());
        }
    } else {
        c.arity_is(1)?;
    }
    if !beta.is_finite() || xd.is_empty() {
        return Err(c.attr());
    }
    if c.x.shape != c.y.shape {
        return Err(c.shape_err(c.y_id()));
    }
    Ok(())
}

pub(crate) fn run(e: &Exec<'_, '_>, out: &mut [u8], beta: f32, out_inv_q16: u32) -> Result<(), RunError> {
    let x = e.x;
    let n = *x.shape.dims().last().ok_or(RunError::Internal)? as usize;
    let rows = x.shape.numel().unwrap_or(0) as usize / n.max(1);
    if e.is_i8(Feature::Softmax) {
        let table: &[i32; 256] = e.get::<i32>(e.input(1)?)?.try_into().map_err(|_| RunError::Internal)?;
        kernel::softmax_i8(rows, n, table, qparams(e.y)?.zero_point, out_inv_q16, e.get(x)?, cast_mut(out)?);
    } else {
        kernel::softmax_f32(rows, n, beta, e.get(x)?, cast_mut(out)?);
    }
    Ok(())
}
