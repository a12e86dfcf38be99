//! int8 Add and Sub: the reference's tabulated operand terms ([`AddSubTerms`]) with the DSP
//! output stage, five instructions instead of the portable `MultiplyByQuantizedMultiplier`, four
//! elements per word store with the activation clamp on the packed bytes: 12.75 instructions
//! per element in the `global_asm!` loop ([`add_sub_words`]; Rust code cannot hold its fourteen
//! registers, see [`super::matmul`]).
//!
//! Everything else (Mul, Div, broadcasting, short tensors, an output multiplier of 0.5 or more)
//! runs the reference kernel.

use super::requant::OutputStage;
use crate::kernels::elementwise::{self, AddSubTerms, BinaryOp, BinaryQuant};

/// The output stage of `q` and `act`, when [`OutputStage`] covers it.
fn stage(q: &BinaryQuant, act: (i8, i8)) -> Option<OutputStage<'_>> {
    OutputStage::new(core::slice::from_ref(&q.out), 1, q.out_zero_point, act)
}

/// A run of [`add_sub_words`]: `words` (at least 1) groups of four elements.
#[derive(Debug)]
#[repr(C)]
pub struct AddSubJob {
    pub a: *const i8,
    pub b: *const i8,
    pub out: *mut i8,
    pub words: usize,
    /// The tables: operand a's 256 terms, then operand b's.
    pub terms: *const i32,
    pub m2: i32,
    pub em1: u32,
    pub zp_round: i32,
    pub lo: u32,
    pub hi: u32,
}

#[cfg(mote_arm_dsp)]
core::arch::global_asm!(
    dsp_cpu!(),
    // mote_dsp_add_sub_s8x4(job: *const AddSubJob). r0 a, r1 b, r2 out, r3 end of out, r4/r5
    // the tables, r6 m2, r7 em1, r8 zp_round, r9/r10 temporaries, r11 the output word, r12 one
    // output. [sp] job.
    ".section .text.mote_dsp_add_sub_s8x4,\"ax\",%progbits",
    ".global mote_dsp_add_sub_s8x4",
    ".type mote_dsp_add_sub_s8x4,%function",
    ".p2align 2",
    ".thumb_func",
    "mote_dsp_add_sub_s8x4:",
    "push {{r4-r11, lr}}",
    "sub sp, #8",
    "str r0, [sp]",
    "ldr r4, [r0, #16]",
    "add.w r5, r4, #1024",
    "ldrd r6, r7, [r0, #20]",
    "ldr r8, [r0, #28]",
    "ldr r3, [r0, #12]",
    "ldm r0, {{r0-r2}}",
    "add.w r3, r2, r3, lsl #2",
    // One output into \dst: the two terms, their sum, the output stage (see `requant`).
    ".macro mote_add_sub_one dst",
    "ldrb r9, [r0], #1",
    "ldrb r10, [r1], #1",
    "ldr.w r9, [r4, r9, lsl #2]",
    "ldr.w r10, [r5, r10, lsl #2]",
    "add r9, r10",
    "smmlar r10, r9, r6, r9",
    "add.w r10, r10, r10, asr #31",
    "asr r10, r10, r7",
    "qadd r10, r10, r8",
    "ssat \\dst, #8, r10, asr #1",
    ".endm",
    "1:",
    "mote_add_sub_one r11",
    "mote_add_sub_one r12",
    "bfi r11, r12, #8, #8",
    "mote_add_sub_one r12",
    "bfi r11, r12, #16, #8",
    "mote_add_sub_one r12",
    "bfi r11, r12, #24, #8",
    "ldr lr, [sp]",
    "ldrd r9, r10, [lr, #32]",
    "ssub8 r12, r11, r9",
    "sel r11, r11, r9",
    "ssub8 r12, r10, r11",
    "sel r11, r11, r10",
    "str r11, [r2], #4",
    "cmp r2, r3",
    "bne 1b",
    ".purgem mote_add_sub_one",
    "add sp, #8",
    "pop {{r4-r11, pc}}",
    ".size mote_dsp_add_sub_s8x4, . - mote_dsp_add_sub_s8x4",
    ".text",
);

#[cfg(mote_arm_dsp)]
extern "C" {
    fn mote_dsp_add_sub_s8x4(job: *const AddSubJob);
}

/// Runs an [`AddSubJob`]: for each of `4 * words` elements,
/// `out[i] = clamp(stage(terms_a[a[i]] + terms_b[b[i]]), lo, hi)`, four bytes per word store.
///
/// # Safety
/// `words >= 1`; `a`, `b` readable and `out` writable for `4 * words` bytes; `out` may be `a` or
/// `b` (each group of four is read before it is written), the ranges may not overlap otherwise;
/// `terms` holds 512 entries.
#[cfg(mote_arm_dsp)]
#[inline(always)]
pub unsafe fn add_sub_words(job: &AddSubJob) {
    // SAFETY: forwarded to the caller.
    unsafe { mote_dsp_add_sub_s8x4(job) }
}

