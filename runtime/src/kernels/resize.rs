//! Spatial resize of NHWC tensors: nearest and bilinear (ONNX `Resize`).

/// How a source coordinate is computed from a destination one (ONNX
/// `coordinate_transformation_mode`; the file stores `ops::CoordTransform`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CoordTransform {
    HalfPixel,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
}

/// How a fractional source coordinate picks a pixel in nearest mode (ONNX `nearest_mode`; the
/// file stores `ops::NearestRound`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NearestRound {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
}

/// Shapes of a resize: `input` and `output` are NHWC with equal `n` and `c`; only H and W change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResizeParams {
    pub input: [usize; 4],
    pub output: [usize; 4],
    pub coord: CoordTransform,
}

/// One in Q16 (16 fractional bits).
const Q16_ONE: i64 = 1 << 16;

/// Source coordinate of destination index `dst` along an axis resized from `in_len` to
/// `out_len`, in Q16 (`floor(src * 2^16)`), from the ONNX formulas with the exact rational scale
/// `out_len / in_len`. Pure integer arithmetic; every numerator is non-negative, so the integer
/// division is a floor.
///
/// The Q16 value is exact when `src * 2^16` is an integer; otherwise it is below the true `src`
/// by less than `2^-16`. Since `src` is a multiple of `1 / (2 * out_len)` (`1 / (out_len - 1)`
/// for align_corners), no rounding decision differs from the exact one while `out_len <= 32768`.
pub fn source_coord_q16(coord: CoordTransform, dst: usize, in_len: usize, out_len: usize) -> i64 {
    let (d, i, o) = (dst as i64, in_len as i64, out_len as i64);
    let half_pixel = || ((2 * d + 1) * i * Q16_ONE) / (2 * o) - Q16_ONE / 2;
    match coord {
        CoordTransform::HalfPixel => half_pixel(),
        CoordTransform::PytorchHalfPixel => {
            if o > 1 {
                half_pixel()
            } else {
                0
            }
        }
        CoordTransform::AlignCorners => {
            if o > 1 {
                (d * (i - 1) * Q16_ONE) / (o - 1)
            } else {
                0
            }
        }
        CoordTransform::Asymmetric => (d * i * Q16_ONE) / o,
    }
}

/// Nearest source index for a Q16 coordinate: `round` applied, then clamped to `[0, in_len - 1]`.
fn nearest_index(q: i64, round: NearestRound, in_len: usize) -> usize {
    let bias = match round {
        NearestRound::RoundPreferFloor => Q16_ONE / 2 - 1,
        NearestRound::RoundPreferCeil => Q16_ONE / 2,
        NearestRound::Floor => 0,
        NearestRound::Ceil => Q16_ONE - 1,
    };
    ((q + bias) >> 16).clamp(0, in_len as i64 - 1) as usize
}

/// Bilinear taps for a Q16 coordinate: the coordinate is clamped to `[0, in_len - 1]`, then
/// `(i0, i1, frac)` with `i0 = floor`, `i1 = min(i0 + 1, in_len - 1)`, `frac` in Q16 `[0, 2^16)`.
fn linear_taps(q: i64, in_len: usize) -> (usize, usize, i64) {
    let last = in_len as i64 - 1;
    let q = q.clamp(0, last * Q16_ONE);
    let i0 = q >> 16;
    (i0 as usize, (i0 + 1).min(last) as usize, q & (Q16_ONE - 1))
}

/// Whether the parameters address no element (some dimension is zero).
fn is_empty(p: &ResizeParams) -> bool {
    p.input.contains(&0) || p.output.contains(&0)
}

/// Nearest-neighbour resize of an NHWC tensor (ONNX `Resize` mode `nearest`).
///
/// `x` has shape `p.input`, `out` has shape `p.output` (same `n`, `c`). For every output pixel
/// `(oy, ox)` the source coordinates come from [`source_coord_q16`] with `p.coord`; `round`
/// picks the index from the Q16 coordinate (`RoundPreferFloor`: ties go down, `RoundPreferCeil`:
/// ties go up, `Floor`, `Ceil`), which is then clamped to `[0, in_len - 1]`. The `c` channels of
/// the chosen pixel are copied. Exact, for any element type.
pub fn resize_nearest<T: Copy>(p: &ResizeParams, round: NearestRound, x: &[T], out: &mut [T]) {
    if is_empty(p) {
        return;
    }
    let [n, ih, iw, c] = p.input;
    let [_, oh, ow, _] = p.output;
    let mut pixels = out.chunks_exact_mut(c);
    for b in 0..n {
        for oy in 0..oh {
            let y = nearest_index(source_coord_q16(p.coord, oy, ih, oh), round, ih);
            let row = (b * ih + y) * iw;
            for ox in 0..ow {
                let xi = nearest_index(source_coord_q16(p.coord, ox, iw, ow), round, iw);
                let src = (row + xi) * c;
                if let Some(dst) = pixels.next() {
                    dst.copy_from_slice(&x[src..src + c]);
                }
            }
        }
    }
}

