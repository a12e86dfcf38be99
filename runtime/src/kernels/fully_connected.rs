//! Fully connected layer (MatMul with a `[out, in]` weight matrix and an optional bias).

use super::output::{clamp_f32, requantize_i8};
use crate::quant::Requant;

/// Shape of a fully connected layer: `x` is `[rows, inputs]`, `w` is `[outputs, inputs]`,
/// `bias` is `[outputs]`, `out` is `[rows, outputs]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FcParams {
    pub rows: usize,
    pub inputs: usize,
    pub outputs: usize,
}

impl FcParams {
    /// Multiply-accumulates: `rows * inputs * outputs` (saturating).
    pub fn macs(&self) -> u64 {
        (self.rows as u64)
            .saturating_mul(self.inputs as u64)
            .saturating_mul(self.outputs as u64)
    }

    /// Whether operands of these lengths are the layer's: `x` `rows × inputs`, `w`
    /// `outputs × inputs` values, `out` `rows × outputs`, `bias` (if any) `outputs`.
    pub fn fits(&self, x: usize, w: usize, out: usize, bias: Option<&[i32]>) -> bool {
        x == self.rows * self.inputs
            && w == self.outputs * self.inputs
            && out == self.rows * self.outputs
            && bias.is_none_or(|b| b.len() == self.outputs)
    }
}

/// Float fully connected layer:
/// `out[r][o] = clamp_f32(bias[o] + sum_i x[r][i] * w[o][i], act.0, act.1)`.
///
/// Layouts as [`FcParams`]; `bias` `None` means zero. The sum starts from the bias and adds the
/// products in increasing `i`, one IEEE multiply and one add each; the clamp is the output
/// stage's (NaN passes through).
pub fn fully_connected_f32(
    p: &FcParams,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
    act: (f32, f32),
) {
    let (k, m) = (p.inputs, p.outputs);
    for r in 0..p.rows {
        let xr = &x[r * k..(r + 1) * k];
        for (o, dst) in out[r * m..(r + 1) * m].iter_mut().enumerate() {
            let mut acc = bias.map_or(0.0, |b| b[o]);
            for (&xv, &wv) in xr.iter().zip(&w[o * k..(o + 1) * k]) {
                acc += xv * wv;
            }
            *dst = clamp_f32(acc, act.0, act.1);
        }
    }
}

/// int8 fully connected layer, TFLite quantization.
///
/// Layouts as [`FcParams`]. Weights are symmetric (zero point 0); `bias` is `[outputs]` int32 in
/// units of `x_scale * w_scale[o]` (or `None`, zero); `requant` has length 1 (per-tensor) or
/// `outputs` (per-channel) and encodes `x_scale * w_scale[o] / out_scale`.
///
/// `acc = bias[o] + sum_i (x[r][i] - x_zero_point) * w[o][i]` in i32 with two's-complement wrap
/// (reaching it takes more than 65 000 inputs); `out = requantize_i8(acc, requant[o],
/// out_zero_point, act)`, the output stage: TFLite `MultiplyByQuantizedMultiplier` (rounding as
/// in [`crate::quant`]: the doubling high-mul rounds ties up, the power-of-two shift rounds ties
/// away from zero), a saturating zero-point add and the clamp `max(lo).min(hi)`.
#[allow(clippy::too_many_arguments)]
pub fn fully_connected_i8(
    p: &FcParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    requant: &[Requant],
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
) {
    let (k, m) = (p.inputs, p.outputs);
    for r in 0..p.rows {
        let xr = &x[r * k..(r + 1) * k];
        for (o, dst) in out[r * m..(r + 1) * m].iter_mut().enumerate() {
            let mut acc = bias.map_or(0, |b| b[o]);
            for (&xv, &wv) in xr.iter().zip(&w[o * k..(o + 1) * k]) {
                let xc = (xv as i32).wrapping_sub(x_zero_point);
                acc = acc.wrapping_add(xc.wrapping_mul(wv as i32));
            }
            let rq = if requant.len() == 1 {
                requant[0]
            } else {
                requant[o]
            };
            *dst = requantize_i8(acc, rq, out_zero_point, act);
        }
    }
}

