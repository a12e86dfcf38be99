//! int8 Add and Sub: the reference's tabulated operand terms ([`AddSubTerms`]) with the DSP
//! output stage, five instructions instead of the portable `MultiplyByQuantizedMultiplier`, four
//! elements per word store with the activation clamp on the packed bytes.
//!
//! Everything else (Mul, Div, broadcasting, short tensors, an output multiplier of 0.5 or more)
//! runs the reference kernel.

use super::dsp::pack_clamp_i8x4;
use super::requant::OutputStage;
use crate::kernels::elementwise::{self, AddSubTerms, BinaryOp, BinaryQuant};

/// The output stage of `q` and `act`, when [`OutputStage`] covers it.
fn stage(q: &BinaryQuant, act: (i8, i8)) -> Option<OutputStage<'_>> {
    OutputStage::new(core::slice::from_ref(&q.out), 1, q.out_zero_point, act)
}

/// `out[i] = stage(terms.sum(a[i], b[i]))` for `i < n`.
///
/// # Safety
/// `a` and `b` are readable and `out` writable for `n` elements; `out` may be `a` or `b` (each
/// group of four is read before it is written), the ranges may not overlap otherwise.
#[inline(never)]
unsafe fn add_sub_s8(terms: &AddSubTerms, stage: &OutputStage<'_>, a: *const i8, b: *const i8, out: *mut i8, n: usize) {
    let s = stage.channel(0);
    let (lo, hi) = (stage.lo(), stage.hi());
    let mut i = 0;
    // SAFETY: every index is below `n`, in the caller's ranges.
    unsafe {
        let v = |j: usize| stage.requantize(s, terms.sum(*a.add(j), *b.add(j)));
        while i + 4 <= n {
            let word = pack_clamp_i8x4(v(i), v(i + 1), v(i + 2), v(i + 3), lo, hi);
            core::ptr::write_unaligned(out.add(i) as *mut u32, word);
            i += 4;
        }
        while i < n {
            *out.add(i) = stage.clamp1(v(i));
            i += 1;
        }
    }
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
    let mut terms = AddSubTerms::default();
    match stage(q, act) {
        Some(stage) if terms.fill(op, q, a_shape, b_shape, out_shape) => {
            let n = out.len().min(a.len()).min(b.len());
            // SAFETY: three distinct slices of at least `n` elements.
            unsafe { add_sub_s8(&terms, &stage, a.as_ptr(), b.as_ptr(), out.as_mut_ptr(), n) }
        }
        _ => elementwise::binary_i8(op, q, a_shape, a, b_shape, b, out_shape, out, act),
    }
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
    let mut terms = AddSubTerms::default();
    match stage(q, act) {
        Some(stage) if terms.fill(op, q, other_shape, out_shape, out_shape) => {
            let n = acc.len().min(other.len());
            let (acc, other) = (acc.as_mut_ptr(), other.as_ptr());
            let (a, b) = if acc_is_a { (acc as *const i8, other) } else { (other, acc as *const i8) };
            // SAFETY: `acc` and `other` are distinct slices of at least `n` elements; the output
            // is the accumulator, one of the operands.
            unsafe { add_sub_s8(&terms, &stage, a, b, acc, n) }
        }
        _ => elementwise::binary_inplace_i8(op, q, acc_is_a, acc, other_shape, other, out_shape, act),
    }
}
