//! Pooling: [`avg_pool2d_f32`](crate::kernels::pool::avg_pool2d_f32),
//! [`max_pool2d_f32`](crate::kernels::pool::max_pool2d_f32), their int8 forms, and global
//! average pooling.

use super::{clamp_f64, clamp_i64, div_round_away, Act, Cases, Ctx, Draw, Mismatch, Params};
use crate::kernels::pool::Pool2dParams;

/// The signature of `avg_pool2d_f32` and `max_pool2d_f32`.
pub type Pool2dF32 = fn(&Pool2dParams, &[f32], &mut [f32], (f32, f32));
/// The signature of `avg_pool2d_i8` and `max_pool2d_i8`.
pub type Pool2dI8 = fn(&Pool2dParams, &[i8], &mut [i8], (i8, i8));
/// The signature of `global_avg_pool_f32`.
pub type GlobalAvgPoolF32 = fn(usize, usize, usize, &[f32], &mut [f32], (f32, f32));
/// The signature of `global_avg_pool_i8`.
pub type GlobalAvgPoolI8 = fn(usize, usize, usize, &[i8], &mut [i8], (i8, i8));

const MAX_X: usize = 2 * 6 * 6 * 4;
const MAX_OUT: usize = 2 * 10 * 10 * 4;
const MAX_HW: usize = 40;
const MAX_C: usize = 5;

/// Batch 1..=2, 1..=6 pixels a side, 1..=4 channels, kernel 1..=3, stride 1..=3, padding
/// 0..=2 a side, `count_include_pad` either way; cycles through no padding, random padding and
/// a first row and column of windows wholly in the padding (padding 2 over a kernel of 1 or 2).
fn geometry(d: &mut Draw) -> Pool2dParams {
    let (n, c) = (d.size(1, 2), d.size(1, 4));
    let padding = d.cycle(3);
    let mut axis = || {
        let size = d.size(1, 6);
        let (stride, k) = (d.size(1, 3), d.size(1, 3));
        let (k, before, after) = match padding {
            0 => (k, 0, 0),
            1 => (k, d.size(0, 2), d.size(0, 2)),
            _ => (k.min(2), 2, d.size(0, 2)),
        };
        let after = after.max(k.saturating_sub(size + before));
        (size, k, stride, before, (size + before + after - k) / stride + 1)
    };
    let (h, kh, sh, top, oh) = axis();
    let (w, kw, sw, left, ow) = axis();
    Pool2dParams { input: [n, h, w, c], output: [n, oh, ow, c], kernel: [kh, kw], stride: [sh, sw], pad: [top, left], count_include_pad: d.coin() }
}

/// Calls `f(x index)` for every in-image tap of output element `i`, from the definition;
/// returns the divisor of the average (`kh * kw` with `count_include_pad`, else the taps).
fn window(p: &Pool2dParams, i: usize, mut f: impl FnMut(usize)) -> usize {
    let [_, h, w, c] = p.input;
    let [_, oh, ow, _] = p.output;
    let (ch, ox, oy, b) = (i % c, (i / c) % ow, (i / (c * ow)) % oh, i / (c * ow * oh));
    let mut taps = 0;
    for ky in 0..p.kernel[0] {
        for kx in 0..p.kernel[1] {
            let iy = (oy * p.stride[0] + ky) as i64 - p.pad[0] as i64;
            let ix = (ox * p.stride[1] + kx) as i64 - p.pad[1] as i64;
            if (0..h as i64).contains(&iy) && (0..w as i64).contains(&ix) {
                f(((b * h + iy as usize) * w + ix as usize) * c + ch);
                taps += 1;
            }
        }
    }
    if p.count_include_pad { p.kernel[0] * p.kernel[1] } else { taps }
}

fn values_f32(d: &mut Draw, x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = d.f32_in(-4.0, 4.0));
    if d.cycle(4) == 0 {
        x[d.size(0, x.len() - 1)] = f32::NAN;
    }
}

/// Average: within `1e-5 * (1 + mean |x|)` of the f64 mean, clamped by the contract's rule, 0
/// for a window with no taps, NaN where a NaN input (every fourth case) is read.
pub fn avg_pool2d_f32(kernel: Pool2dF32, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let p = geometry(d);
        let (nx, no) = (p.input.iter().product(), p.output.iter().product());
        let (mut x, mut out) = ([0f32; MAX_X], [f32::NAN; MAX_OUT]);
        values_f32(d, &mut x[..nx]);
        let act = d.act_f32();
        let ctx = Ctx::new("avg_pool2d_f32", d, Params::Pool2d { p, act: Act::F32(act.0, act.1) });
        kernel(&p, &x[..nx], &mut out[..no], act);
        for (i, &got) in out[..no].iter().enumerate() {
            let (mut sum, mut mag) = (0.0f64, 0.0f64);
            let count = window(&p, i, |xi| {
                sum += x[xi] as f64;
                mag += (x[xi] as f64).abs();
            });
            let (mean, mag) = if count == 0 { (0.0, 0.0) } else { (sum / count as f64, mag / count as f64) };
            ctx.close(i, got, clamp_f64(mean, act.0 as f64, act.1 as f64), 1e-5 * (1.0 + mag))?;
        }
        Ok(())
    })
}

