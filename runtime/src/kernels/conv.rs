//! 2-D convolution in NHWC: regular, depthwise and grouped, with stride, dilation and padding.

use crate::quant::Requant;

/// Geometry of a 2-D convolution, NHWC activations, OHWI weights `[out_c, kh, kw, in_c / groups]`.
///
/// Output channel `o` belongs to group `g = o / (oc / groups)` and reads input channels
/// `g * (c / groups) .. (g + 1) * (c / groups)`. Output pixel `(oy, ox)`, tap `(ky, kx)` reads
/// input pixel `(oy * sh + ky * dh - top, ox * sw + kx * dw - left)`; taps outside the image
/// (padding) contribute nothing, i.e. they read a real zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    /// `[n, h, w, c]`.
    pub input: [usize; 4],
    /// `[n, oh, ow, oc]`.
    pub output: [usize; 4],
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    /// `[sh, sw]`, each `>= 1`.
    pub stride: [usize; 2],
    /// `[dh, dw]`, each `>= 1`.
    pub dilation: [usize; 2],
    /// `[top, left]`; bottom/right padding is implied by the output size.
    pub pad: [usize; 2],
    /// 1 = regular, `c` = depthwise (`oc` may be a multiple of `c`), otherwise grouped.
    /// `c` and `oc` are multiples of `groups`.
    pub groups: usize,
}

impl Conv2dParams {
    /// Multiply-accumulates of the full convolution, padded taps included:
    /// `n * oh * ow * oc * kh * kw * (c / groups)` (saturating).
    pub fn macs(&self) -> u64 {
        let [n, oh, ow, oc] = self.output;
        let [kh, kw] = self.kernel;
        let icpg = self.input[3] / self.groups.max(1);
        [n, oh, ow, oc, kh, kw, icpg]
            .iter()
            .fold(1u64, |acc, &d| acc.saturating_mul(d as u64))
    }
}

/// Input coordinate of output position `o`, tap `k` on one axis, or `None` when it falls in the
/// padding.
#[inline]
fn tap(
    o: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    pad: usize,
    size: usize,
) -> Option<usize> {
    (o * stride + k * dilation)
        .checked_sub(pad)
        .filter(|&i| i < size)
}

/// Output coordinates `(b, oy, ox, o)` in memory order.
fn output_coords(p: &Conv2dParams) -> impl Iterator<Item = [usize; 4]> {
    let [n, oh, ow, oc] = p.output;
    (0..n).flat_map(move |b| {
        (0..oh).flat_map(move |oy| (0..ow).flat_map(move |ox| (0..oc).map(move |o| [b, oy, ox, o])))
    })
}

/// Folds `step(acc, x_channels, w_channels)` over the in-image taps of output element
/// `[b, oy, ox, o]` in `(ky, kx)` order; both slices hold the `c / groups` values the tap
/// multiplies.
#[inline]
fn fold_taps<T, A>(
    p: &Conv2dParams,
    [b, oy, ox, o]: [usize; 4],
    x: &[T],
    w: &[T],
    init: A,
    mut step: impl FnMut(A, &[T], &[T]) -> A,
) -> A {
    let [_, h, wd, c] = p.input;
    let oc = p.output[3];
    let [kh, kw] = p.kernel;
    let groups = p.groups.max(1);
    let icpg = c / groups;
    let cin = (o / (oc / groups).max(1)) * icpg;
    let mut acc = init;
    for ky in 0..kh {
        let Some(iy) = tap(oy, ky, p.stride[0], p.dilation[0], p.pad[0], h) else {
            continue;
        };
        for kx in 0..kw {
            let Some(ix) = tap(ox, kx, p.stride[1], p.dilation[1], p.pad[1], wd) else {
                continue;
            };
            let xs = &x[((b * h + iy) * wd + ix) * c + cin..][..icpg];
            let ws = &w[((o * kh + ky) * kw + kx) * icpg..][..icpg];
            acc = step(acc, xs, ws);
        }
    }
    acc
}

