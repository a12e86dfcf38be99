//! Average, max and global average pooling in NHWC.
//!
//! Windows that lie wholly in the padding (possible only when a pad is at least the kernel size)
//! have no in-image taps: average pooling then yields 0 before the clamp (f32 `0.0`; int8 the
//! quantized value 0, a sum of 0 over a count of 1) and max pooling yields the clamp's lower
//! bound.

use super::output::{clamp_f32, clamp_i8};

/// Geometry of a 2-D pooling window over NHWC tensors.
///
/// Output pixel `(oy, ox)` covers input rows `oy * sh - top .. oy * sh - top + kh` and columns
/// likewise; taps outside the image are padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dParams {
    /// `[n, h, w, c]`.
    pub input: [usize; 4],
    /// `[n, oh, ow, c]`: same `n` and `c` as the input.
    pub output: [usize; 4],
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    /// `[sh, sw]`, each `>= 1`.
    pub stride: [usize; 2],
    /// `[top, left]`; bottom/right padding is implied by the output size.
    pub pad: [usize; 2],
    /// Average pooling only: divide by `kh * kw` (true) or by the number of in-image taps (false).
    pub count_include_pad: bool,
}

/// In-image index range `lo..hi` covered on one axis by the window of output position `o`.
#[inline]
fn axis_range(o: usize, stride: usize, k: usize, pad: usize, size: usize) -> (usize, usize) {
    let start = o * stride;
    let lo = start.saturating_sub(pad).min(size);
    let hi = (start + k).saturating_sub(pad).min(size);
    (lo, hi.max(lo))
}

/// The in-image part of one output pixel's window: rows `y0..y1`, columns `x0..x1` of image `b`.
#[derive(Clone, Copy)]
struct Window {
    b: usize,
    y0: usize,
    y1: usize,
    x0: usize,
    x1: usize,
}

impl Window {
    fn taps(&self) -> usize {
        (self.y1 - self.y0) * (self.x1 - self.x0)
    }

    /// Channel `ch` of the in-image taps, row by row.
    fn values<'a, T: Copy>(
        self,
        p: &Pool2dParams,
        x: &'a [T],
        ch: usize,
    ) -> impl Iterator<Item = T> + 'a {
        let [_, h, w, c] = p.input;
        (self.y0..self.y1).flat_map(move |iy| {
            (self.x0..self.x1).map(move |ix| x[((self.b * h + iy) * w + ix) * c + ch])
        })
    }
}

/// The windows of the output pixels, in memory order.
fn windows(p: &Pool2dParams) -> impl Iterator<Item = Window> + '_ {
    let [n, h, w, _] = p.input;
    let [_, oh, ow, _] = p.output;
    (0..n).flat_map(move |b| {
        (0..oh).flat_map(move |oy| {
            let (y0, y1) = axis_range(oy, p.stride[0], p.kernel[0], p.pad[0], h);
            (0..ow).map(move |ox| {
                let (x0, x1) = axis_range(ox, p.stride[1], p.kernel[1], p.pad[1], w);
                Window { b, y0, y1, x0, x1 }
            })
        })
    })
}

/// `sum / count` rounded half away from zero: `(sum ± count / 2) / count` with the sign of `sum`
/// (integer division truncates). A zero count gives 0.
#[inline]
fn div_round_half_away(sum: i32, count: i32) -> i32 {
    if count <= 0 {
        0
    } else if sum >= 0 {
        (sum + count / 2) / count
    } else {
        (sum - count / 2) / count
    }
}

/// Float average pooling.
///
/// `x`: `[n, h, w, c]`, `out`: `[n, oh, ow, c]`. `out = clamp(sum / count, act.0, act.1)`, the sum
/// over the window's in-image taps in row-major order (f32 adds), `count` = `kh * kw` when
/// `count_include_pad`, else the number of in-image taps; one IEEE division. A window with no
/// taps gives 0 (see the module docs). The clamp is the output stage's (NaN passes through).
pub fn avg_pool2d_f32(p: &Pool2dParams, x: &[f32], out: &mut [f32], act: (f32, f32)) {
    let full = p.kernel[0] * p.kernel[1];
    let c = p.input[3];
    for (pixel, win) in windows(p).enumerate() {
        let count = if p.count_include_pad {
            full
        } else {
            win.taps()
        };
        for (ch, dst) in out[pixel * c..(pixel + 1) * c].iter_mut().enumerate() {
            let sum = win.values(p, x, ch).fold(0.0f32, |s, v| s + v);
            let avg = if count == 0 { 0.0 } else { sum / count as f32 };
            *dst = clamp_f32(avg, act.0, act.1);
        }
    }
}

