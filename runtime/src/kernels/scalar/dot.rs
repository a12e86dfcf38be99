//! The micro-kernels: dot products of one or two int8 input runs with one, four or eight int8
//! weight runs of the same length, the input zero point subtracted once per input value, every
//! sum in a register.
//!
//! One loop step loads each run's value once and does `P × C` multiply-adds, so the loads and
//! pointer steps are shared by `C` channels (inputs) and `P` pixels (weights). The loops are not
//! unrolled: at `opt-level = "s"` LLVM schedules every load of an unrolled body first and spills
//! the accumulators. Slicing every run to the length of the first lets LLVM drop the bounds
//! checks from the loop.
//!
//! On RISC-V [`dot_2x4`] and [`dot_1x8`] are the assembly of `rv32`.
//! On Arm cores (ARMv6-M code) [`dot_1x4`] is the assembly of `armv6m` and no pixels
//! are paired ([`PAIRS`]): Thumb-1 has too few low registers for eight sums.

/// Whether the kernels pair pixels (and rows) through [`dot_2x4`].
pub const PAIRS: bool = !cfg!(target_arch = "arm");

/// `acc[p][j] += Σ_i (x[p][i] - zp) · w[j][i]` for two pixels and four channels.
#[cfg(not(target_arch = "riscv32"))]
#[inline(always)]
pub fn dot_2x4(x: [&[i8]; 2], w: [&[i8]; 4], zp: i32, acc: &mut [[i32; 4]; 2]) {
    let n = x[0].len();
    let (x0, x1) = (x[0], &x[1][..n]);
    let (w0, w1, w2, w3) = (&w[0][..n], &w[1][..n], &w[2][..n], &w[3][..n]);
    let [[mut a0, mut a1, mut a2, mut a3], [mut b0, mut b1, mut b2, mut b3]] = *acc;
    for i in 0..n {
        let (p, q) = (x0[i] as i32 - zp, x1[i] as i32 - zp);
        let v = w0[i] as i32;
        a0 = a0.wrapping_add(p.wrapping_mul(v));
        b0 = b0.wrapping_add(q.wrapping_mul(v));
        let v = w1[i] as i32;
        a1 = a1.wrapping_add(p.wrapping_mul(v));
        b1 = b1.wrapping_add(q.wrapping_mul(v));
        let v = w2[i] as i32;
        a2 = a2.wrapping_add(p.wrapping_mul(v));
        b2 = b2.wrapping_add(q.wrapping_mul(v));
        let v = w3[i] as i32;
        a3 = a3.wrapping_add(p.wrapping_mul(v));
        b3 = b3.wrapping_add(q.wrapping_mul(v));
    }
    *acc = [[a0, a1, a2, a3], [b0, b1, b2, b3]];
}

/// `acc[j] += Σ_i (x[i] - zp) · w[j][i]` for one pixel and four channels.
#[cfg(not(target_arch = "arm"))]
#[inline(always)]
pub fn dot_1x4(x: &[i8], w: [&[i8]; 4], zp: i32, acc: &mut [i32; 4]) {
    let n = x.len();
    let (w0, w1, w2, w3) = (&w[0][..n], &w[1][..n], &w[2][..n], &w[3][..n]);
    let [mut a0, mut a1, mut a2, mut a3] = *acc;
    for i in 0..n {
        let p = x[i] as i32 - zp;
        a0 = a0.wrapping_add(p.wrapping_mul(w0[i] as i32));
        a1 = a1.wrapping_add(p.wrapping_mul(w1[i] as i32));
        a2 = a2.wrapping_add(p.wrapping_mul(w2[i] as i32));
        a3 = a3.wrapping_add(p.wrapping_mul(w3[i] as i32));
    }
    *acc = [a0, a1, a2, a3];
}

#[cfg(target_arch = "arm")]
pub use super::armv6m::dot_1x4;

/// `acc[j] += Σ_i (x[i] - zp) · w[j·n + i]` for one row `x` of `n` inputs and the eight weight
/// rows that follow each other in `w`: two [`dot_1x4`].
#[cfg(not(target_arch = "riscv32"))]
#[inline(always)]
pub fn dot_1x8(x: &[i8], w: &[i8], zp: i32, acc: &mut [i32; 8]) {
    let n = x.len();
    let rows = |j: usize| &w[j * n..][..n];
    let (mut lo, mut hi) = ([acc[0], acc[1], acc[2], acc[3]], [acc[4], acc[5], acc[6], acc[7]]);
    dot_1x4(x, [rows(0), rows(1), rows(2), rows(3)], zp, &mut lo);
    dot_1x4(x, [rows(4), rows(5), rows(6), rows(7)], zp, &mut hi);
    *acc = [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1], hi[2], hi[3]];
}

#[cfg(target_arch = "riscv32")]
pub use super::rv32::{dot_1x8, dot_2x4};

/// `acc += Σ_i (x[i] - zp) · w[i]`.
#[inline(always)]
pub fn dot_1x1(x: &[i8], w: &[i8], zp: i32, acc: &mut i32) {
    let w = &w[..x.len()];
    let mut a = *acc;
    for (&xv, &wv) in x.iter().zip(w) {
        a = a.wrapping_add((xv as i32 - zp).wrapping_mul(wv as i32));
    }
    *acc = a;
}