/// Float 2-D convolution (regular, depthwise or grouped).
///
/// `x`: `[n, h, w, c]`; `w`: `[oc, kh, kw, c / groups]`; `bias`: `[oc]` or `None` (zero);
/// `out`: `[n, oh, ow, oc]`. `out = clamp(bias[o] + sum x * w, act.0, act.1)` with the clamp
/// `v.max(lo).min(hi)`. Per output element the sum starts from the bias and adds the in-image
/// taps in `(ky, kx, input channel)` order, one IEEE multiply and one add each.
pub fn conv2d_f32(
    p: &Conv2dParams,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
    act: (f32, f32),
) {
    for (at, dst) in output_coords(p).zip(out.iter_mut()) {
        let init = bias.map_or(0.0, |b| b[at[3]]);
        let acc = fold_taps(p, at, x, w, init, |mut acc, xs, ws| {
            for (&xv, &wv) in xs.iter().zip(ws) {
                acc += xv * wv;
            }
            acc
        });
        *dst = acc.max(act.0).min(act.1);
    }
}

/// int8 2-D convolution (regular, depthwise or grouped), TFLite quantization.
///
/// Layouts as [`conv2d_f32`]. Weights are symmetric (zero point 0); `bias` is `[oc]` int32 in
/// units of `x_scale * w_scale[o]` (or `None`, zero); `requant` has length 1 (per-tensor) or `oc`
/// (per-channel) and encodes `x_scale * w_scale[o] / out_scale`.
///
/// `acc = bias[o] + sum (x - x_zero_point) * w` over the in-image taps, in i32 with
/// two's-complement wrap (reaching it takes more than 65 000 taps per output);
/// `out = clamp(requant[o].apply(acc) + out_zero_point, act.0, act.1)`, where `apply` is TFLite
/// `MultiplyByQuantizedMultiplier` (rounding as in [`crate::quant`]: the doubling high-mul rounds
/// ties up, the power-of-two shift rounds ties away from zero), the zero-point add saturates and
/// the clamp is `v.max(lo).min(hi)`. Padded taps contribute nothing, i.e. they read
/// `x_zero_point`.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_i8(
    p: &Conv2dParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    requant: &[Requant],
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
) {
    for (at, dst) in output_coords(p).zip(out.iter_mut()) {
        let o = at[3];
        let init = bias.map_or(0, |b| b[o]);
        let acc = fold_taps(p, at, x, w, init, |mut acc: i32, xs, ws| {
            for (&xv, &wv) in xs.iter().zip(ws) {
                let xc = (xv as i32).wrapping_sub(x_zero_point);
                acc = acc.wrapping_add(xc.wrapping_mul(wv as i32));
            }
            acc
        });
        let rq = if requant.len() == 1 {
            requant[0]
        } else {
            requant[o]
        };
        *dst = requantize(acc, rq, out_zero_point, act);
    }
}