/// int8 average pooling; input and output share scale and zero point.
///
/// Layouts as [`avg_pool2d_f32`]. `out = clamp(round(sum / count), act.0, act.1)` with an i32 sum
/// of the in-image taps and the rounding half away from zero, done in integers:
/// `(sum ± count / 2) / count` with the sign of `sum`. A window with no taps gives 0.
///
/// With `count_include_pad` the padded taps add the quantized value 0, which is the real value
/// 0 only when the zero point is 0; with another zero point the result is the average over a
/// padding of `-zero_point * scale`.
pub fn avg_pool2d_i8(p: &Pool2dParams, x: &[i8], out: &mut [i8], act: (i8, i8)) {
    let full = p.kernel[0] * p.kernel[1];
    let c = p.input[3];
    for (pixel, win) in windows(p).enumerate() {
        let count = if p.count_include_pad {
            full
        } else {
            win.taps()
        };
        for (ch, dst) in out[pixel * c..(pixel + 1) * c].iter_mut().enumerate() {
            let sum = win.values(p, x, ch).fold(0i32, |s, v| s + v as i32);
            let avg = div_round_half_away(sum, count as i32);
            *dst = clamp_i8(avg, act);
        }
    }
}

/// Float max pooling.
///
/// Layouts as [`avg_pool2d_f32`]. `out = clamp(max over the in-image taps, act.0, act.1)`;
/// padded taps are ignored, so a window with no taps gives `act.0`. The max is `f32::max`
/// folded from `-inf`, so NaN taps are skipped (a window of NaN taps only gives `-inf`).
pub fn max_pool2d_f32(p: &Pool2dParams, x: &[f32], out: &mut [f32], act: (f32, f32)) {
    let c = p.input[3];
    for (pixel, win) in windows(p).enumerate() {
        for (ch, dst) in out[pixel * c..(pixel + 1) * c].iter_mut().enumerate() {
            let m = win.values(p, x, ch).fold(f32::NEG_INFINITY, f32::max);
            *dst = clamp_f32(m, act.0, act.1);
        }
    }
}

/// int8 max pooling; input and output share scale and zero point.
///
/// Layouts as [`avg_pool2d_f32`]. `out = clamp(max over the in-image taps, act.0, act.1)`, exact;
/// padded taps are ignored, so a window with no taps gives `act.0`.
pub fn max_pool2d_i8(p: &Pool2dParams, x: &[i8], out: &mut [i8], act: (i8, i8)) {
    let c = p.input[3];
    for (pixel, win) in windows(p).enumerate() {
        for (ch, dst) in out[pixel * c..(pixel + 1) * c].iter_mut().enumerate() {
            let m = win.values(p, x, ch).fold(i8::MIN, i8::max);
            *dst = clamp_i8(m as i32, act);
        }
    }
}

/// Float global average pooling: `x` `[n, hw, c]` → `out` `[n, c]`,
/// `out[b][ch] = clamp(sum_i x[b][i][ch] / hw, act.0, act.1)`; the sum runs in increasing `i`
/// (f32 adds), then one IEEE division and the output stage's clamp. `hw == 0` gives 0 before
/// the clamp. It is [`avg_pool2d_f32`] with one window of `hw` rows over `[n, hw, 1, c]`: one
/// copy of the code in flash.
pub fn global_avg_pool_f32(
    n: usize,
    hw: usize,
    c: usize,
    x: &[f32],
    out: &mut [f32],
    act: (f32, f32),
) {
    avg_pool2d_f32(&global(n, hw, c), x, out, act)
}

/// int8 global average pooling; input and output share scale and zero point.
///
/// Layouts as [`global_avg_pool_f32`]. `out = clamp(round(sum / hw), act.0, act.1)` with an i32
/// sum and the rounding of [`avg_pool2d_i8`] (half away from zero, in integers). `hw == 0`
/// gives 0 before the clamp. It is [`avg_pool2d_i8`] with one window, as the float one.
pub fn global_avg_pool_i8(n: usize, hw: usize, c: usize, x: &[i8], out: &mut [i8], act: (i8, i8)) {
    avg_pool2d_i8(&global(n, hw, c), x, out, act)
}

