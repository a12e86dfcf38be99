//! Regular (`groups == 1`) int8 convolution without scratch: each output pixel's window is read
//! in place as runs of contiguous input bytes, and the weights of each channel as the matching
//! runs of its OHWI row.
//!
//! With `dilation_w == 1` the in-image taps of one kernel row, `(kx0..kx1) × c`, are one run of
//! `(kx1 - kx0) · c` bytes in both the input row and the weight row; otherwise each tap's `c`
//! channels are a run. The in-image tap ranges (`ky0..ky1`, `kx0..kx1`) are computed once per
//! output row and pixel, so no tap is bounds-checked in a loop. Two horizontally adjacent pixels
//! whose windows are wholly inside the image in `x` share their taps' ranges and go through
//! [`dot_2x4`] together, four channels at a time; the rest go one pixel at a time.

use super::dot::{dot_1x1, dot_1x4, dot_2x4, PAIRS};
use super::OutputStage;
use crate::kernels::conv::Conv2dParams;

/// The in-image taps `k0..k1` of output position `o` along one axis: those with
/// `0 <= o·stride + k·dilation - pad < size`.
#[inline]
pub(super) fn tap_range(o: usize, kernel: usize, stride: usize, dilation: usize, pad: usize, size: usize) -> (usize, usize) {
    let start = o * stride;
    let k0 = if start >= pad { 0 } else { (pad - start).div_ceil(dilation) };
    let k1 = if size + pad > start { (size + pad - start).div_ceil(dilation).min(kernel) } else { 0 };
    (k0.min(k1), k1)
}

/// The output positions `lo..hi` along one axis whose every tap is in the image.
pub(super) fn interior(out: usize, kernel: usize, stride: usize, dilation: usize, pad: usize, size: usize) -> (usize, usize) {
    let lo = pad.div_ceil(stride);
    let span = (kernel - 1) * dilation;
    let hi = if size + pad > span { (size + pad - span).div_ceil(stride) } else { 0 };
    let hi = hi.min(out);
    (lo.min(hi), hi)
}

/// int8 regular convolution, the arithmetic of [`crate::kernels::conv::conv2d_i8`].
///
/// `p.groups == 1`, `x_zero_point` in the int8 range and the slices of the documented lengths.
pub fn conv2d_s8(p: &Conv2dParams, x: &[i8], x_zero_point: i32, w: &[i8], bias: Option<&[i32]>, stage: &OutputStage<'_>, out: &mut [i8]) {
    let [n, h, wd, c] = p.input;
    let [_, oh, ow, oc] = p.output;
    let [kh, kw] = p.kernel;
    let [sh, sw] = p.stride;
    let [dh, dw] = p.dilation;
    let [top, left] = p.pad;
    let k = kh * kw * c;
    let zp = x_zero_point;
    let (in_lo, in_hi) = interior(ow, kw, sw, dw, left, wd);
    let bias_of = |o: usize| bias.map_or(0, |b| b[o]);
    let step = sw * c;
    let mut dst = 0;
    for b in 0..n {
        for oy in 0..oh {
            let ky = tap_range(oy, kh, sh, dh, top, h);
            // Input offset of tap (ky = 0, kx = 0) of output (oy, ox = 0), as if it were in the
            // image; every run starts at or after it plus the in-image taps' offsets.
            let row0 = (b * h * wd) as isize + ((oy * sh) as isize - top as isize) * wd as isize;
            let mut ox = 0;
            while ox < ow {
                let pair = PAIRS && ox >= in_lo && ox + 1 < in_hi;
                let kx = if ox >= in_lo && ox < in_hi { (0, kw) } else { tap_range(ox, kw, sw, dw, left, wd) };
                // The first in-image tap's input offset: `row0 + ix(ox, 0)`, shifted to the first
                // in-image taps so that it is non-negative.
                let empty = ky.0 == ky.1 || kx.0 == kx.1;
                let base = if empty { 0 } else { ((row0 + (ky.0 * dh * wd) as isize + (ox * sw + kx.0 * dw) as isize - left as isize) * c as isize) as usize };
                let out_px = &mut out[dst..][..if pair { 2 * oc } else { oc }];
                let mut o = 0;
                while o + 4 <= oc {
                    let rows = [&w[o * k..][..k], &w[(o + 1) * k..][..k], &w[(o + 2) * k..][..k], &w[(o + 3) * k..][..k]];
                    let init = [bias_of(o), bias_of(o + 1), bias_of(o + 2), bias_of(o + 3)];
                    if pair {
                        let mut acc = [init, init];
                        each_run(p, ky, kx, base, |xo, wo, len| {
                            let xs = [&x[xo..][..len], &x[xo + step..][..len]];
                            dot_2x4(xs, [&rows[0][wo..], &rows[1][wo..], &rows[2][wo..], &rows[3][wo..]], zp, &mut acc);
                        });
                        for (j, &a) in acc[0].iter().enumerate() {
                            out_px[o + j] = stage.requantize(o + j, a);
                        }
                        for (j, &a) in acc[1].iter().enumerate() {
                            out_px[oc + o + j] = stage.requantize(o + j, a);
                        }
                    } else {
                        let mut acc = init;
                        each_run(p, ky, kx, base, |xo, wo, len| {
                            dot_1x4(&x[xo..][..len], [&rows[0][wo..], &rows[1][wo..], &rows[2][wo..], &rows[3][wo..]], zp, &mut acc);
                        });
                        for (j, &a) in acc.iter().enumerate() {
                            out_px[o + j] = stage.requantize(o + j, a);
                        }
                    }
                    o += 4;
                }
                while o < oc {
                    let row = &w[o * k..][..k];
                    for px in 0..if pair { 2 } else { 1 } {
                        let mut acc = bias_of(o);
                        each_run(p, ky, kx, base + px * step, |xo, wo, len| dot_1x1(&x[xo..][..len], &row[wo..], zp, &mut acc));
                        out_px[px * oc + o] = stage.requantize(o, acc);
                    }
                    o += 1;
                }
                dst += out_px.len();
                ox += if pair { 2 } else { 1 };
            }
        }
    }
}

/// The runs of one output pixel's window: `f(x_offset, w_offset, len)` for each in-image run,
/// `x_offset` into the input (from `base`, the input offset of tap `(ky.0, kx.0)`) and `w_offset`
/// into one output channel's weight row.
#[inline(always)]
fn each_run(p: &Conv2dParams, (ky0, ky1): (usize, usize), (kx0, kx1): (usize, usize), base: usize, mut f: impl FnMut(usize, usize, usize)) {
    let [_, _, wd, c] = p.input;
    let kw = p.kernel[1];
    let row_step = p.dilation[0] * wd * c;
    let mut xo = base;
    for ky in ky0..ky1 {
        let wo = (ky * kw + kx0) * c;
        if p.dilation[1] == 1 {
            f(xo, wo, (kx1 - kx0) * c);
        } else {
            let tap_step = p.dilation[1] * c;
            for t in 0..kx1 - kx0 {
                f(xo + t * tap_step, wo + t * c, c);
            }
        }
        xo += row_step;
    }
}