/// Max: exactly the largest in-image tap (NaN taps skipped, as `f32::max`; `-inf` for none),
/// clamped by the contract's rule.
pub fn max_pool2d_f32(kernel: Pool2dF32, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let p = geometry(d);
        let (nx, no) = (p.input.iter().product(), p.output.iter().product());
        let (mut x, mut out) = ([0f32; MAX_X], [f32::NAN; MAX_OUT]);
        values_f32(d, &mut x[..nx]);
        let act = d.act_f32();
        let ctx = Ctx::new("max_pool2d_f32", d, Params::Pool2d { p, act: Act::F32(act.0, act.1) });
        kernel(&p, &x[..nx], &mut out[..no], act);
        for (i, &got) in out[..no].iter().enumerate() {
            let mut m = f32::NEG_INFINITY;
            window(&p, i, |xi| {
                if x[xi] > m {
                    m = x[xi];
                }
            });
            ctx.same_f32(i, got, clamp_f64(m as f64, act.0 as f64, act.1 as f64) as f32)?;
        }
        Ok(())
    })
}

/// Average: exactly `round(sum / count)` half away from zero, 0 for a window with no taps, then
/// the clamp.
pub fn avg_pool2d_i8(kernel: Pool2dI8, cases: Cases) -> Result<(), Mismatch> {
    pool2d_i8("avg_pool2d_i8", kernel, cases, |p, x, i| {
        let mut sum = 0i64;
        let count = window(p, i, |xi| sum += x[xi] as i64);
        if count == 0 { 0 } else { div_round_away(sum, count as i64) }
    })
}

/// Max: exactly the largest in-image tap, the clamp's lower bound for a window with no taps.
pub fn max_pool2d_i8(kernel: Pool2dI8, cases: Cases) -> Result<(), Mismatch> {
    pool2d_i8("max_pool2d_i8", kernel, cases, |p, x, i| {
        let mut m = i8::MIN as i64;
        window(p, i, |xi| m = m.max(x[xi] as i64));
        m
    })
}

/// One int8 pooling suite: random geometry and data, output element `i` exactly
/// `clamp(pooled(p, x, i))`.
fn pool2d_i8(name: &'static str, kernel: Pool2dI8, cases: Cases, pooled: impl Fn(&Pool2dParams, &[i8], usize) -> i64) -> Result<(), Mismatch> {
    cases.each(|d| {
        let p = geometry(d);
        let (nx, no) = (p.input.iter().product(), p.output.iter().product());
        let (mut x, mut out) = ([0i8; MAX_X], [0i8; MAX_OUT]);
        x[..nx].iter_mut().for_each(|v| *v = d.i8());
        out[..no].iter_mut().for_each(|v| *v = d.i8());
        let zp = d.int(-128, 127) as i32;
        let act = d.act_i8(zp);
        let ctx = Ctx::new(name, d, Params::Pool2d { p, act: Act::I8(act.0, act.1) });
        kernel(&p, &x[..nx], &mut out[..no], act);
        for (i, &got) in out[..no].iter().enumerate() {
            ctx.exact(i, got as i64, clamp_i64(pooled(&p, &x[..nx], i), act))?;
        }
        Ok(())
    })
}

fn global_shape(d: &mut Draw) -> (usize, usize, usize) {
    (d.size(1, 2), d.size(0, MAX_HW), d.size(1, MAX_C))
}

/// Within `1e-5 * (1 + mean |x|)` of the f64 mean over the pixels, clamped; 0 for no pixels.
pub fn global_avg_pool_f32(kernel: GlobalAvgPoolF32, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let (n, hw, c) = global_shape(d);
        let (mut x, mut out) = ([0f32; 2 * MAX_HW * MAX_C], [f32::NAN; 2 * MAX_C]);
        x[..n * hw * c].iter_mut().for_each(|v| *v = d.f32_in(-4.0, 4.0));
        let act = d.act_f32();
        let ctx = Ctx::new("global_avg_pool_f32", d, Params::GlobalAvgPool { n, hw, c, act: Act::F32(act.0, act.1) });
        kernel(n, hw, c, &x[..n * hw * c], &mut out[..n * c], act);
        for (i, &got) in out[..n * c].iter().enumerate() {
            let (b, ch) = (i / c, i % c);
            let vals = (0..hw).map(|k| x[(b * hw + k) * c + ch] as f64);
            let (sum, mag) = vals.fold((0.0, 0.0), |(s, m), v| (s + v, m + v.abs()));
            let (mean, mag) = if hw == 0 { (0.0, 0.0) } else { (sum / hw as f64, mag / hw as f64) };
            ctx.close(i, got, clamp_f64(mean, act.0 as f64, act.1 as f64), 1e-5 * (1.0 + mag))?;
        }
        Ok(())
    })
}

/// Exactly `round(sum / hw)` half away from zero (0 for no pixels), then the clamp.
pub fn global_avg_pool_i8(kernel: GlobalAvgPoolI8, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let (n, hw, c) = global_shape(d);
        let (mut x, mut out) = ([0i8; 2 * MAX_HW * MAX_C], [0i8; 2 * MAX_C]);
        x[..n * hw * c].iter_mut().for_each(|v| *v = d.i8());
        let zp = d.int(-128, 127) as i32;
        let act = d.act_i8(zp);
        let ctx = Ctx::new("global_avg_pool_i8", d, Params::GlobalAvgPool { n, hw, c, act: Act::I8(act.0, act.1) });
        kernel(n, hw, c, &x[..n * hw * c], &mut out[..n * c], act);
        for (i, &got) in out[..n * c].iter().enumerate() {
            let (b, ch) = (i / c, i % c);
            let sum: i64 = (0..hw).map(|k| x[(b * hw + k) * c + ch] as i64).sum();
            let avg = if hw == 0 { 0 } else { div_round_away(sum, hw as i64) };
            ctx.exact(i, got as i64, clamp_i64(avg, act))?;
        }
        Ok(())
    })
}