/// `[n, hw, c]` as an image of `hw` rows of one pixel, pooled by one window of all its rows.
fn global(n: usize, hw: usize, c: usize) -> Pool2dParams {
    Pool2dParams {
        input: [n, hw, 1, c],
        output: [n, 1, 1, c],
        kernel: [hw, 1],
        stride: [1, 1],
        pad: [0, 0],
        count_include_pad: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(
        input: [usize; 4],
        output: [usize; 4],
        kernel: [usize; 2],
        stride: [usize; 2],
        pad: [usize; 2],
    ) -> Pool2dParams {
        Pool2dParams {
            input,
            output,
            kernel,
            stride,
            pad,
            count_include_pad: false,
        }
    }

    const NO_CLAMP: (f32, f32) = (f32::NEG_INFINITY, f32::INFINITY);

    #[test]
    fn pool2d_f32_known_values() {
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let mut out = [0.0; 4];
        let p = params([1, 3, 3, 1], [1, 2, 2, 1], [2, 2], [1, 1], [0, 0]);
        avg_pool2d_f32(&p, &x, &mut out, NO_CLAMP);
        assert_eq!(out, [3.0, 4.0, 6.0, 7.0]);
        // 2x2 windows, stride 2, padding 1 top/left: in-image blocks {1}, {2,3}, {4,7}, {5,6,8,9}.
        let p = params([1, 3, 3, 1], [1, 2, 2, 1], [2, 2], [2, 2], [1, 1]);
        avg_pool2d_f32(&p, &x, &mut out, NO_CLAMP);
        assert_eq!(out, [1.0, 2.5, 5.5, 7.0]);
        avg_pool2d_f32(
            &Pool2dParams {
                count_include_pad: true,
                ..p
            },
            &x,
            &mut out,
            NO_CLAMP,
        );
        assert_eq!(out, [0.25, 1.25, 2.75, 7.0]);
        max_pool2d_f32(&p, &x, &mut out, NO_CLAMP);
        assert_eq!(out, [1.0, 3.0, 7.0, 9.0]);
        max_pool2d_f32(&p, &x, &mut out, (2.0, 8.0));
        assert_eq!(out, [2.0, 3.0, 7.0, 8.0]);
        // Two channels pool independently.
        let p = params([1, 1, 2, 2], [1, 1, 1, 2], [1, 2], [1, 1], [0, 0]);
        let mut two = [0.0; 2];
        avg_pool2d_f32(&p, &[1.0, -1.0, 2.0, -4.0], &mut two, NO_CLAMP);
        assert_eq!(two, [1.5, -2.5]);
    }

    #[test]
    fn pool2d_i8_known_values() {
        // Rounding half away from zero: 2.5 -> 3, -2.5 -> -3, -1.5 -> -2, 2/3 -> 1, -2/3 -> -1.
        let p = params([1, 1, 2, 1], [1, 1, 1, 1], [1, 2], [1, 1], [0, 0]);
        let mut one = [0i8];
        for (x, want) in [
            ([2, 3], 3),
            ([-2, -3], -3),
            ([1, -4], -2),
            ([4, 4], 4),
            ([127, 127], 127),
            ([-128, -127], -128),
        ] {
            avg_pool2d_i8(&p, &x, &mut one, (-128, 127));
            assert_eq!(one, [want], "{x:?}");
        }
        let p = params([1, 1, 3, 1], [1, 1, 1, 1], [1, 3], [1, 1], [0, 0]);
        for (x, want) in [
            ([1, 1, 0], 1),
            ([-1, -1, 0], -1),
            ([1, 0, 0], 0),
            ([-1, 0, 0], 0),
        ] {
            avg_pool2d_i8(&p, &x, &mut one, (-128, 127));
            assert_eq!(one, [want], "{x:?}");
        }
        max_pool2d_i8(&p, &[-5, 9, 3], &mut one, (-128, 127));
        assert_eq!(one, [9]);
        max_pool2d_i8(&p, &[-5, 9, 3], &mut one, (-128, 4));
        assert_eq!(one, [4]);
    }

    #[test]
    fn window_wholly_in_padding() {
        // 1x1 image, 1x1 kernel, padding 1 top/left: output (0, 0) sees only padding.
        let p = params([1, 1, 1, 1], [1, 2, 2, 1], [1, 1], [1, 1], [1, 1]);
        let mut f = [f32::NAN; 4];
        avg_pool2d_f32(&p, &[5.0], &mut f, NO_CLAMP);
        assert_eq!(f, [0.0, 0.0, 0.0, 5.0]);
        avg_pool2d_f32(
            &Pool2dParams {
                count_include_pad: true,
                ..p
            },
            &[5.0],
            &mut f,
            NO_CLAMP,
        );
        assert_eq!(f, [0.0, 0.0, 0.0, 5.0]);
        max_pool2d_f32(&p, &[5.0], &mut f, (-1.0, 10.0));
        assert_eq!(f, [-1.0, -1.0, -1.0, 5.0]);
        let mut q = [0i8; 4];
        avg_pool2d_i8(&p, &[5], &mut q, (-128, 127));
        assert_eq!(q, [0, 0, 0, 5]);
        max_pool2d_i8(&p, &[5], &mut q, (-3, 127));
        assert_eq!(q, [-3, -3, -3, 5]);
    }

    #[test]
    fn global_avg_pool_known_values() {
        // [n=1, hw=2, c=2]: channel means 1.5 and -1.5.
        let mut f = [0.0; 2];
        global_avg_pool_f32(1, 2, 2, &[1.0, -1.0, 2.0, -2.0], &mut f, NO_CLAMP);
        assert_eq!(f, [1.5, -1.5]);
        let mut q = [0i8; 2];
        global_avg_pool_i8(1, 2, 2, &[1, -1, 2, -2], &mut q, (-128, 127));
        assert_eq!(q, [2, -2]);
        global_avg_pool_i8(1, 2, 2, &[1, -1, 2, -2], &mut q, (0, 1));
        assert_eq!(q, [1, 0]);
    }
}
