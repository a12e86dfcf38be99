//! Softmax over rows: [`softmax_f32`](crate::kernels::softmax::softmax_f32) and
//! [`softmax_i8`](crate::kernels::softmax::softmax_i8).

use super::{Cases, Ctx, Mismatch, Params};
use crate::kernels::softmax::{softmax_exp_table, softmax_out_inv_q16};

/// The signature of `softmax_f32`.
pub type SoftmaxF32 = fn(usize, usize, f32, &[f32], &mut [f32]);
/// The signature of `softmax_i8`.
pub type SoftmaxI8 = fn(usize, usize, &[i32; 256], i32, u32, &[i8], &mut [i8]);

const MAX_ROWS: usize = 3;
const MAX_N: usize = 127;

/// Every element within `1e-6 + 1e-5 * want` of the f64 softmax, for 0..=3 rows of 1..=127
/// values in `[-30, 30]` and `beta` in `0.05..3`.
pub fn softmax_f32(kernel: SoftmaxF32, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let (rows, n, beta) = (d.size(0, MAX_ROWS), d.size(1, MAX_N), d.f32_in(0.05, 3.0));
        let (mut x, mut out) = ([0f32; MAX_ROWS * MAX_N], [f32::NAN; MAX_ROWS * MAX_N]);
        x[..rows * n].iter_mut().for_each(|v| *v = d.f32_in(-30.0, 30.0));
        let ctx = Ctx::new("softmax_f32", d, Params::Softmax { rows, n, beta, out_zero_point: 0, out_inv_q16: 0 });
        kernel(rows, n, beta, &x[..rows * n], &mut out[..rows * n]);
        for r in 0..rows {
            let row = &x[r * n..(r + 1) * n];
            let m = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
            let e = |v: f32| libm::exp(beta as f64 * (v as f64 - m));
            let sum: f64 = row.iter().map(|&v| e(v)).sum();
            for (i, &v) in row.iter().enumerate() {
                let want = e(v) / sum;
                ctx.close(r * n + i, out[r * n + i], want, 1e-6 + 1e-5 * want)?;
            }
        }
        Ok(())
    })
}

/// The whole output exactly against an i128 reference of the contract (`e_i = table[m - x_i]`,
/// `out_i = zero_point + round_half_up(e_i * inv_q16 / (sum_j e_j * 2^16))`, saturated), for
/// tables from [`softmax_exp_table`] and arbitrary ones (cycling), zero points of both signs.
/// With the usual output parameters (scale 1/256, zero point -128) and a real table, also within
/// one quantum of the f64 softmax of the dequantized input.
pub fn softmax_i8(kernel: SoftmaxI8, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let (rows, n) = (d.size(0, MAX_ROWS), d.size(1, MAX_N));
        let (beta, in_scale) = (d.f32_in(0.05, 4.0), libm::exp2(-8.0 * d.unit()) as f32);
        let arbitrary = d.cycle(2) == 1;
        let usual = d.cycle(2) == 0;
        let mut table = softmax_exp_table(beta, in_scale);
        if arbitrary {
            table.iter_mut().for_each(|t| *t = d.int(0, 1 << 30) as i32);
            table[0] = 1 << 30;
        }
        let out_scale = if usual { 1.0 / 256.0 } else { libm::exp2(-10.0 + 12.0 * d.unit()) as f32 };
        let Some(inv) = softmax_out_inv_q16(out_scale) else { return Ok(()) };
        let zo = if usual { -128 } else { d.int(-128, 127) as i32 };
        let (mut x, mut out) = ([0i8; MAX_ROWS * MAX_N], [0i8; MAX_ROWS * MAX_N]);
        x[..rows * n].iter_mut().for_each(|v| *v = d.i8());
        out[..rows * n].iter_mut().for_each(|v| *v = d.i8());
        let ctx = Ctx::new("softmax_i8", d, Params::Softmax { rows, n, beta, out_zero_point: zo, out_inv_q16: inv });
        kernel(rows, n, &table, zo, inv, &x[..rows * n], &mut out[..rows * n]);
        for r in 0..rows {
            let row = &x[r * n..(r + 1) * n];
            let m = row.iter().map(|&v| v as i64).max().unwrap_or(-128);
            let e = |v: i8| table[(m - v as i64) as usize] as i128;
            let den = row.iter().map(|&v| e(v)).sum::<i128>() * 65536;
            for (i, &v) in row.iter().enumerate() {
                let q = (2 * e(v) * inv as i128 + den) / (2 * den);
                let got = out[r * n + i];
                ctx.exact(r * n + i, got as i64, (zo as i128 + q).clamp(-128, 127) as i64)?;
                if usual && !arbitrary {
                    let real = |q: i8| beta as f64 * q as f64 * in_scale as f64;
                    let top = real(m as i8);
                    let sum: f64 = row.iter().map(|&u| libm::exp(real(u) - top)).sum();
                    let p = libm::exp(real(v) - top) / sum;
                    ctx.close_f64(r * n + i, got as f64, (p * 256.0 - 128.0).clamp(-128.0, 127.0), 1.0)?;
                }
            }
        }
        Ok(())
    })
}