/// The bias of the `fc-bias-folded` layout ([`crate::format::Layout::FcBiasFolded`]):
/// `bias[o] - x_zero_point * sum(w[o * k .. o * k + k])`, wrapping (every kernel's accumulator
/// is the same modulo 2^32), so that the layer run with an input zero point of 0 gives the same
/// bytes. `bias` is `None` for a layer without one (all 0).
pub fn fold_bias(w: &[i8], k: usize, bias: Option<&[i32]>, x_zero_point: i32, out: &mut [i32]) {
    for (o, (row, dst)) in w.chunks_exact(k.max(1)).zip(out.iter_mut()).enumerate() {
        let sum = row.iter().fold(0i32, |acc, &v| acc.wrapping_add(v as i32));
        *dst = bias.map_or(0, |b| b[o]).wrapping_sub(x_zero_point.wrapping_mul(sum));
    }
}

/// Where weight `(o, i)` of a `[n, k]` matrix (`k % 4 == 0`) sits in the `fc-q15` layout
/// ([`crate::format::Layout::FcQ15`]): row-major, each group of four as `0, 2, 1, 3`, the order
/// in which the Arm DSP kernels' `SXTB16` splits four int8 values into two int16 pairs.
#[inline(always)]
pub const fn q15_index(o: usize, i: usize, k: usize) -> usize {
    const ORDER: [usize; 4] = [0, 2, 1, 3];
    o * k + (i & !3) + ORDER[i & 3]
}

/// Writes int8 weights `w` (`[w.len() / k, k]`, row-major, `k % 4 == 0`) into `out` in the
/// `fc-q15` layout ([`q15_index`]), widened to int16.
pub fn pack_q15(w: &[i8], k: usize, out: &mut [i16]) {
    for (j, &v) in w.iter().enumerate() {
        out[q15_index(j / k, j % k, k)] = v as i16;
    }
}

