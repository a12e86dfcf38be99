//! Binary: Add, Sub, Mul, Div with NumPy / ONNX broadcasting (ONNX `Add` / `Sub` / `Mul` /
//! `Div`, TFLite `ADD` / `SUB` / `MUL` / `DIV`), f32 and int8, in place over either operand.
//!
//! Operands `[a, b]`, both of the output's dtype; each may be of lower rank (left-padded with 1s)
//! and broadcasts where its dimension is 1. int8 ops carry their fixed-point parameters
//! ([`BinaryQuant`]) as an attribute. Kernels: [`crate::kernels::elementwise`]; int8 runs the
//! target's variant, [`crate::kernels::binary_i8`] / [`crate::kernels::binary_inplace_i8`].

use serde::{Deserialize, Serialize};

use super::operands::{cast, cast_mut, Check, Exec};
use super::Activation;
use crate::error::{FormatError, RunError};
use crate::kernels::elementwise as kernel;
use crate::quant::{QParams, Requant};
use crate::tensor::{Shape, TensorDesc};

/// The arithmetic of a Binary op, as stored (discriminants in `FORMAT.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl From<BinaryOp> for kernel::BinaryOp {
    fn from(op: BinaryOp) -> Self {
        match op {
            BinaryOp::Add => kernel::BinaryOp::Add,
            BinaryOp::Sub => kernel::BinaryOp::Sub,
            BinaryOp::Mul => kernel::BinaryOp::Mul,
            BinaryOp::Div => kernel::BinaryOp::Div,
        }
    }
}

/// The int8 parameters of a Binary op, as stored: the kernel's
/// [`BinaryQuant`](kernel::BinaryQuant), computed on the host by [`BinaryQuant::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BinaryQuant {
    pub a_zero_point: i32,
    pub b_zero_point: i32,
    pub out_zero_point: i32,
    /// Headroom shift applied to both operands of Add / Sub before rescaling (TFLite uses 20).
    pub left_shift: i32,
    pub a: Requant,
    pub b: Requant,
    pub out: Requant,
}

impl BinaryQuant {
    /// The parameters of `op` for operands and output quantized with `a`, `b` and `out` (host
    /// side); see [`kernel::BinaryQuant::new`] for the formulas.
    pub fn new(op: BinaryOp, a: QParams, b: QParams, out: QParams) -> BinaryQuant {
        kernel::BinaryQuant::new(op.into(), a, b, out).into()
    }
}

impl From<kernel::BinaryQuant> for BinaryQuant {
    fn from(q: kernel::BinaryQuant) -> Self {
        let kernel::BinaryQuant { a_zero_point, b_zero_point, out_zero_point, left_shift, a, b, out } = q;
        BinaryQuant { a_zero_point, b_zero_point, out_zero_point, left_shift, a, b, out }
    }
}

impl From<BinaryQuant> for kernel::BinaryQuant {
    fn from(q: BinaryQuant) -> Self {
        let BinaryQuant { a_zero_point, b_zero_point, out_zero_point, left_shift, a, b, out } = q;
        kernel::BinaryQuant { a_zero_point, b_zero_point, out_zero_point, left_shift, a, b, out }
    }
}

/// Load-time checks: two operands of the output's dtype (f32 or int8), `quant` present exactly
/// for int8 and valid, shapes that broadcast to the output's.
pub(crate) fn check(c: &Check<'_, '_>, quant: &Option<BinaryQuant>) -> Result<(), FormatError> {
    c.arity_is(2)?;
    let (x, y) = (&c.x, &c.y);
    let b_id = c.id(1)?;
    let b = c.input(1)?;
    c.float_or_i8(x, c.x_id())?;
    if b.dtype != x.dtype || y.dtype != x.dtype {
        return Err(c.dtype_err(if b.dtype != x.dtype { b_id } else { c.y_id() }));
    }
    if quant.is_some() != c.is_i8() || quant.is_some_and(|q| !(q.a.is_valid() && q.b.is_valid() && q.out.is_valid())) {
        return Err(c.attr());
    }
    let yd = y.shape.dims();
    let r = yd.len();
    for (t, id) in [(x, c.x_id()), (&b, b_id)] {
        if t.shape.rank() > r {
            return Err(c.shape_err(id));
        }
        let padded = t.shape.padded(r);
        if padded[..r].iter().zip(yd).any(|(&a, &o)| a != 1 && a != o as usize) {
            return Err(c.shape_err(id));
        }
    }
    let (pa, pb) = (x.shape.padded(r), b.shape.padded(r));
    if (0..r).any(|i| pa[i].max(pb[i]) != yd[i] as usize) {
        return Err(c.shape_err(c.y_id()));
    }
    Ok(())
}

