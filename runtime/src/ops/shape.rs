//! Data movement: Concat, Slice, Reshape, Transpose, Pad (ONNX `Concat` / `Slice` / `Reshape` /
//! `Flatten` / `Transpose` / `Pad`, TFLite `CONCATENATION` / `STRIDED_SLICE` / `RESHAPE` /
//! `TRANSPOSE` / `PAD`).
//!
//! Operands `[x]` (Concat: `[x1 … xk]`); the output keeps the input's dtype and int8
//! quantization. Elements are only moved, so f32 and i32 share the 4-byte instance of each
//! kernel. Reshape moves nothing: the planner places its output on its input. Kernels:
//! [`crate::kernels::shape`].

use bytemuck::Pod;

use super::operands::{cast, cast_mut, dims, qparams, Check, Exec};
use super::MAX_OP_INPUTS;
use crate::error::{FormatError, RunError};
use crate::kernels::shape as kernel;
use crate::tensor::{DType, MAX_RANK};

/// Calls a data-movement function for the element size of `dtype`: f32 and i32 both move as
/// u32, so each kernel is instantiated twice, not three times.
macro_rules! by_dtype {
    ($dtype:expr, $f:ident ( $($arg:expr),* )) => {
        match $dtype {
            DType::I8 => $f::<i8>($($arg),*),
            DType::F32 | DType::I32 => $f::<u32>($($arg),*),
        }
    };
}

/// Concat: every input of the output's type and rank, equal to it except along `axis`, whose
/// sizes add up to the output's.
pub(crate) fn check_concat(c: &Check<'_, '_>, axis: u8) -> Result<(), FormatError> {
    let yd = c.y.shape.dims();
    let axis = axis as usize;
    if axis >= yd.len() {
        return Err(c.attr());
    }
    let mut total = 0u64;
    for (slot, &id) in c.op.inputs.iter().enumerate() {
        let t = c.input(slot)?;
        c.same_type(&t, id)?;
        let d = t.shape.dims();
        if d.len() != yd.len() || (0..d.len()).any(|i| i != axis && d[i] != yd[i]) {
            return Err(c.shape_err(id));
        }
        total += d[axis] as u64;
    }
    if total != yd[axis] as u64 {
        return Err(c.shape_err(c.y_id()));
    }
    Ok(())
}

/// Slice: `begin` and non-zero `step` per axis; the output's shape counts the elements taken,
/// and the last of them lies inside the input.
pub(crate) fn check_slice(c: &Check<'_, '_>, begin: &[u32], step: &[u32]) -> Result<(), FormatError> {
    c.arity_is(1)?;
    c.same_type(&c.x, c.x_id())?;
    let (xd, yd) = (c.x.shape.dims(), c.y.shape.dims());
    if begin.len() != xd.len() || step.len() != xd.len() || step.contains(&0) {
        return Err(c.attr());
    }
    if yd.len() != xd.len() {
        return Err(c.shape_err(c.y_id()));
    }
    for i in 0..xd.len() {
        let last = begin[i] as u64 + (yd[i] as u64 - 1) * step[i] as u64;
        if last >= xd[i] as u64 {
            return Err(c.shape_err(c.y_id()));
        }
    }
    Ok(())
}

/// Reshape: the same type and element count.
pub(crate) fn check_reshape(c: &Check<'_, '_>) -> Result<(), FormatError> {
    c.arity_is(1)?;
    c.same_type(&c.x, c.x_id())?;
    if c.x.shape.numel() != c.y.shape.numel() {
        return Err(c.shape_err(c.y_id()));
    }
    Ok(())
}

/// Transpose: `perm` a permutation of the input's axes, the output's shape permuted by it.
pub(crate) fn check_transpose(c: &Check<'_, '_>, perm: &[u8]) -> Result<(), FormatError> {
    c.arity_is(1)?;
    c.same_type(&c.x, c.x_id())?;
    let (xd, yd) = (c.x.shape.dims(), c.y.shape.dims());
    let r = xd.len();
    let mut seen = [false; MAX_RANK];
    for &p in perm {
        let p = p as usize;
        if p >= r || seen[p] {
            return Err(c.attr());
        }
        seen[p] = true;
    }
    if perm.len() != r {
        return Err(c.attr());
    }
    if yd.len() != r || perm.iter().enumerate().any(|(i, &p)| yd[i] != xd[p as usize]) {
        return Err(c.shape_err(c.y_id()));
    }
    Ok(())
}