/// [`fully_connected_i8`] with the weights in the `fc-q15` layout: `w` holds
/// `outputs * inputs` int16 values (int8 values widened), weight `(o, i)` at
/// [`q15_index`]`(o, i, inputs)`, `inputs % 4 == 0`. The same accumulator and output stage,
/// so the same bytes as `fully_connected_i8` on the weights in row-major int8.
#[allow(clippy::too_many_arguments)]
pub fn fully_connected_q15_i8(
    p: &FcParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i16],
    bias: Option<&[i32]>,
    requant: &[Requant],
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
) {
    let (k, m) = (p.inputs, p.outputs);
    for r in 0..p.rows {
        let xr = &x[r * k..(r + 1) * k];
        for (o, dst) in out[r * m..(r + 1) * m].iter_mut().enumerate() {
            let mut acc = bias.map_or(0, |b| b[o]);
            for (i, &xv) in xr.iter().enumerate() {
                let xc = (xv as i32).wrapping_sub(x_zero_point);
                acc = acc.wrapping_add(xc.wrapping_mul(w[q15_index(o, i, k)] as i32));
            }
            let rq = if requant.len() == 1 { requant[0] } else { requant[o] };
            *dst = requantize_i8(acc, rq, out_zero_point, act);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::quantize_multiplier;

    #[test]
    fn fully_connected_f32_known_values() {
        let p = FcParams {
            rows: 2,
            inputs: 2,
            outputs: 3,
        };
        let w = [1.0, 2.0, 3.0, 4.0, -1.0, 0.0];
        let mut out = [0.0; 6];
        fully_connected_f32(
            &p,
            &[1.0, 2.0, -1.0, 1.0],
            &w,
            Some(&[0.5, 0.0, 1.0]),
            &mut out,
            (-1.0, 10.0),
        );
        assert_eq!(out, [5.5, 10.0, 0.0, 1.5, 1.0, 2.0]);
    }

    #[test]
    fn fully_connected_i8_known_values() {
        // x - zp = [0, 1]; acc = [1 + 6, 2 - 8] = [7, -6]; identity requant; clamp low at -5.
        let p = FcParams {
            rows: 1,
            inputs: 2,
            outputs: 2,
        };
        let mut out = [0i8; 2];
        fully_connected_i8(
            &p,
            &[1, 2],
            1,
            &[5, 6, 7, -8],
            Some(&[1, 2]),
            &[Requant::ONE],
            0,
            &mut out,
            (-5, 127),
        );
        assert_eq!(out, [7, -5]);
        // Per-channel: 7 * 0.5 = 3.5 -> 4; -6 * 0.25 = -1.5 -> -2 (shift rounds half away); + 3.
        let rq = [quantize_multiplier(0.5), quantize_multiplier(0.25)];
        fully_connected_i8(
            &p,
            &[1, 2],
            1,
            &[5, 6, 7, -8],
            Some(&[1, 2]),
            &rq,
            3,
            &mut out,
            (-128, 127),
        );
        assert_eq!(out, [7, 1]);
    }

    #[test]
    fn q15_layout_orders_each_group_0_2_1_3() {
        let w: [i8; 8] = [10, 11, 12, 13, -14, -15, -16, -17];
        let mut packed = [0i16; 8];
        pack_q15(&w, 4, &mut packed);
        assert_eq!(packed, [10, 12, 11, 13, -14, -16, -15, -17]);
        let p = FcParams { rows: 1, inputs: 4, outputs: 2 };
        let (mut a, mut b) = ([0i8; 2], [0i8; 2]);
        let rq = [Requant::ONE];
        fully_connected_i8(&p, &[1, -2, 3, 4], 1, &w, Some(&[5, -6]), &rq, 2, &mut a, (-128, 127));
        fully_connected_q15_i8(&p, &[1, -2, 3, 4], 1, &packed, Some(&[5, -6]), &rq, 2, &mut b, (-128, 127));
        // acc0 = 5 + 0*10 - 3*11 + 2*12 + 3*13 = 35, acc1 = -6 + 3*15 - 2*16 - 3*17 = -44.
        assert_eq!(a, [37, -42]);
        assert_eq!(b, a);
    }

    /// A folded bias with an input zero point of 0 gives the reference's bytes with the bias and
    /// the zero point, through this build's kernel (Helium: the pass that skips the starts), for
    /// zero points at both ends, a layer without bias and sums that wrap.
    #[test]
    fn folded_bias_with_zero_point_0_matches_the_reference() {
        let p = FcParams { rows: 3, inputs: 37, outputs: 11 };
        let x: std::vec::Vec<i8> = (0..p.rows * p.inputs).map(|i| (i * 73 % 256) as u8 as i8).collect();
        let w: std::vec::Vec<i8> = (0..p.outputs * p.inputs).map(|i| (i * 151 % 256) as u8 as i8).collect();
        let bias: std::vec::Vec<i32> = (0..p.outputs as i32).map(|o| o * 9_001 - 40_000).collect();
        let rq = [quantize_multiplier(0.003)];
        for (x_zp, bias) in [(-128, Some(&bias[..])), (127, Some(&bias[..])), (5, None), (0, Some(&bias[..]))] {
            let mut folded = std::vec![0; p.outputs];
            fold_bias(&w, p.inputs, bias, x_zp, &mut folded);
            let (mut want, mut got) = (std::vec![0i8; p.rows * p.outputs], std::vec![0i8; p.rows * p.outputs]);
            fully_connected_i8(&p, &x, x_zp, &w, bias, &rq, -3, &mut want, (-128, 127));
            crate::kernels::fully_connected_i8(&p, &x, 0, &w, Some(&folded), &rq, -3, &mut got, (-128, 127));
            assert_eq!(got, want, "x_zp {x_zp}");
            assert!(want.iter().any(|&v| v != want[0]));
        }
        let mut wrapped = [0];
        fold_bias(&[127; 4], 4, Some(&[i32::MIN]), 1, &mut wrapped);
        assert_eq!(wrapped, [i32::MIN.wrapping_sub(508)]);
    }

    #[test]
    fn macs() {
        assert_eq!(
            FcParams {
                rows: 3,
                inputs: 5,
                outputs: 7
            }
            .macs(),
            105
        );
    }
}