/// Runs the op; an int8 Add or Sub of the planned shape fills its operand tables
/// ([`kernel::AddSubTerms`]) in `scratch`, any other call (or a scratch too short for them)
/// runs the reference kernel.
pub(crate) fn run(e: &Exec<'_, '_>, out: &mut [u8], scratch: &mut [u8], op: BinaryOp, act: Activation, quant: Option<BinaryQuant>) -> Result<(), RunError> {
    let (a, b) = (e.x, e.input(1)?);
    let op = op.into();
    let r = e.y.shape.rank();
    let (sa, sb, so) = (a.shape.padded(r), b.shape.padded(r), e.y.shape.padded(r));
    let (sa, sb, so) = (&sa[..r], &sb[..r], &so[..r]);
    let terms = kernel::AddSubTerms::in_scratch(scratch);
    match (quant, e.bytes(a)?, e.bytes(b)?) {
        (None, Some(a), Some(b)) => kernel::binary_f32(op, sa, cast(a)?, sb, cast(b)?, so, cast_mut(out)?, e.act_f32(act)),
        (None, None, Some(b)) => kernel::binary_inplace_f32(op, true, cast_mut(out)?, sb, cast(b)?, so, e.act_f32(act)),
        (None, Some(a), None) => kernel::binary_inplace_f32(op, false, cast_mut(out)?, sa, cast(a)?, so, e.act_f32(act)),
        (Some(q), Some(a), Some(b)) => {
            let (q, a, b, out, act) = (&q.into(), cast(a)?, cast(b)?, cast_mut(out)?, e.act_i8(act)?);
            match terms {
                Some(t) => crate::kernels::binary_i8_with(t, op, q, sa, a, sb, b, so, out, act),
                None => kernel::binary_i8(op, q, sa, a, sb, b, so, out, act),
            }
        }
        (Some(q), acc_a, acc_b) => {
            let (acc_is_a, other, other_shape) = match (acc_a, acc_b) {
                (None, Some(b)) => (true, b, sb),
                (Some(a), None) => (false, a, sa),
                _ => return Err(RunError::Internal),
            };
            let (q, acc, other, act) = (&q.into(), cast_mut(out)?, cast(other)?, e.act_i8(act)?);
            match terms {
                Some(t) => crate::kernels::binary_inplace_i8_with(t, op, q, acc_is_a, acc, other_shape, other, so, act),
                None => kernel::binary_inplace_i8(op, q, acc_is_a, acc, other_shape, other, so, act),
            }
        }
        (None, None, None) => return Err(RunError::Internal),
    }
    Ok(())
}

/// The int8 same-shape Add / Sub kernels' scratch: their operand tables
/// ([`kernel::AddSubTerms::scratch_bytes`]); 0 for f32, Mul, Div and broadcasting.
pub(crate) fn scratch_bytes(ins: &[TensorDesc<'_>], y: &TensorDesc<'_>, op: BinaryOp, quant: &Option<BinaryQuant>) -> usize {
    let [a, b, ..] = ins else { return 0 };
    if quant.is_none() {
        return 0;
    }
    let r = y.shape.rank();
    let same = a.shape.padded(r)[..r] == y.shape.padded(r)[..r] && b.shape.padded(r)[..r] == y.shape.padded(r)[..r];
    kernel::AddSubTerms::scratch_bytes(op.into(), same, y.shape.numel().unwrap_or(0) as usize)
}

/// In place over either operand that has the output's full shape (the kernels' accumulator).
pub(crate) fn may_alias(slot: usize, input: &Shape, output: &Shape) -> bool {
    slot < 2 && input == output
}
