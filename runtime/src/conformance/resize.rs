//! Resize: [`resize_nearest`](crate::kernels::resize::resize_nearest),
//! [`resize_bilinear_f32`](crate::kernels::resize::resize_bilinear_f32) and
//! [`resize_bilinear_i8`](crate::kernels::resize::resize_bilinear_i8).

use super::{Cases, Ctx, Draw, Element, Mismatch, Params};
use crate::kernels::resize::{CoordTransform, NearestRound, ResizeParams};

/// The signature of `resize_nearest` for elements `T`.
pub type ResizeNearest<T> = fn(&ResizeParams, NearestRound, &[T], &mut [T]);
/// The signature of `resize_bilinear_f32`.
pub type ResizeBilinearF32 = fn(&ResizeParams, &[f32], &mut [f32]);
/// The signature of `resize_bilinear_i8`.
pub type ResizeBilinearI8 = fn(&ResizeParams, &[i8], &mut [i8]);

const COORDS: [CoordTransform; 4] = [CoordTransform::HalfPixel, CoordTransform::PytorchHalfPixel, CoordTransform::AlignCorners, CoordTransform::Asymmetric];
const ROUNDS: [NearestRound; 4] = [NearestRound::RoundPreferFloor, NearestRound::RoundPreferCeil, NearestRound::Floor, NearestRound::Ceil];
const MAX_IN: usize = 2 * 7 * 7 * 3;
const MAX_OUT: usize = 2 * 12 * 12 * 3;

/// Batch 1..=2, 1..=7 input and 1..=12 output pixels a side (up- and downsampling), 1..=3
/// channels, cycling through the coordinate transforms. With `exact`, output sizes whose Q16
/// coordinates are exact (powers of two; one more for align_corners).
fn params(d: &mut Draw, exact: bool) -> ResizeParams {
    let coord = COORDS[d.cycle(4)];
    let (n, c) = (d.size(1, 2), d.size(1, 3));
    let (ih, iw) = (d.size(1, 7), d.size(1, 7));
    let mut out = || {
        if !exact {
            d.size(1, 12)
        } else {
            let e = d.size(0, 3);
            if coord == CoordTransform::AlignCorners && e > 0 { (1 << (e - 1)) + 1 } else { 1 << e }
        }
    };
    let (oh, ow) = (out(), out());
    ResizeParams { input: [n, ih, iw, c], output: [n, oh, ow, c], coord }
}

/// The ONNX source coordinate as an exact rational `num / den` (`den > 0`).
fn source_rational(coord: CoordTransform, dst: usize, in_len: usize, out_len: usize) -> (i64, i64) {
    let (d, i, o) = (dst as i64, in_len as i64, out_len as i64);
    match coord {
        CoordTransform::PytorchHalfPixel | CoordTransform::AlignCorners if o == 1 => (0, 1),
        CoordTransform::HalfPixel | CoordTransform::PytorchHalfPixel => ((2 * d + 1) * i - o, 2 * o),
        CoordTransform::AlignCorners => (d * (i - 1), o - 1),
        CoordTransform::Asymmetric => (d * i, o),
    }
}

/// The nearest source index from the exact coordinate, ties resolved exactly, clamped.
fn nearest_index(coord: CoordTransform, round: NearestRound, dst: usize, in_len: usize, out_len: usize) -> usize {
    let (num, den) = source_rational(coord, dst, in_len, out_len);
    let (floor, rem) = (num.div_euclid(den), num.rem_euclid(den));
    let idx = match round {
        NearestRound::RoundPreferFloor => floor + (2 * rem > den) as i64,
        NearestRound::RoundPreferCeil => floor + (2 * rem >= den) as i64,
        NearestRound::Floor => floor,
        NearestRound::Ceil => floor + (rem > 0) as i64,
    };
    idx.clamp(0, in_len as i64 - 1) as usize
}

fn at(p: &ResizeParams, b: usize, y: usize, x: usize, ch: usize) -> usize {
    let [_, h, w, c] = p.input;
    ((b * h + y) * w + x) * c + ch
}

/// Output element `i` as `(b, oy, ox, ch)`.
fn coords(p: &ResizeParams, i: usize) -> (usize, usize, usize, usize) {
    let [_, oh, ow, c] = p.output;
    (i / (c * ow * oh), (i / (c * ow)) % oh, (i / c) % ow, i % c)
}

/// Every element exactly: the channel values of the source pixel picked by the exact rational
/// coordinate and the rounding (cycling through all four), for elements `T` (`i8` and `u32` in
/// the interpreter).
pub fn resize_nearest<T: Element>(kernel: ResizeNearest<T>, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let p = params(d, false);
        let round = ROUNDS[d.cycle(4)];
        let (nx, no) = (p.input.iter().product(), p.output.iter().product());
        let (mut x, mut out) = ([T::tag(0); MAX_IN], [T::tag(MAX_IN); MAX_OUT]);
        x[..nx].iter_mut().enumerate().for_each(|(i, v)| *v = T::tag(i));
        let ctx = Ctx::new("resize_nearest", d, Params::Resize { p, round: Some(round) });
        kernel(&p, round, &x[..nx], &mut out[..no]);
        let [_, ih, iw, _] = p.input;
        let [_, oh, ow, _] = p.output;
        for (i, &got) in out[..no].iter().enumerate() {
            let (b, oy, ox, ch) = coords(&p, i);
            let want = x[at(&p, b, nearest_index(p.coord, round, oy, ih, oh), nearest_index(p.coord, round, ox, iw, ow), ch)];
            if got != want {
                return Err(ctx.mismatch(i, got.as_f64(), want.as_f64(), 0.0));
            }
        }
        Ok(())
    })
}