/// Pad: `before` and `after` per axis adding up to the output's shape; an int8 pad value that
/// is a number.
pub(crate) fn check_pad(c: &Check<'_, '_>, before: &[u32], after: &[u32], value: f32) -> Result<(), FormatError> {
    c.arity_is(1)?;
    c.same_type(&c.x, c.x_id())?;
    let (xd, yd) = (c.x.shape.dims(), c.y.shape.dims());
    if before.len() != xd.len() || after.len() != xd.len() || value.is_nan() && c.is_i8() {
        return Err(c.attr());
    }
    if yd.len() != xd.len() || (0..xd.len()).any(|i| before[i] as u64 + xd[i] as u64 + after[i] as u64 != yd[i] as u64) {
        return Err(c.shape_err(c.y_id()));
    }
    Ok(())
}

pub(crate) fn run_concat(e: &Exec<'_, '_>, out: &mut [u8], axis: u8) -> Result<(), RunError> {
    by_dtype!(e.y.dtype, concat(e, out, axis as usize))
}

fn concat<T: Pod>(e: &Exec<'_, '_>, out: &mut [u8], axis: usize) -> Result<(), RunError> {
    let r = e.y.shape.rank();
    let mut shapes = [[1usize; MAX_RANK]; MAX_OP_INPUTS];
    for (s, t) in shapes.iter_mut().zip(e.ins) {
        *s = t.shape.padded(r);
    }
    let mut parts: heapless::Vec<(&[usize], &[T]), MAX_OP_INPUTS> = heapless::Vec::new();
    for (s, t) in shapes.iter().zip(e.ins) {
        parts.push((&s[..r], e.get::<T>(t)?)).map_err(|_| RunError::Internal)?;
    }
    kernel::concat(axis, &parts, cast_mut(out)?);
    Ok(())
}

pub(crate) fn run_slice(e: &Exec<'_, '_>, out: &mut [u8], begin: &[u32], step: &[u32]) -> Result<(), RunError> {
    let x = e.x;
    let (sx, r) = dims(x);
    let (sy, _) = dims(e.y);
    let mut b = [0usize; MAX_RANK];
    let mut s = [1usize; MAX_RANK];
    for i in 0..r {
        b[i] = begin[i] as usize;
        s[i] = step[i] as usize;
    }
    by_dtype!(e.y.dtype, slice(&sx[..r], e.bytes(x)?, &b[..r], &s[..r], &sy[..r], out))
}

fn slice<T: Pod>(sx: &[usize], x: Option<&[u8]>, begin: &[usize], step: &[usize], sy: &[usize], out: &mut [u8]) -> Result<(), RunError> {
    kernel::slice::<T>(sx, cast(x.ok_or(RunError::Internal)?)?, begin, step, sy, cast_mut(out)?);
    Ok(())
}

/// Copies unless the planner placed the output on the input (then there is nothing to do).
pub(crate) fn run_reshape(e: &Exec<'_, '_>, out: &mut [u8]) -> Result<(), RunError> {
    if let Some(data) = e.bytes(e.x)? {
        out.copy_from_slice(data);
    }
    Ok(())
}

pub(crate) fn run_transpose(e: &Exec<'_, '_>, out: &mut [u8], perm: &[u8]) -> Result<(), RunError> {
    let x = e.x;
    let (sx, r) = dims(x);
    let mut p = [0usize; MAX_RANK];
    for (d, &s) in p.iter_mut().zip(perm) {
        *d = s as usize;
    }
    by_dtype!(e.y.dtype, transpose(&sx[..r], e.bytes(x)?, &p[..r], out))
}

fn transpose<T: Pod>(sx: &[usize], x: Option<&[u8]>, perm: &[usize], out: &mut [u8]) -> Result<(), RunError> {
    kernel::transpose::<T>(sx, cast(x.ok_or(RunError::Internal)?)?, perm, cast_mut(out)?);
    Ok(())
}

/// The pad value is real: int8 pads with its quantized form, i32 with its integer part.
pub(crate) fn run_pad(e: &Exec<'_, '_>, out: &mut [u8], before: &[u32], value: f32) -> Result<(), RunError> {
    let x = e.x;
    let (sx, r) = dims(x);
    let (sy, _) = dims(e.y);
    let mut b = [0usize; MAX_RANK];
    for (d, &s) in b.iter_mut().zip(before) {
        *d = s as usize;
    }
    let data = e.bytes(x)?.ok_or(RunError::Internal)?;
    match e.y.dtype {
        DType::I8 => kernel::pad(&sx[..r], cast(data)?, &b[..r], &sy[..r], qparams(e.y)?.quantize(value), cast_mut(out)?),
        DType::F32 => kernel::pad(&sx[..r], cast(data)?, &b[..r], &sy[..r], value.to_bits(), cast_mut(out)?),
        DType::I32 => kernel::pad(&sx[..r], cast(data)?, &b[..r], &sy[..r], value as i32 as u32, cast_mut(out)?),
    }
    Ok(())
}

/// Reshape runs in place over its input (same type and element count, checked at load).
pub(crate) fn reshape_may_alias(slot: usize) -> bool {
    slot == 0
}
