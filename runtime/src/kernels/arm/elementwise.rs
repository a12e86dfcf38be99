//! int8 Add and Sub: the reference's tabulated operand terms ([`AddSubTerms`]) with the DSP
//! output stage, five instructions instead of the portable `MultiplyByQuantizedMultiplier`.
//!
//! Everything the tables or the stage do not cover (Mul, Div, broadcasting, short tensors, an
//! output multiplier of 0.5 or more) runs [`elementwise::binary_tabled_i8`], which in turn
//! leaves what the tables do not cover to the reference.

use super::requant::OutputStage;
use crate::kernels::elementwise::{self, AddSubTerms, BinaryOp, BinaryQuant};

/// The output stage of `q` and `act`, when [`OutputStage`] covers it.
fn stage(q: &BinaryQuant, act: (i8, i8)) -> Option<OutputStage<'_>> {
    OutputStage::new(core::slice::from_ref(&q.out), 1, q.out_zero_point, act)
}

/// int8 binary op: [`elementwise::binary_i8`]'s signature, contract and bytes.
#[allow(clippy::too_many_arguments)]
pub fn binary_i8(
    op: BinaryOp,
    q: &BinaryQuant,
    a_shape: &[usize],
    a: &[i8],
    b_shape: &[usize],
    b: &[i8],
    out_shape: &[usize],
    out: &mut [i8],
    act: (i8, i8),
) {
    if let Some(stage) = stage(q, act) {
        if let Some(terms) = AddSubTerms::for_call(op, q, a_shape, b_shape, out_shape) {
            let s = stage.channel(0);
            return terms.run(a, b, out, |v| stage.clamp1(stage.requantize(s, v)));
        }
    }
    elementwise::binary_tabled_i8(op, q, a_shape, a, b_shape, b, out_shape, out, act)
}

/// int8 binary op in place: [`elementwise::binary_inplace_i8`]'s signature, contract and bytes.
#[allow(clippy::too_many_arguments)]
pub fn binary_inplace_i8(
    op: BinaryOp,
    q: &BinaryQuant,
    acc_is_a: bool,
    acc: &mut [i8],
    other_shape: &[usize],
    other: &[i8],
    out_shape: &[usize],
    act: (i8, i8),
) {
    if let Some(stage) = stage(q, act) {
        if let Some(terms) = AddSubTerms::for_call(op, q, other_shape, out_shape, out_shape) {
            let s = stage.channel(0);
            return terms.run_inplace(acc_is_a, acc, other, |v| stage.clamp1(stage.requantize(s, v)));
        }
    }
    elementwise::binary_inplace_tabled_i8(op, q, acc_is_a, acc, other_shape, other, out_shape, act)
}
