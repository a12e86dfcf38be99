//! Unary elementwise functions: [`unary_f32`](crate::kernels::activation::unary_f32),
//! [`lut_i8`](crate::kernels::activation::lut_i8) and their in-place forms.

use super::{clamp_f64, Cases, Ctx, Draw, Mismatch, Params};
use crate::kernels::activation::UnaryOp;

/// The signature of `unary_f32`.
pub type UnaryF32 = fn(UnaryOp, &[f32], &mut [f32]);
/// The signature of `unary_inplace_f32`.
pub type UnaryInplaceF32 = fn(UnaryOp, &mut [f32]);
/// The signature of `lut_i8`.
pub type LutI8 = fn(&[i8; 256], &[i8], &mut [i8]);
/// The signature of `lut_inplace_i8`.
pub type LutInplaceI8 = fn(&[i8; 256], &mut [i8]);

const MAX_LEN: usize = 64;

/// One of the five functions, cycling; Clip with random ordered bounds.
fn op(d: &mut Draw) -> UnaryOp {
    match d.cycle(5) {
        0 => UnaryOp::Relu,
        1 => UnaryOp::Relu6,
        2 => {
            let lo = d.f32_in(-8.0, 8.0);
            UnaryOp::Clip { lo, hi: lo + d.f32_in(0.0, 8.0) }
        }
        3 => UnaryOp::Sigmoid,
        _ => UnaryOp::Exp,
    }
}

/// Values in `[-100, 100]`, now and then NaN, ±inf or -0.
fn values(d: &mut Draw, x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = if d.int(0, 15) == 0 { [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0][d.size(0, 3)] } else { d.f32_in(-100.0, 100.0) };
    }
}

/// Compares one element with the contract: the clamps exactly (NaN and -0 pass through), Sigmoid
/// and Exp within `1e-6 |want| + 1e-38` of the f64 function (`libm::expf` is within 1 ulp, plus
/// two f32 roundings for Sigmoid; the absolute term covers f32 underflow), +inf beyond f32::MAX.
fn check(ctx: &Ctx, i: usize, op: UnaryOp, x: f32, got: f32) -> Result<(), Mismatch> {
    let clamp = |lo: f32, hi: f32| clamp_f64(x as f64, lo as f64, hi as f64) as f32;
    match op {
        UnaryOp::Relu => ctx.same_f32(i, got, clamp(0.0, f32::INFINITY)),
        UnaryOp::Relu6 => ctx.same_f32(i, got, clamp(0.0, 6.0)),
        UnaryOp::Clip { lo, hi } => ctx.same_f32(i, got, clamp(lo, hi)),
        UnaryOp::Sigmoid | UnaryOp::Exp => {
            let x = x as f64;
            let want = if op == UnaryOp::Exp { libm::exp(x) } else { 1.0 / (1.0 + libm::exp(-x)) };
            let want = if want > f32::MAX as f64 { f64::INFINITY } else { want };
            ctx.close(i, got, want, 1e-6 * want.abs() + 1e-38)
        }
    }
}

fn check_f32(suite: &'static str, cases: Cases, mut run: impl FnMut(UnaryOp, &[f32], &mut [f32])) -> Result<(), Mismatch> {
    cases.each(|d| {
        let op = op(d);
        let len = d.size(0, MAX_LEN);
        let (mut x, mut out) = ([0f32; MAX_LEN], [f32::NAN; MAX_LEN]);
        values(d, &mut x[..len]);
        let ctx = Ctx::new(suite, d, Params::Unary { op: Some(op), len });
        run(op, &x[..len], &mut out[..len]);
        for (i, (&xi, &got)) in x[..len].iter().zip(&out[..len]).enumerate() {
            check(&ctx, i, op, xi, got)?;
        }
        Ok(())
    })
}

/// Every element: the clamps bit for bit, Sigmoid and Exp within the contract's bound of the
/// f64 function; values include NaN, ±inf and -0.
pub fn unary_f32(kernel: UnaryF32, cases: Cases) -> Result<(), Mismatch> {
    check_f32("unary_f32", cases, kernel)
}

/// As [`unary_f32`], in place.
pub fn unary_inplace_f32(kernel: UnaryInplaceF32, cases: Cases) -> Result<(), Mismatch> {
    check_f32("unary_inplace_f32", cases, |op, x, out| {
        out.copy_from_slice(x);
        kernel(op, out);
    })
}

fn check_lut(suite: &'static str, cases: Cases, mut run: impl FnMut(&[i8; 256], &[i8], &mut [i8])) -> Result<(), Mismatch> {
    cases.each(|d| {
        let mut lut = [0i8; 256];
        lut.iter_mut().for_each(|v| *v = d.i8());
        // Every other case runs all 256 inputs in order.
        let len = if d.cycle(2) == 0 { 256 } else { d.size(0, MAX_LEN) };
        let (mut x, mut out) = ([0i8; 256], [0i8; 256]);
        for (i, v) in x[..len].iter_mut().enumerate() {
            *v = if len == 256 { (i as i32 - 128) as i8 } else { d.i8() };
        }
        out[..len].iter_mut().for_each(|v| *v = d.i8());
        let ctx = Ctx::new(suite, d, Params::Unary { op: None, len });
        run(&lut, &x[..len], &mut out[..len]);
        for (i, (&xi, &got)) in x[..len].iter().zip(&out[..len]).enumerate() {
            ctx.exact(i, got as i64, lut[(xi as i32 + 128) as usize] as i64)?;
        }
        Ok(())
    })
}

/// `out[i] = lut[x[i] + 128]` exactly, for random tables.
pub fn lut_i8(kernel: LutI8, cases: Cases) -> Result<(), Mismatch> {
    check_lut("lut_i8", cases, kernel)
}

/// As [`lut_i8`], in place.
pub fn lut_inplace_i8(kernel: LutInplaceI8, cases: Cases) -> Result<(), Mismatch> {
    check_lut("lut_inplace_i8", cases, |lut, x, out| {
        out.copy_from_slice(x);
        kernel(lut, out);
    })
}