/// Bilinear from f64 coordinates: the value and the sum of the neighbours' absolute
/// differences (what a coordinate error of `2^-16` can move it by).
fn bilinear_f64(p: &ResizeParams, i: usize, x: impl Fn(usize) -> f64) -> (f64, f64) {
    let [_, ih, iw, _] = p.input;
    let [_, oh, ow, _] = p.output;
    let (b, oy, ox, ch) = coords(p, i);
    let taps = |dst: usize, len: usize, out: usize| {
        let (num, den) = source_rational(p.coord, dst, len, out);
        let s = (num as f64 / den as f64).clamp(0.0, (len - 1) as f64);
        let i0 = s as usize;
        (i0, (i0 + 1).min(len - 1), s - i0 as f64)
    };
    let ((y0, y1, fy), (x0, x1, fx)) = (taps(oy, ih, oh), taps(ox, iw, ow));
    let (v00, v01, v10, v11) = (x(at(p, b, y0, x0, ch)), x(at(p, b, y0, x1, ch)), x(at(p, b, y1, x0, ch)), x(at(p, b, y1, x1, ch)));
    let top = v00 * (1.0 - fx) + v01 * fx;
    let bottom = v10 * (1.0 - fx) + v11 * fx;
    let spread = (v01 - v00).abs() + (v11 - v10).abs() + (v10 - v00).abs() + (v11 - v01).abs();
    (top * (1.0 - fy) + bottom * fy, spread)
}

/// Every element within `1e-5` of bilinear interpolation in f64 when the Q16 coordinates are
/// exact (every other case), else within `1e-5 + spread / 2^16` (the contract truncates
/// coordinates to Q16), for values in `[-10, 10]`.
pub fn resize_bilinear_f32(kernel: ResizeBilinearF32, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let exact = d.cycle(2) == 0;
        let p = params(d, exact);
        let (nx, no) = (p.input.iter().product(), p.output.iter().product());
        let (mut x, mut out) = ([0f32; MAX_IN], [f32::NAN; MAX_OUT]);
        x[..nx].iter_mut().for_each(|v| *v = d.f32_in(-10.0, 10.0));
        let ctx = Ctx::new("resize_bilinear_f32", d, Params::Resize { p, round: None });
        kernel(&p, &x[..nx], &mut out[..no]);
        for (i, &got) in out[..no].iter().enumerate() {
            let (want, spread) = bilinear_f64(&p, i, |k| x[k] as f64);
            ctx.close(i, got, want, if exact { 1e-5 } else { 1e-5 + spread / 65536.0 })?;
        }
        Ok(())
    })
}

/// Every element exactly against an integer reference (Q16 coordinates as the floor of the
/// exact rational, separable two-stage interpolation, rounding half away from zero by remainder)
/// and within one of the f64 interpolation.
pub fn resize_bilinear_i8(kernel: ResizeBilinearI8, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let p = params(d, false);
        let (nx, no) = (p.input.iter().product(), p.output.iter().product());
        let (mut x, mut out) = ([0i8; MAX_IN], [0i8; MAX_OUT]);
        x[..nx].iter_mut().for_each(|v| *v = d.i8());
        out[..no].iter_mut().for_each(|v| *v = d.i8());
        let ctx = Ctx::new("resize_bilinear_i8", d, Params::Resize { p, round: None });
        kernel(&p, &x[..nx], &mut out[..no]);
        let [_, ih, iw, _] = p.input;
        let [_, oh, ow, _] = p.output;
        let taps = |dst: usize, len: usize, out: usize| {
            let (num, den) = source_rational(p.coord, dst, len, out);
            let q = (num * 65536).div_euclid(den).clamp(0, (len as i64 - 1) * 65536);
            let i0 = (q / 65536) as usize;
            (i0, (i0 + 1).min(len - 1), q % 65536)
        };
        for (i, &got) in out[..no].iter().enumerate() {
            let (b, oy, ox, ch) = coords(&p, i);
            let ((y0, y1, fy), (x0, x1, fx)) = (taps(oy, ih, oh), taps(ox, iw, ow));
            let g = |y, xx| x[at(&p, b, y, xx, ch)] as i64;
            let top = g(y0, x0) * (65536 - fx) + g(y0, x1) * fx;
            let bottom = g(y1, x0) * (65536 - fx) + g(y1, x1) * fx;
            let v = top * (65536 - fy) + bottom * fy;
            let (quot, rem) = (v / (1i64 << 32), v % (1i64 << 32));
            let r = if 2 * rem.abs() >= 1i64 << 32 { quot + v.signum() } else { quot };
            ctx.exact(i, got as i64, r.clamp(-128, 127))?;
            ctx.close_f64(i, got as f64, bilinear_f64(&p, i, |k| x[k] as f64).0, 1.0)?;
        }
        Ok(())
    })
}