/// `clamp(rq.apply(acc) + zero_point, act.0, act.1)` as int8 (the add saturates).
#[inline]
fn requantize(acc: i32, rq: Requant, zero_point: i32, act: (i8, i8)) -> i8 {
    // max-then-min keeps the result inside [min(lo, hi), hi], a subset of the i8 range.
    rq.apply(acc)
        .saturating_add(zero_point)
        .max(act.0 as i32)
        .min(act.1 as i32) as i8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::quantize_multiplier;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    type ConvF32 = fn(&Conv2dParams, &[f32], &[f32], Option<&[f32]>, &mut [f32], (f32, f32));
    type ConvI8 =
        fn(&Conv2dParams, &[i8], i32, &[i8], Option<&[i32]>, &[Requant], i32, &mut [i8], (i8, i8));

    use crate::kernels::test_rng::Rng;

    fn numel(d: [usize; 4]) -> usize {
        d.iter().product()
    }

    fn weight_len(p: &Conv2dParams) -> usize {
        p.output[3] * p.kernel[0] * p.kernel[1] * (p.input[3] / p.groups)
    }

    /// `(x index, w index)` of every product that output element `i` sums, from the definition:
    /// signed input coordinates, padded taps dropped.
    fn reference_pairs(p: &Conv2dParams, i: usize) -> Vec<(usize, usize)> {
        let [_, h, w, c] = p.input;
        let [_, oh, ow, oc] = p.output;
        let [kh, kw] = p.kernel;
        let (o, ox, oy, b) = (
            i % oc,
            (i / oc) % ow,
            (i / (oc * ow)) % oh,
            i / (oc * ow * oh),
        );
        let cpg = c / p.groups;
        let g = o / (oc / p.groups);
        let mut pairs = Vec::new();
        for ky in 0..kh {
            for kx in 0..kw {
                let iy = (oy * p.stride[0] + ky * p.dilation[0]) as i64 - p.pad[0] as i64;
                let ix = (ox * p.stride[1] + kx * p.dilation[1]) as i64 - p.pad[1] as i64;
                if iy < 0 || ix < 0 || iy >= h as i64 || ix >= w as i64 {
                    continue;
                }
                let (iy, ix) = (iy as usize, ix as usize);
                for ci in 0..cpg {
                    let xi = b * h * w * c + iy * w * c + ix * c + g * cpg + ci;
                    let wi = o * kh * kw * cpg + ky * kw * cpg + kx * cpg + ci;
                    pairs.push((xi, wi));
                }
            }
        }
        pairs
    }

    /// Requants for `x_scale * w_scale / out_scale` drawn log-uniformly in `1e-4..1e-1`.
    fn random_requants(rng: &mut Rng, channels: usize) -> Vec<Requant> {
        let n = if rng.int(0, 1) == 0 { 1 } else { channels };
        (0..n)
            .map(|_| quantize_multiplier(libm::pow(10.0, -4.0 + 3.0 * rng.unit())))
            .collect()
    }

    /// Every output within `1e-5 * (1 + |bias| + sum |x * w|)` of the f64 reference.
    fn check_conv_f32(kernel: ConvF32, p: &Conv2dParams, seed: u64) -> Result<(), TestCaseError> {
        let mut rng = Rng(seed);
        let x: Vec<f32> = (0..numel(p.input)).map(|_| rng.f32_in(-2.0, 2.0)).collect();
        let w: Vec<f32> = (0..weight_len(p)).map(|_| rng.f32_in(-2.0, 2.0)).collect();
        let bias: Option<Vec<f32>> =
            (rng.int(0, 1) == 1).then(|| (0..p.output[3]).map(|_| rng.f32_in(-3.0, 3.0)).collect());
        let act = rng.act_f32();
        let mut out = vec![f32::NAN; numel(p.output)];
        kernel(p, &x, &w, bias.as_deref(), &mut out, act);
        for (i, &got) in out.iter().enumerate() {
            let b = bias.as_ref().map_or(0.0, |b| b[i % p.output[3]] as f64);
            let (mut want, mut mag) = (b, b.abs());
            for (xi, wi) in reference_pairs(p, i) {
                let t = x[xi] as f64 * w[wi] as f64;
                want += t;
                mag += t.abs();
            }
            let want = want.max(act.0 as f64).min(act.1 as f64);
            prop_assert!(
                (got as f64 - want).abs() <= 1e-5 * (1.0 + mag),
                "{p:?} act {act:?}: out[{i}] = {got}, want {want}"
            );
        }
        Ok(())
    }

    /// Whole output equal to the i64 reference followed by `Requant::apply`.
    fn check_conv_i8(kernel: ConvI8, p: &Conv2dParams, seed: u64) -> Result<(), TestCaseError> {
        let mut rng = Rng(seed);
        let x: Vec<i8> = (0..numel(p.input))
            .map(|_| rng.int(-128, 127) as i8)
            .collect();
        let w: Vec<i8> = (0..weight_len(p))
            .map(|_| rng.int(-127, 127) as i8)
            .collect();
        let bias: Option<Vec<i32>> = (rng.int(0, 1) == 1).then(|| {
            (0..p.output[3])
                .map(|_| rng.int(-40_000, 40_000) as i32)
                .collect()
        });
        let x_zp = rng.int(-128, 127) as i32;
        let out_zp = rng.int(-128, 127) as i32;
        let requant = random_requants(&mut rng, p.output[3]);
        let act = rng.act_i8(out_zp);
        let mut out = vec![0i8; numel(p.output)];
        kernel(
            p,
            &x,
            x_zp,
            &w,
            bias.as_deref(),
            &requant,
            out_zp,
            &mut out,
            act,
        );
        let want: Vec<i8> = (0..out.len())
            .map(|i| {
                let o = i % p.output[3];
                let mut acc = bias.as_ref().map_or(0i64, |b| b[o] as i64);
                for (xi, wi) in reference_pairs(p, i) {
                    acc += (x[xi] as i64 - x_zp as i64) * w[wi] as i64;
                }
                let rq = requant[if requant.len() == 1 { 0 } else { o }];
                let v = rq.apply(i32::try_from(acc).unwrap()) as i64 + out_zp as i64;
                v.clamp(act.0 as i64, act.1 as i64) as i8
            })
            .collect();
        prop_assert_eq!(
            out,
            want,
            "{:?} x_zp {} out_zp {} act {:?}",
            p,
            x_zp,
            out_zp,
            act
        );
        Ok(())
    }

    fn out_size(
        size: usize,
        k: usize,
        stride: usize,
        dilation: usize,
        pad0: usize,
        pad1: usize,
    ) -> usize {
        let eff = (k - 1) * dilation + 1;
        ((size + pad0 + pad1).max(eff) - eff) / stride + 1
    }

    /// Shapes: batch 1..2, 1..7 pixels a side, kernel 1..3, stride 1..3, dilation 1..2, padding
    /// 0..2 on every side (windows lying wholly in the padding included); groups: regular,
    /// depthwise with multiplier 1 and 2, and two groups.
    fn conv_case() -> impl Strategy<Value = (Conv2dParams, u64)> {
        use proptest::array::{uniform2, uniform4};
        let geometry = (
            1usize..=2,
            uniform2(1usize..=7),
            uniform2(1usize..=3),
            uniform2(1usize..=3),
            uniform2(1usize..=2),
            uniform4(0usize..=2),
        );
        (geometry, 0u8..4, 1usize..=4, 1usize..=4, any::<u64>()).prop_map(
            |((n, [h, w], kernel, stride, dilation, pad), mode, cb, ob, seed)| {
                let (c, oc, groups) = match mode {
                    0 => (cb, ob, 1),
                    1 => (cb, cb, cb),
                    2 => (cb, 2 * cb, cb),
                    _ => (2 * cb, 2 * ob, 2),
                };
                let oh = out_size(h, kernel[0], stride[0], dilation[0], pad[0], pad[2]);
                let ow = out_size(w, kernel[1], stride[1], dilation[1], pad[1], pad[3]);
                let p = Conv2dParams {
                    input: [n, h, w, c],
                    output: [n, oh, ow, oc],
                    kernel,
                    stride,
                    dilation,
                    pad: [pad[0], pad[1]],
                    groups,
                };
                (p, seed)
            },
        )
    }

    proptest! {
        #[test]
        fn conv2d_f32_matches_reference((p, seed) in conv_case()) {
            check_conv_f32(conv2d_f32, &p, seed)?;
        }

        #[test]
        fn conv2d_i8_matches_reference((p, seed) in conv_case()) {
            check_conv_i8(conv2d_i8, &p, seed)?;
        }

        #[test]
        fn arm_conv2d_i8_matches_reference((p, seed) in conv_case()) {
            check_conv_i8(crate::kernels::arm::conv2d_i8, &p, seed)?;
        }
    }

    fn params(input: [usize; 4], output: [usize; 4], kernel: [usize; 2]) -> Conv2dParams {
        Conv2dParams {
            input,
            output,
            kernel,
            stride: [1, 1],
            dilation: [1, 1],
            pad: [0, 0],
            groups: 1,
        }
    }

    #[test]
    fn conv2d_f32_known_values() {
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        // 3x3 image, 2x2 kernel [[1, 2], [3, 4]], bias 1, clamp to [0, 70].
        let p = params([1, 3, 3, 1], [1, 2, 2, 1], [2, 2]);
        let mut out = [0.0; 4];
        conv2d_f32(
            &p,
            &x,
            &[1.0, 2.0, 3.0, 4.0],
            Some(&[1.0]),
            &mut out,
            (0.0, 70.0),
        );
        assert_eq!(out, [38.0, 48.0, 68.0, 70.0]);

        // 3x3 ones kernel, stride 2, padding 1 on every side: sums of the 2x2 corner blocks.
        let p = Conv2dParams {
            stride: [2, 2],
            pad: [1, 1],
            ..params([1, 3, 3, 1], [1, 2, 2, 1], [3, 3])
        };
        conv2d_f32(
            &p,
            &x,
            &[1.0; 9],
            None,
            &mut out,
            (f32::NEG_INFINITY, f32::INFINITY),
        );
        assert_eq!(out, [12.0, 16.0, 24.0, 28.0]);

        // 1x3 kernel, dilation 2 over a 1x5 row: taps 1, 3, 5.
        let p = Conv2dParams {
            dilation: [1, 2],
            ..params([1, 1, 5, 1], [1, 1, 1, 1], [1, 3])
        };
        let mut one = [0.0];
        conv2d_f32(
            &p,
            &[1.0, 2.0, 3.0, 4.0, 5.0],
            &[1.0, 10.0, 100.0],
            None,
            &mut one,
            (-1e9, 1e9),
        );
        assert_eq!(one, [531.0]);

        // Depthwise, channel multiplier 2: outputs 0, 1 read channel 0; outputs 2, 3 channel 1.
        let p = Conv2dParams {
            groups: 2,
            ..params([1, 1, 1, 2], [1, 1, 1, 4], [1, 1])
        };
        let mut out4 = [0.0; 4];
        conv2d_f32(
            &p,
            &[2.0, 3.0],
            &[1.0, 2.0, 3.0, 4.0],
            Some(&[0.5; 4]),
            &mut out4,
            (-1e9, 1e9),
        );
        assert_eq!(out4, [2.5, 4.5, 9.5, 12.5]);

        // Two groups of two channels, one output each.
        let p = Conv2dParams {
            groups: 2,
            ..params([1, 1, 1, 4], [1, 1, 1, 2], [1, 1])
        };
        let mut out2 = [0.0; 2];
        conv2d_f32(
            &p,
            &[1.0, 2.0, 3.0, 4.0],
            &[1.0, 10.0, 100.0, 1000.0],
            None,
            &mut out2,
            (-1e9, 1e9),
        );
        assert_eq!(out2, [21.0, 4300.0]);
    }

    #[test]
    fn conv2d_i8_known_values() {
        // acc0 = 5 + (10 + 2) * 3 + (-20 + 2) * -1 = 59; 59 * 0.5 = 29.5 -> 30 (half away); + 1.
        // acc1 = -5 + 12 * -2 + -18 * 4 = -101; -101 * 0.25 = -25.25 -> -25; + 1 = -24 -> clamp -20.
        let p = params([1, 1, 2, 1], [1, 1, 1, 2], [1, 2]);
        let rq = [quantize_multiplier(0.5), quantize_multiplier(0.25)];
        let mut out = [0i8; 2];
        conv2d_i8(
            &p,
            &[10, -20],
            -2,
            &[3, -1, -2, 4],
            Some(&[5, -5]),
            &rq,
            1,
            &mut out,
            (-20, 127),
        );
        assert_eq!(out, [31, -20]);
        // Per-tensor requant; -101 * 0.5 = -50.5 -> -50: gemmlowp's doubling high-mul rounds a
        // negative tie towards +inf (its nudge is 1 - 2^30), unlike the later power-of-two shift.
        conv2d_i8(
            &p,
            &[10, -20],
            -2,
            &[3, -1, -2, 4],
            Some(&[5, -5]),
            &rq[..1],
            0,
            &mut out,
            (-128, 127),
        );
        assert_eq!(out, [30, -50]);
        // Padding reads the zero point: a 1x1 image, 3x3 kernel, padding 1, x == x_zero_point
        // everywhere except the centre.
        let p = Conv2dParams {
            pad: [1, 1],
            ..params([1, 1, 1, 1], [1, 1, 1, 1], [3, 3])
        };
        let mut one = [0i8];
        conv2d_i8(
            &p,
            &[7],
            3,
            &[1; 9],
            None,
            &[Requant::ONE],
            -10,
            &mut one,
            (-128, 127),
        );
        assert_eq!(one, [-6]);
    }

    #[test]
    fn macs_counts_every_tap() {
        let p = Conv2dParams {
            groups: 2,
            ..params([2, 5, 5, 4], [2, 3, 3, 6], [3, 2])
        };
        assert_eq!(p.macs(), 2 * 3 * 3 * 6 * 3 * 2 * 2);
    }

    #[test]
    fn checks_reject_a_wrong_kernel() {
        fn off_by_one_f32(
            p: &Conv2dParams,
            x: &[f32],
            w: &[f32],
            b: Option<&[f32]>,
            o: &mut [f32],
            a: (f32, f32),
        ) {
            conv2d_f32(p, x, w, b, o, a);
            o[0] += 0.01;
        }
        #[allow(clippy::too_many_arguments)]
        fn off_by_one_i8(
            p: &Conv2dParams,
            x: &[i8],
            xz: i32,
            w: &[i8],
            b: Option<&[i32]>,
            r: &[Requant],
            oz: i32,
            o: &mut [i8],
            a: (i8, i8),
        ) {
            conv2d_i8(p, x, xz, w, b, r, oz, o, a);
            o[0] ^= 1;
        }
        let p = Conv2dParams {
            pad: [1, 1],
            ..params([1, 4, 4, 2], [1, 4, 4, 3], [3, 3])
        };
        assert!(check_conv_f32(conv2d_f32, &p, 7).is_ok());
        assert!(check_conv_f32(off_by_one_f32, &p, 7).is_err());
        assert!(check_conv_i8(conv2d_i8, &p, 7).is_ok());
        assert!(check_conv_i8(off_by_one_i8, &p, 7).is_err());
    }
}
