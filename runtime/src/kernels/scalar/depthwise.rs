//! Depthwise int8 convolution with channel multiplier 1 (`groups == c == oc`): four channels of
//! one output pixel at a time, their sums in registers, over the pixel's in-image taps.
//!
//! In NHWC the four channels of one tap are four adjacent input bytes; each channel's weights
//! are one row of `kh · kw` bytes (OHWI with one input channel). The in-image tap ranges are
//! computed once per output row and pixel, so no tap is bounds-checked in a loop.

use super::conv::tap_range;
use super::OutputStage;
use crate::kernels::conv::Conv2dParams;

/// int8 depthwise convolution, the arithmetic of [`crate::kernels::conv::conv2d_i8`] with
/// `groups == c == oc`.
///
/// `x_zero_point` in the int8 range and the slices of the documented lengths.
pub fn depthwise_conv2d_s8(p: &Conv2dParams, x: &[i8], x_zero_point: i32, w: &[i8], bias: Option<&[i32]>, stage: &OutputStage<'_>, out: &mut [i8]) {
    let [n, h, wd, c] = p.input;
    let [_, oh, ow, _] = p.output;
    let [kh, kw] = p.kernel;
    let [sh, sw] = p.stride;
    let [dh, dw] = p.dilation;
    let [top, left] = p.pad;
    let kk = kh * kw;
    let zp = x_zero_point;
    let bias_of = |o: usize| bias.map_or(0, |b| b[o]);
    let (row_step, tap_step) = (dh * wd * c, dw * c);
    let mut dst = 0;
    for b in 0..n {
        for oy in 0..oh {
            let (ky0, ky1) = tap_range(oy, kh, sh, dh, top, h);
            for ox in 0..ow {
                let (kx0, kx1) = tap_range(ox, kw, sw, dw, left, wd);
                let taps = kx1 - kx0;
                let empty = ky0 == ky1 || taps == 0;
                // Input offset of channel 0 of the first in-image tap.
                let base = if empty { 0 } else { ((b * h + oy * sh + ky0 * dh - top) * wd + ox * sw + kx0 * dw - left) * c };
                let out_px = &mut out[dst..][..c];
                let mut ch = 0;
                while ch + 4 <= c {
                    let rows = [&w[ch * kk..][..kk], &w[(ch + 1) * kk..][..kk], &w[(ch + 2) * kk..][..kk], &w[(ch + 3) * kk..][..kk]];
                    let [mut a0, mut a1, mut a2, mut a3] = [bias_of(ch), bias_of(ch + 1), bias_of(ch + 2), bias_of(ch + 3)];
                    let mut xo = base + ch;
                    for ky in ky0..ky1 {
                        let t0 = ky * kw + kx0;
                        let (w0, w1, w2, w3) = (&rows[0][t0..][..taps], &rows[1][t0..][..taps], &rows[2][t0..][..taps], &rows[3][t0..][..taps]);
                        let mut xt = xo;
                        for t in 0..taps {
                            let &[x0, x1, x2, x3] = &x[xt..][..4] else { unreachable!() };
                            a0 = a0.wrapping_add((x0 as i32 - zp).wrapping_mul(w0[t] as i32));
                            a1 = a1.wrapping_add((x1 as i32 - zp).wrapping_mul(w1[t] as i32));
                            a2 = a2.wrapping_add((x2 as i32 - zp).wrapping_mul(w2[t] as i32));
                            a3 = a3.wrapping_add((x3 as i32 - zp).wrapping_mul(w3[t] as i32));
                            xt += tap_step;
                        }
                        xo += row_step;
                    }
                    for (j, a) in [a0, a1, a2, a3].into_iter().enumerate() {
                        out_px[ch + j] = stage.requantize(ch + j, a);
                    }
                    ch += 4;
                }
                while ch < c {
                    let row = &w[ch * kk..][..kk];
                    let mut acc = bias_of(ch);
                    let mut xo = base + ch;
                    for ky in ky0..ky1 {
                        let ws = &row[ky * kw + kx0..][..taps];
                        let mut xt = xo;
                        for &wv in ws {
                            acc = acc.wrapping_add((x[xt] as i32 - zp).wrapping_mul(wv as i32));
                            xt += tap_step;
                        }
                        xo += row_step;
                    }
                    out_px[ch] = stage.requantize(ch, acc);
                    ch += 1;
                }
                dst += c;
            }
        }
    }
}
