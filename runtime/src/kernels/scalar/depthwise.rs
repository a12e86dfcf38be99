//! Depthwise int8 convolution with channel multiplier 1 (`groups == c == oc`): four channels of
//! one output pixel at a time, their sums in registers, over the pixel's in-image taps; the
//! input zero point folded into the starting sums of the pixels whose window is in the image.
//!
//! In NHWC the four channels of one tap are four adjacent input bytes; each channel's weights
//! are one row of `kh · kw` bytes (OHWI with one input channel). The in-image tap ranges are
//! computed once per output row and pixel, so no tap is bounds-checked in a loop.

use super::conv::{interior, tap_range};
use super::OutputStage;
use crate::kernels::conv::Conv2dParams;

/// int8 depthwise convolution, the arithmetic of [`crate::kernels::conv::conv2d_i8`] with
/// `groups == c == oc`.
///
/// Four channels at a time (the outer loop), over every output pixel. A pixel whose window lies
/// wholly in the image starts from `bias - x_zero_point · Σw` (computed once per channel
/// block) and runs its `kh · kw` taps in one flat loop without the zero point; a border pixel
/// starts from `bias` and subtracts the zero point from each of its in-image taps.
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
    // From the tap after a kernel row's last to the next row's first.
    let row_jump = row_step.wrapping_sub(kw * tap_step);
    let (oy_lo, oy_hi) = interior(oh, kh, sh, dh, top, h);
    let (ox_lo, ox_hi) = interior(ow, kw, sw, dw, left, wd);
    let ky_of = |oy: usize| if oy >= oy_lo && oy < oy_hi { (0, kh) } else { tap_range(oy, kh, sh, dh, top, h) };
    let kx_of = |ox: usize| if ox >= ox_lo && ox < ox_hi { (0, kw) } else { tap_range(ox, kw, sw, dw, left, wd) };
    // Input offset of channel 0 of the first in-image tap of pixel `(b, oy, ox)`.
    let origin = |b: usize, oy: usize, ox: usize, ky0: usize, kx0: usize| ((b * h + oy * sh + ky0 * dh - top) * wd + ox * sw + kx0 * dw - left) * c;

    let mut ch = 0;
    while ch + 4 <= c {
        let (r0, rest) = w[ch * kk..(ch + 4) * kk].split_at(kk);
        let (r1, rest) = rest.split_at(kk);
        let (r2, r3) = rest.split_at(kk);
        let sum = |r: &[i8]| r.iter().fold(0i32, |s, &v| s.wrapping_add(v as i32));
        let base = [bias_of(ch), bias_of(ch + 1), bias_of(ch + 2), bias_of(ch + 3)];
        let folded = [
            base[0].wrapping_sub(zp.wrapping_mul(sum(r0))),
            base[1].wrapping_sub(zp.wrapping_mul(sum(r1))),
            base[2].wrapping_sub(zp.wrapping_mul(sum(r2))),
            base[3].wrapping_sub(zp.wrapping_mul(sum(r3))),
        ];
        let mut dst = ch;
        for b in 0..n {
            for oy in 0..oh {
                let (ky0, ky1) = ky_of(oy);
                for ox in 0..ow {
                    let (kx0, kx1) = kx_of(ox);
                    let [mut a0, mut a1, mut a2, mut a3];
                    if ky1 - ky0 == kh && kx1 - kx0 == kw {
                        [a0, a1, a2, a3] = folded;
                        let mut xt = origin(b, oy, ox, 0, 0) + ch;
                        let mut kx = 0;
                        for t in 0..kk {
                            let &[x0, x1, x2, x3] = &x[xt..][..4] else { unreachable!() };
                            a0 = a0.wrapping_add((x0 as i32).wrapping_mul(r0[t] as i32));
                            a1 = a1.wrapping_add((x1 as i32).wrapping_mul(r1[t] as i32));
                            a2 = a2.wrapping_add((x2 as i32).wrapping_mul(r2[t] as i32));
                            a3 = a3.wrapping_add((x3 as i32).wrapping_mul(r3[t] as i32));
                            xt = xt.wrapping_add(tap_step);
                            kx += 1;
                            if kx == kw {
                                kx = 0;
                                xt = xt.wrapping_add(row_jump);
                            }
                        }
                    } else {
                        [a0, a1, a2, a3] = base;
                        let taps = kx1 - kx0;
                        let mut xo = if ky0 == ky1 || taps == 0 { 0 } else { origin(b, oy, ox, ky0, kx0) + ch };
                        for ky in ky0..ky1 {
                            let t0 = ky * kw + kx0;
                            let (w0, w1, w2, w3) = (&r0[t0..][..taps], &r1[t0..][..taps], &r2[t0..][..taps], &r3[t0..][..taps]);
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
                    }
                    let px = &mut out[dst..][..4];
                    px[0] = stage.requantize(ch, a0);
                    px[1] = stage.requantize(ch + 1, a1);
                    px[2] = stage.requantize(ch + 2, a2);
                    px[3] = stage.requantize(ch + 3, a3);
                    dst += c;
                }
            }
        }
        ch += 4;
    }
    while ch < c {
        let row = &w[ch * kk..][..kk];
        let mut dst = ch;
        for b in 0..n {
            for oy in 0..oh {
                let (ky0, ky1) = ky_of(oy);
                for ox in 0..ow {
                    let (kx0, kx1) = kx_of(ox);
                    let taps = kx1 - kx0;
                    let mut acc = bias_of(ch);
                    let mut xo = if ky0 == ky1 || taps == 0 { 0 } else { origin(b, oy, ox, ky0, kx0) + ch };
                    for ky in ky0..ky1 {
                        let mut xt = xo;
                        for &wv in &row[ky * kw + kx0..][..taps] {
                            acc = acc.wrapping_add((x[xt] as i32 - zp).wrapping_mul(wv as i32));
                            xt += tap_step;
                        }
                        xo += row_step;
                    }
                    out[dst] = stage.requantize(ch, acc);
                    dst += c;
                }
            }
        }
        ch += 1;
    }
}