/// Portable twin of the Arm routine, for the host tests.
///
/// # Safety
/// As the Arm routine.
#[cfg(not(mote_arm_dsp))]
pub unsafe fn add_sub_words(job: &AddSubJob) {
    use super::dsp::{clamp_i8x4, pack_i8x4, requantize};
    // SAFETY: within the caller's ranges.
    unsafe {
        for w in 0..job.words {
            let v: [i32; 4] = core::array::from_fn(|j| {
                let i = 4 * w + j;
                let s = *job.terms.add(*job.a.add(i) as u8 as usize) + *job.terms.add(256 + *job.b.add(i) as u8 as usize);
                requantize(s, job.m2, job.em1, job.zp_round)
            });
            let word = clamp_i8x4(pack_i8x4(v[0], v[1], v[2], v[3]), job.lo, job.hi);
            core::ptr::write_unaligned(job.out.add(4 * w) as *mut u32, word);
        }
    }
}

/// `out[i] = stage(terms.sum(a[i], b[i]))` for `i < n`: whole words in [`add_sub_words`], the
/// last `n % 4` elements here.
///
/// # Safety
/// `a` and `b` are readable and `out` writable for `n` elements; `out` may be `a` or `b`, the
/// ranges may not overlap otherwise.
#[inline(never)]
unsafe fn add_sub_s8(terms: &AddSubTerms, stage: &OutputStage<'_>, a: *const i8, b: *const i8, out: *mut i8, n: usize) {
    let s = stage.channel(0);
    let words = n / 4;
    // SAFETY: the caller's ranges; `4 * words <= n`.
    unsafe {
        if words > 0 {
            let job = AddSubJob { a, b, out, words, terms: terms.as_ptr(), m2: s.m2, em1: s.em1, zp_round: stage.zp_round(), lo: stage.lo(), hi: stage.hi() };
            add_sub_words(&job);
        }
        for i in 4 * words..n {
            *out.add(i) = stage.clamp1(stage.requantize(s, terms.sum(*a.add(i), *b.add(i))));
        }
    }
}

/// int8 binary op: [`elementwise::binary_i8`]'s contract and bytes, filling `terms`.
#[allow(clippy::too_many_arguments)]
pub fn binary_i8_with(
    terms: &mut AddSubTerms,
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
    match stage(q, act) {
        Some(stage) if terms.fill(op, q, a_shape, b_shape, out_shape) => {
            let n = out.len().min(a.len()).min(b.len());
            // SAFETY: three distinct slices of at least `n` elements.
            unsafe { add_sub_s8(terms, &stage, a.as_ptr(), b.as_ptr(), out.as_mut_ptr(), n) }
        }
        _ => elementwise::binary_i8(op, q, a_shape, a, b_shape, b, out_shape, out, act),
    }
}

/// int8 binary op: [`elementwise::binary_i8`]'s signature, contract and bytes, through
/// [`binary_i8_with`] with the tables on the stack (what the conformance suites call).
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
    binary_i8_with(&mut AddSubTerms::default(), op, q, a_shape, a, b_shape, b, out_shape, out, act)
}

/// int8 binary op in place: [`elementwise::binary_inplace_i8`]'s contract and bytes, filling
/// `terms`.
#[allow(clippy::too_many_arguments)]
pub fn binary_inplace_i8_with(
    terms: &mut AddSubTerms,
    op: BinaryOp,
    q: &BinaryQuant,
    acc_is_a: bool,
    acc: &mut [i8],
    other_shape: &[usize],
    other: &[i8],
    out_shape: &[usize],
    act: (i8, i8),
) {
    match stage(q, act) {
        Some(stage) if terms.fill(op, q, other_shape, out_shape, out_shape) => {
            let n = acc.len().min(other.len());
            let (acc, other) = (acc.as_mut_ptr(), other.as_ptr());
            let (a, b) = if acc_is_a { (acc as *const i8, other) } else { (other, acc as *const i8) };
            // SAFETY: `acc` and `other` are distinct slices of at least `n` elements; the output
            // is the accumulator, one of the operands.
            unsafe { add_sub_s8(terms, &stage, a, b, acc, n) }
        }
        _ => elementwise::binary_inplace_i8(op, q, acc_is_a, acc, other_shape, other, out_shape, act),
    }
}

/// int8 binary op in place: [`elementwise::binary_inplace_i8`]'s signature, contract and bytes,
/// through [`binary_inplace_i8_with`] with the tables on the stack (what the conformance suites
/// call).
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
    binary_inplace_i8_with(&mut AddSubTerms::default(), op, q, acc_is_a, acc, other_shape, other, out_shape, act)
}
