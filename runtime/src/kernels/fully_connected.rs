//! Fully connected layer (MatMul with a `[out, in]` weight matrix and an optional bias).

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
}

/// Float fully connected layer: `out[r][o] = clamp(bias[o] + sum_i x[r][i] * w[o][i], act.0, act.1)`.
///
/// Layouts as [`FcParams`]; `bias` `None` means zero. The sum starts from the bias and adds the
/// products in increasing `i`, one IEEE multiply and one add each; the clamp is
/// `v.max(lo).min(hi)`.
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
            *dst = acc.max(act.0).min(act.1);
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
/// (reaching it takes more than 65 000 inputs); `out = clamp(requant[o].apply(acc) +
/// out_zero_point, act.0, act.1)`, where `apply` is TFLite `MultiplyByQuantizedMultiplier`
/// (rounding as in [`crate::quant`]: the doubling high-mul rounds ties up, the power-of-two shift
/// rounds ties away from zero), the zero-point add saturates and the clamp is `v.max(lo).min(hi)`.
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
            // max-then-min keeps the result inside [min(lo, hi), hi], a subset of the i8 range.
            *dst = rq
                .apply(acc)
                .saturating_add(out_zero_point)
                .max(act.0 as i32)
                .min(act.1 as i32) as i8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::quantize_multiplier;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    type FcF32 = fn(&FcParams, &[f32], &[f32], Option<&[f32]>, &mut [f32], (f32, f32));
    type FcI8 =
        fn(&FcParams, &[i8], i32, &[i8], Option<&[i32]>, &[Requant], i32, &mut [i8], (i8, i8));

    use crate::kernels::test_rng::Rng;

    /// Every output within `1e-5 * (1 + |bias| + sum |x * w|)` of the f64 reference.
    fn check_fc_f32(kernel: FcF32, p: &FcParams, seed: u64) -> Result<(), TestCaseError> {
        let mut rng = Rng(seed);
        let x: Vec<f32> = (0..p.rows * p.inputs)
            .map(|_| rng.f32_in(-2.0, 2.0))
            .collect();
        let w: Vec<f32> = (0..p.outputs * p.inputs)
            .map(|_| rng.f32_in(-2.0, 2.0))
            .collect();
        let bias: Option<Vec<f32>> =
            (rng.int(0, 1) == 1).then(|| (0..p.outputs).map(|_| rng.f32_in(-3.0, 3.0)).collect());
        let act = rng.act_f32();
        let mut out = vec![f32::NAN; p.rows * p.outputs];
        kernel(p, &x, &w, bias.as_deref(), &mut out, act);
        for r in 0..p.rows {
            for o in 0..p.outputs {
                let b = bias.as_ref().map_or(0.0, |b| b[o] as f64);
                let (mut want, mut mag) = (b, b.abs());
                for i in 0..p.inputs {
                    let t = x[r * p.inputs + i] as f64 * w[o * p.inputs + i] as f64;
                    want += t;
                    mag += t.abs();
                }
                let want = want.max(act.0 as f64).min(act.1 as f64);
                let got = out[r * p.outputs + o] as f64;
                prop_assert!(
                    (got - want).abs() <= 1e-5 * (1.0 + mag),
                    "{p:?} act {act:?}: out[{r}][{o}] = {got}, want {want}"
                );
            }
        }
        Ok(())
    }

    /// Whole output equal to the i64 reference followed by `Requant::apply`.
    fn check_fc_i8(kernel: FcI8, p: &FcParams, seed: u64) -> Result<(), TestCaseError> {
        let mut rng = Rng(seed);
        let x: Vec<i8> = (0..p.rows * p.inputs)
            .map(|_| rng.int(-128, 127) as i8)
            .collect();
        let w: Vec<i8> = (0..p.outputs * p.inputs)
            .map(|_| rng.int(-127, 127) as i8)
            .collect();
        let bias: Option<Vec<i32>> = (rng.int(0, 1) == 1).then(|| {
            (0..p.outputs)
                .map(|_| rng.int(-40_000, 40_000) as i32)
                .collect()
        });
        let x_zp = rng.int(-128, 127) as i32;
        let out_zp = rng.int(-128, 127) as i32;
        let n_rq = if rng.int(0, 1) == 0 { 1 } else { p.outputs };
        let requant: Vec<Requant> = (0..n_rq)
            .map(|_| quantize_multiplier(libm::pow(10.0, -4.0 + 3.0 * rng.unit())))
            .collect();
        let act = rng.act_i8(out_zp);
        let mut out = vec![0i8; p.rows * p.outputs];
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
        let mut want = Vec::new();
        for r in 0..p.rows {
            for o in 0..p.outputs {
                let mut acc = bias.as_ref().map_or(0i64, |b| b[o] as i64);
                for i in 0..p.inputs {
                    acc += (x[r * p.inputs + i] as i64 - x_zp as i64) * w[o * p.inputs + i] as i64;
                }
                let rq = requant[if n_rq == 1 { 0 } else { o }];
                let v = rq.apply(i32::try_from(acc).unwrap()) as i64 + out_zp as i64;
                want.push(v.clamp(act.0 as i64, act.1 as i64) as i8);
            }
        }
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

    fn fc_case() -> impl Strategy<Value = (FcParams, u64)> {
        (1usize..=4, 1usize..=40, 1usize..=12, any::<u64>()).prop_map(
            |(rows, inputs, outputs, seed)| {
                (
                    FcParams {
                        rows,
                        inputs,
                        outputs,
                    },
                    seed,
                )
            },
        )
    }

    proptest! {
        #[test]
        fn fully_connected_f32_matches_reference((p, seed) in fc_case()) {
            check_fc_f32(fully_connected_f32, &p, seed)?;
        }

        #[test]
        fn fully_connected_i8_matches_reference((p, seed) in fc_case()) {
            check_fc_i8(fully_connected_i8, &p, seed)?;
        }

        #[test]
        fn arm_fully_connected_i8_matches_reference((p, seed) in fc_case()) {
            check_fc_i8(crate::kernels::arm::fully_connected_i8, &p, seed)?;
        }
    }

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

    #[test]
    fn checks_reject_a_wrong_kernel() {
        fn wrong_f32(
            p: &FcParams,
            x: &[f32],
            w: &[f32],
            b: Option<&[f32]>,
            o: &mut [f32],
            a: (f32, f32),
        ) {
            fully_connected_f32(p, x, w, b, o, a);
            o[o.len() - 1] += 0.01;
        }
        #[allow(clippy::too_many_arguments)]
        fn wrong_i8(
            p: &FcParams,
            x: &[i8],
            xz: i32,
            w: &[i8],
            b: Option<&[i32]>,
            r: &[Requant],
            oz: i32,
            o: &mut [i8],
            a: (i8, i8),
        ) {
            fully_connected_i8(p, x, xz, w, b, r, oz, o, a);
            o[0] ^= 1;
        }
        let p = FcParams {
            rows: 2,
            inputs: 9,
            outputs: 4,
        };
        assert!(check_fc_f32(fully_connected_f32, &p, 3).is_ok());
        assert!(check_fc_f32(wrong_f32, &p, 3).is_err());
        assert!(check_fc_i8(fully_connected_i8, &p, 3).is_ok());
        assert!(check_fc_i8(wrong_i8, &p, 3).is_err());
    }
}