/// Calls `f(pixel_index, in_offsets [x00, x01, x10, x11], fx_q16, fy_q16)` for every output pixel,
/// where the offsets index the first channel of the four input taps (`x01` is the right
/// neighbour, `x10` the lower one).
fn for_each_bilinear(p: &ResizeParams, mut f: impl FnMut(usize, [usize; 4], i64, i64)) {
    if is_empty(p) {
        return;
    }
    let [n, ih, iw, c] = p.input;
    let [_, oh, ow, _] = p.output;
    let mut pix = 0;
    for b in 0..n {
        for oy in 0..oh {
            let (y0, y1, fy) = linear_taps(source_coord_q16(p.coord, oy, ih, oh), ih);
            let (r0, r1) = ((b * ih + y0) * iw, (b * ih + y1) * iw);
            for ox in 0..ow {
                let (x0, x1, fx) = linear_taps(source_coord_q16(p.coord, ox, iw, ow), iw);
                let taps = [(r0 + x0) * c, (r0 + x1) * c, (r1 + x0) * c, (r1 + x1) * c];
                f(pix, taps, fx, fy);
                pix += 1;
            }
        }
    }
}

/// Bilinear resize of an NHWC f32 tensor (ONNX `Resize` mode `linear` on H and W).
///
/// `x` has shape `p.input`, `out` has shape `p.output` (same `n`, `c`). Source coordinates are
/// the Q16 values of [`source_coord_q16`], clamped to `[0, in_len - 1]`; `i0 = floor`,
/// `i1 = min(i0 + 1, in_len - 1)`, and the weights are `fx = frac_x as f32 / 65536.0` (exact) and
/// `fy` likewise. Per channel, in this order:
/// `top = x00 * (1 - fx) + x01 * fx`, `bottom = x10 * (1 - fx) + x11 * fx`,
/// `out = top * (1 - fy) + bottom * fy`. Because the coordinate is truncated to Q16 it may be
/// below the exact one by less than `2^-16` (it is exact when `2 * out_len` — `out_len - 1` for
/// align_corners — divides `2^16 * numerator`, e.g. power-of-two output sizes).
pub fn resize_bilinear_f32(p: &ResizeParams, x: &[f32], out: &mut [f32]) {
    let c = p.input[3];
    for_each_bilinear(p, |pix, [a, b, d, e], fx, fy| {
        let fx = fx as f32 / 65536.0;
        let fy = fy as f32 / 65536.0;
        let dst = &mut out[pix * c..(pix + 1) * c];
        for (ch, o) in dst.iter_mut().enumerate() {
            let top = x[a + ch] * (1.0 - fx) + x[b + ch] * fx;
            let bottom = x[d + ch] * (1.0 - fx) + x[e + ch] * fx;
            *o = top * (1.0 - fy) + bottom * fy;
        }
    });
}

