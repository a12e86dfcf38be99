//! Softmax over the innermost axis, f32 and int8.
//!
//! The input is viewed as `[rows, n]` (row-major, `n` the innermost axis); each row is
//! normalised independently.

/// The longest row [`softmax_i8`] computes exactly: below it, its u64 sums cannot overflow.
pub const SOFTMAX_I8_MAX_N: usize = 1 << 17;

/// `out[r][i] = exp(beta * (x[r][i] - m)) / sum_j exp(beta * (x[r][j] - m))`, `m` the row maximum.
///
/// `x` and `out` hold `rows * n` values. Per row: `m` by a left-to-right `max`, `e_i =
/// libm::expf(beta * (x_i - m))`, the sum accumulated left to right in f32, then one division
/// per element. Against the exact softmax the error is within `1e-6 + 1e-5 * out_i` (tested for
/// `n <= 128`; the summation error grows with `n`).
pub fn softmax_f32(rows: usize, n: usize, beta: f32, x: &[f32], out: &mut [f32]) {
    if n == 0 {
        return;
    }
    for (xr, or) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)).take(rows) {
        let m = xr.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let mut sum = 0.0f32;
        for (o, &v) in or.iter_mut().zip(xr) {
            let e = libm::expf(beta * (v - m));
            *o = e;
            sum += e;
        }
        for o in or.iter_mut() {
            *o /= sum;
        }
    }
}

/// The exponential table of [`softmax_i8`] (host side): `table[d] = round(exp(-beta *
/// in_scale * d) * 2^30)` for `d` in `0..256`, in f64, rounded half away from zero (`as i32`
/// saturates). `table[0] = 2^30`; for `beta >= 0` the entries decrease and are `>= 0`.
pub fn softmax_exp_table(beta: f32, in_scale: f32) -> [i32; 256] {
    let k = beta as f64 * in_scale as f64;
    let mut table = [0i32; 256];
    for (d, t) in table.iter_mut().enumerate() {
        *t = libm::round(libm::exp(-k * d as f64) * (1u64 << 30) as f64) as i32;
    }
    table
}

/// The output reciprocal of [`softmax_i8`] (host side): `round(65536 / out_scale)` (f64, half
/// away from zero), or `None` if that is not in `1..=u32::MAX` (or `out_scale` is not finite and
/// positive).
pub fn softmax_out_inv_q16(out_scale: f32) -> Option<u32> {
    // NaN, zero, negative and infinite scales all fail the range test.
    let v = libm::round(65536.0 / out_scale as f64);
    if v >= 1.0 && v <= u32::MAX as f64 {
        Some(v as u32)
    } else {
        None
    }
}