/// Bilinear resize of an NHWC int8 tensor whose input and output share quantization parameters.
///
/// Taps and Q16 fractions as in [`resize_bilinear_f32`]. With integer weights
/// `wx1 = frac_x`, `wx0 = 2^16 - frac_x` (and `wy0`, `wy1` likewise), the stored values are
/// interpolated directly (the zero point cancels because the weights sum to exactly `2^32`):
/// `v = x00*wx0*wy0 + x01*wx1*wy0 + x10*wx0*wy1 + x11*wx1*wy1` in `i64` (Q32), and
/// `out = clamp(round_half_away_from_zero(v / 2^32), -128, 127)`. Pure integer arithmetic.
pub fn resize_bilinear_i8(p: &ResizeParams, x: &[i8], out: &mut [i8]) {
    let c = p.input[3];
    for_each_bilinear(p, |pix, [a, b, d, e], fx, fy| {
        let (wx0, wx1) = (Q16_ONE - fx, fx);
        let (wy0, wy1) = (Q16_ONE - fy, fy);
        let w = [wx0 * wy0, wx1 * wy0, wx0 * wy1, wx1 * wy1];
        let dst = &mut out[pix * c..(pix + 1) * c];
        for (ch, o) in dst.iter_mut().enumerate() {
            let v = x[a + ch] as i64 * w[0]
                + x[b + ch] as i64 * w[1]
                + x[d + ch] as i64 * w[2]
                + x[e + ch] as i64 * w[3];
            let half = 1i64 << 31;
            let r = if v >= 0 {
                (v + half) >> 32
            } else {
                -((half - v) >> 32)
            };
            *o = r.clamp(-128, 127) as i8;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn params(
        n: usize,
        ih: usize,
        iw: usize,
        oh: usize,
        ow: usize,
        c: usize,
        coord: CoordTransform,
    ) -> ResizeParams {
        ResizeParams {
            input: [n, ih, iw, c],
            output: [n, oh, ow, c],
            coord,
        }
    }

    #[test]
    fn source_coord_q16_values() {
        use CoordTransform::*;
        // half_pixel 2 -> 4: -0.25, 0.25, 0.75, 1.25
        let hp: Vec<i64> = (0..4)
            .map(|d| source_coord_q16(HalfPixel, d, 2, 4))
            .collect();
        assert_eq!(hp, [-16384, 16384, 49152, 81920]);
        assert_eq!(source_coord_q16(PytorchHalfPixel, 0, 5, 1), 0);
        assert_eq!(source_coord_q16(HalfPixel, 0, 5, 1), 2 << 16);
        // align_corners 3 -> 4: d * 2/3, truncated
        assert_eq!(source_coord_q16(AlignCorners, 1, 3, 4), 43690);
        assert_eq!(source_coord_q16(AlignCorners, 0, 3, 1), 0);
        assert_eq!(source_coord_q16(Asymmetric, 1, 3, 2), 98304);
    }

    #[test]
    fn nearest_tiny() {
        use CoordTransform::*;
        use NearestRound::*;
        let run = |coord, round, x: &[i32], ow: usize| {
            let p = params(1, 1, x.len(), 1, ow, 1, coord);
            let mut out = vec![0; ow];
            resize_nearest(&p, round, x, &mut out);
            out
        };
        assert_eq!(run(Asymmetric, Floor, &[5, 6], 4), [5, 5, 6, 6]);
        // -0.25, 0.25, 0.75, 1.25
        assert_eq!(run(HalfPixel, RoundPreferFloor, &[5, 6], 4), [5, 5, 6, 6]);
        assert_eq!(run(HalfPixel, Ceil, &[5, 6], 4), [5, 6, 6, 6]);
        // Ties: half_pixel 4 -> 2 gives 0.5, 2.5; asymmetric 3 -> 2 gives 0, 1.5.
        assert_eq!(run(HalfPixel, RoundPreferFloor, &[0, 1, 2, 3], 2), [0, 2]);
        assert_eq!(run(HalfPixel, RoundPreferCeil, &[0, 1, 2, 3], 2), [1, 3]);
        assert_eq!(run(Asymmetric, RoundPreferFloor, &[0, 1, 2], 2), [0, 1]);
        assert_eq!(run(Asymmetric, RoundPreferCeil, &[0, 1, 2], 2), [0, 2]);
        // Channels are copied together.
        let p = params(1, 1, 2, 2, 2, 2, AlignCorners);
        let mut out = [0i8; 8];
        resize_nearest(&p, Floor, &[1, 2, 3, 4], &mut out);
        assert_eq!(out, [1, 2, 3, 4, 1, 2, 3, 4]);
    }

    #[test]
    fn bilinear_f32_tiny() {
        use CoordTransform::*;
        let p = params(1, 1, 2, 1, 4, 1, HalfPixel);
        let mut out = [0.0f32; 4];
        resize_bilinear_f32(&p, &[0.0, 4.0], &mut out);
        assert_eq!(out, [0.0, 1.0, 3.0, 4.0]);
        let p = params(1, 2, 2, 3, 3, 1, AlignCorners);
        let mut out = [0.0f32; 9];
        resize_bilinear_f32(&p, &[0.0, 10.0, 20.0, 30.0], &mut out);
        assert_eq!(out, [0.0, 5.0, 10.0, 10.0, 15.0, 20.0, 20.0, 25.0, 30.0]);
    }

    #[test]
    fn bilinear_i8_tiny() {
        use CoordTransform::*;
        let p = params(1, 1, 2, 1, 4, 1, HalfPixel);
        let mut out = [0i8; 4];
        resize_bilinear_i8(&p, &[-3, 0], &mut out);
        // -3, -2.25, -0.75, 0
        assert_eq!(out, [-3, -2, -1, 0]);
        let p = params(1, 1, 2, 1, 3, 1, AlignCorners);
        let mut out = [0i8; 3];
        resize_bilinear_i8(&p, &[-3, -2], &mut out);
        assert_eq!(out, [-3, -3, -2]); // -2.5 rounds away from zero
        resize_bilinear_i8(&p, &[1, 2], &mut out);
        assert_eq!(out, [1, 2, 2]); // 1.5 -> 2
        resize_bilinear_i8(&p, &[-128, 127], &mut out);
        assert_eq!(out, [-128, -1, 127]); // -0.5 -> -1
        let p = params(1, 2, 2, 3, 3, 1, AlignCorners);
        let mut out = [0i8; 9];
        resize_bilinear_i8(&p, &[0, 10, 20, 31], &mut out);
        // centre (0 + 10 + 20 + 31) / 4 = 15.25
        assert_eq!(out, [0, 5, 10, 10, 15, 21, 20, 26, 31]);
    }
}