/// int8 softmax over rows of `n`: `x` and `out` hold `rows * n` values; `table` comes from
/// [`softmax_exp_table`] (built with the input scale), `out_inv_q16` from
/// [`softmax_out_inv_q16`].
///
/// Per row, all in u64: `m` = row maximum, `e_i = table[m - x_i]` (entries clamped to
/// `0..=2^30`), `s = sum e_i`, and
/// `out_i = clamp(out_zero_point + floor((e_i * inv_q16 + (s << 16) / 2) / (s << 16)), -128, 127)`:
/// `e_i / s / out_scale` rounded half up. Exact (no overflow) for `n <=`
/// [`SOFTMAX_I8_MAX_N`]; the input zero point cancels out.
pub fn softmax_i8(
    rows: usize,
    n: usize,
    table: &[i32; 256],
    out_zero_point: i32,
    out_inv_q16: u32,
    x: &[i8],
    out: &mut [i8],
) {
    if n == 0 {
        return;
    }
    // `m` is the row maximum, so `m - v` is in 0..=255.
    let exp = |m: i8, v: i8| table[(m as i32 - v as i32) as u8 as usize].clamp(0, 1 << 30) as u64;
    for (xr, or) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)).take(rows) {
        let m = xr.iter().fold(i8::MIN, |m, &v| m.max(v));
        let s: u64 = xr
            .iter()
            .map(|&v| exp(m, v))
            .fold(0u64, |s, e| s.saturating_add(e));
        let den = s.saturating_mul(1 << 16).max(1);
        for (o, &v) in or.iter_mut().zip(xr) {
            let num = exp(m, v)
                .saturating_mul(out_inv_q16 as u64)
                .saturating_add(den / 2);
            let q = (num / den).min(1 << 32) as i64;
            *o = (out_zero_point as i64 + q).clamp(-128, 127) as i8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_f32_known_values() {
        let mut out = [0.0f32; 5];
        softmax_f32(1, 3, 1.0, &[1.0, 2.0, 3.0], &mut out[..3]);
        let want = [0.090_030_57f32, 0.244_728_47, 0.665_240_96];
        for (g, w) in out.iter().zip(want) {
            assert!((g - w).abs() <= 1e-7, "{g} {w}");
        }
        softmax_f32(2, 2, 1.0, &[5.0, 5.0, -1e30, 7.0], &mut out[..4]);
        assert_eq!(out[..4], [0.5, 0.5, 0.0, 1.0]);
        // beta = 0: uniform.
        softmax_f32(1, 4, 0.0, &[1.0, -3.0, 100.0, 0.0], &mut out[..4]);
        assert_eq!(out[..4], [0.25; 4]);
    }

    #[test]
    fn softmax_i8_host_helpers() {
        let t = softmax_exp_table(1.0, 1.0);
        assert_eq!(t[0], 1 << 30);
        assert_eq!(t[1], 395_007_542); // e^-1 * 2^30 = 395007542.18
        assert_eq!(t[255], 0);
        let t = softmax_exp_table(0.5, 0.25);
        assert_eq!(t[4], 651_257_337); // e^-0.5 * 2^30 = 651257336.87
        assert_eq!(t[8], 395_007_542);
        assert_eq!(softmax_out_inv_q16(1.0 / 256.0), Some(1 << 24));
        assert_eq!(softmax_out_inv_q16(3.0), Some(21845)); // 21845.33
        assert_eq!(softmax_out_inv_q16(1e-6), None); // 6.6e10 > u32::MAX
        assert_eq!(softmax_out_inv_q16(1e6), None); // rounds to 0
        assert_eq!(softmax_out_inv_q16(0.0), None);
        assert_eq!(softmax_out_inv_q16(-1.0), None);
        assert_eq!(softmax_out_inv_q16(f32::NAN), None);
        assert_eq!(softmax_out_inv_q16(f32::INFINITY), None);
    }

    #[test]
    fn softmax_i8_known_values() {
        let table = softmax_exp_table(1.0, 1.0 / 16.0);
        let inv = softmax_out_inv_q16(1.0 / 256.0).unwrap();
        let mut out = [0i8; 8];
        // Two equal -> 0.5 each -> 128 - 128 = 0; four equal -> 64 - 128 = -64.
        softmax_i8(1, 2, &table, -128, inv, &[7, 7], &mut out[..2]);
        assert_eq!(out[..2], [0, 0]);
        softmax_i8(
            2,
            4,
            &table,
            -128,
            inv,
            &[-3, -3, -3, -3, 127, -128, 127, -128],
            &mut out,
        );
        assert_eq!(out[..4], [-64; 4]);
        // e^(-255/16) = 1.2e-7: [0.5, 0, 0.5, 0] -> [0, -128, 0, -128].
        assert_eq!(out[4..], [0, -128, 0, -128]);
        // Ties round up: 0.5 / 1.0 = 0.5 -> 1; 0.25 / 0.5 = 0.5 -> 1 (+ zero point 3).
        let inv1 = softmax_out_inv_q16(1.0).unwrap();
        softmax_i8(1, 2, &table, 0, inv1, &[7, 7], &mut out[..2]);
        assert_eq!(out[..2], [1, 1]);
        let inv2 = softmax_out_inv_q16(0.5).unwrap();
        softmax_i8(1, 4, &table, 3, inv2, &[-9; 4], &mut out[..4]);
        assert_eq!(out[..4], [4; 4]);
        // One dominant: 1 / (1 + 2 e^-16) -> 256 -> clamped to 127.
        softmax_i8(1, 3, &table, -128, inv, &[0, -128, -128], &mut out[..3]);
        assert_eq!(out[..3], [127, -128, -128]);
        // d = 16: [1, e^-1] / (1 + e^-1) = [0.7311, 0.2689] -> 187.15, 68.85 -> [59, -59].
        softmax_i8(1, 2, &table, -128, inv, &[20, 4], &mut out[..2]);
        assert_eq!(out[..2], [59, -59]);
    }
}
