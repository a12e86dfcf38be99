//! Unary elementwise functions (Relu, Relu6, Clip, Sigmoid, Exp) and the fused-activation clamp.
//!
//! int8 unary ops are a 256-entry lookup table computed on the host from the input and output
//! quantization parameters, so the device does one load per element and every target agrees.

use serde::{Deserialize, Serialize};

use crate::quant::QParams;

/// A unary elementwise function.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UnaryOp {
    Relu,
    Relu6,
    Clip { lo: f32, hi: f32 },
    Sigmoid,
    Exp,
}

/// A clamp fused into the op that produces a tensor (Relu, Relu6 and Clip folded by the converter).
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activation {
    #[default]
    None,
    Relu,
    Relu6,
    Clip {
        lo: f32,
        hi: f32,
    },
}

impl Activation {
    /// Real-domain clamp bounds `(lo, hi)`: None `(-inf, inf)`, Relu `(0, inf)`, Relu6 `(0, 6)`,
    /// Clip `(lo, hi)`.
    pub fn bounds(self) -> (f32, f32) {
        match self {
            Activation::None => (f32::NEG_INFINITY, f32::INFINITY),
            Activation::Relu => (0.0, f32::INFINITY),
            Activation::Relu6 => (0.0, 6.0),
            Activation::Clip { lo, hi } => (lo, hi),
        }
    }

    /// Quantized clamp bounds for an int8 output with parameters `out`:
    /// `out.quantize_range(lo, hi)` of [`Activation::bounds`] (infinite sides stay open).
    pub fn bounds_i8(self, out: QParams) -> (i8, i8) {
        let (lo, hi) = self.bounds();
        out.quantize_range(lo, hi)
    }
}

/// Clamps to `[lo, hi]`, keeping NaN (unlike `max`/`min`) and never panicking.
#[inline]
fn clamp_f32(x: f32, lo: f32, hi: f32) -> f32 {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

#[inline]
fn unary_fn_f32(op: UnaryOp) -> impl Fn(f32) -> f32 {
    move |x| match op {
        UnaryOp::Relu => clamp_f32(x, 0.0, f32::INFINITY),
        UnaryOp::Relu6 => clamp_f32(x, 0.0, 6.0),
        UnaryOp::Clip { lo, hi } => clamp_f32(x, lo, hi),
        UnaryOp::Sigmoid => 1.0 / (1.0 + libm::expf(-x)),
        UnaryOp::Exp => libm::expf(x),
    }
}

/// `out[i] = f(x[i])`, `x` and `out` of equal length.
///
/// Relu / Relu6 / Clip are clamps to `[0, inf)`, `[0, 6]`, `[lo, hi]` (NaN passes through);
/// Sigmoid is `1 / (1 + libm::expf(-x))`; Exp is `libm::expf(x)`.
pub fn unary_f32(op: UnaryOp, x: &[f32], out: &mut [f32]) {
    let f = unary_fn_f32(op);
    for (o, &v) in out.iter_mut().zip(x) {
        *o = f(v);
    }
}

/// [`unary_f32`] in place: `buf[i] = f(buf[i])`, same results bit for bit.
pub fn unary_inplace_f32(op: UnaryOp, buf: &mut [f32]) {
    let f = unary_fn_f32(op);
    for v in buf.iter_mut() {
        *v = f(*v);
    }
}

/// Builds the int8 lookup table of `op` (host side): entry `i` is the output for the input
/// value `q = i - 128`, `output.quantize(f(input.dequantize(q)))`, with `f` evaluated in f64
/// (`libm::exp` for Sigmoid and Exp) and its result rounded to f32 before quantizing.
pub fn build_lut_i8(op: UnaryOp, input: QParams, output: QParams) -> [i8; 256] {
    let clamp = |x: f64, lo: f64, hi: f64| {
        if x < lo {
            lo
        } else if x > hi {
            hi
        } else {
            x
        }
    };
    let mut table = [0i8; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let x = input.dequantize((i as i32 - 128) as i8) as f64;
        let r = match op {
            UnaryOp::Relu => clamp(x, 0.0, f64::INFINITY),
            UnaryOp::Relu6 => clamp(x, 0.0, 6.0),
            UnaryOp::Clip { lo, hi } => clamp(x, lo as f64, hi as f64),
            UnaryOp::Sigmoid => 1.0 / (1.0 + libm::exp(-x)),
            UnaryOp::Exp => libm::exp(x),
        };
        *t = output.quantize(r as f32);
    }
    table
}

/// `out[i] = lut[x[i] + 128]`: an int8 unary op as a table lookup (no arithmetic, so no
/// rounding beyond the table's own, see [`build_lut_i8`]). `x` and `out` of equal length.
pub fn lut_i8(lut: &[i8; 256], x: &[i8], out: &mut [i8]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = lut[(v as i32 + 128) as usize];
    }
}

/// [`lut_i8`] in place: `buf[i] = lut[buf[i] + 128]`.
pub fn lut_inplace_i8(lut: &[i8; 256], buf: &mut [i8]) {
    for v in buf.iter_mut() {
        *v = lut[(*v as i32 + 128) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    type UnaryF32 = fn(UnaryOp, &[f32], &mut [f32]);
    type UnaryInplaceF32 = fn(UnaryOp, &mut [f32]);
    type LutI8 = fn(&[i8; 256], &[i8], &mut [i8]);
    type LutInplaceI8 = fn(&[i8; 256], &mut [i8]);

    fn reference_f64(op: UnaryOp, x: f64) -> f64 {
        match op {
            UnaryOp::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            UnaryOp::Relu6 => x.clamp(0.0, 6.0),
            UnaryOp::Clip { lo, hi } => x.clamp(lo as f64, hi as f64),
            UnaryOp::Sigmoid => 1.0 / (1.0 + libm::exp(-x)),
            UnaryOp::Exp => libm::exp(x),
        }
    }

    /// Clamps are exact; Sigmoid and Exp: `|got - want| <= 1e-6 |want| + 1e-38` (expf is within
    /// 1 ulp, plus two f32 roundings for Sigmoid; the absolute term covers f32 underflow).
    /// Results beyond f32::MAX must be +inf.
    fn assert_unary_close(op: UnaryOp, x: &[f32], got: &[f32]) {
        assert_eq!(x.len(), got.len());
        for (i, (&xi, &g)) in x.iter().zip(got).enumerate() {
            let w = reference_f64(op, xi as f64);
            match op {
                UnaryOp::Sigmoid | UnaryOp::Exp if w > f32::MAX as f64 => {
                    assert_eq!(g, f32::INFINITY, "[{i}] x={xi}")
                }
                UnaryOp::Sigmoid | UnaryOp::Exp => assert!(
                    (g as f64 - w).abs() <= 1e-6 * w.abs() + 1e-38,
                    "[{i}] {op:?}({xi}) got {g}, want {w}"
                ),
                _ => assert_eq!(g as f64, w, "[{i}] {op:?}({xi})"),
            }
        }
    }

    fn check_unary_f32(kernel: UnaryF32, op: UnaryOp, x: &[f32]) {
        let mut out = vec![f32::NAN; x.len()];
        kernel(op, x, &mut out);
        assert_unary_close(op, x, &out);
    }

    fn check_unary_inplace_f32(
        kernel: UnaryInplaceF32,
        out_of_place: UnaryF32,
        op: UnaryOp,
        x: &[f32],
    ) {
        let mut want = vec![0.0f32; x.len()];
        out_of_place(op, x, &mut want);
        let mut buf = x.to_vec();
        kernel(op, &mut buf);
        assert_unary_close(op, x, &buf);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&buf), bits(&want));
    }

    /// The table entry for `q`, from first principles: f in f64 on the dequantized input, then
    /// the output quantizer.
    fn reference_lut_entry(op: UnaryOp, input: QParams, output: QParams, q: i8) -> i8 {
        let x = input.dequantize(q) as f64;
        output.quantize(reference_f64(op, x) as f32)
    }

    fn check_lut_i8(
        kernel: LutI8,
        inplace: LutInplaceI8,
        op: UnaryOp,
        input: QParams,
        output: QParams,
        x: &[i8],
    ) {
        let lut = build_lut_i8(op, input, output);
        let want: Vec<i8> = x
            .iter()
            .map(|&q| reference_lut_entry(op, input, output, q))
            .collect();
        let mut out = vec![0x55i8; x.len()];
        kernel(&lut, x, &mut out);
        assert_eq!(out, want);
        let mut buf = x.to_vec();
        inplace(&lut, &mut buf);
        assert_eq!(buf, want);
    }

    fn unary_op() -> impl Strategy<Value = UnaryOp> {
        prop_oneof![
            Just(UnaryOp::Relu),
            Just(UnaryOp::Relu6),
            (-8.0f32..8.0, 0.0f32..8.0).prop_map(|(lo, w)| UnaryOp::Clip { lo, hi: lo + w }),
            Just(UnaryOp::Sigmoid),
            Just(UnaryOp::Exp),
        ]
    }

    fn qparams() -> impl Strategy<Value = QParams> {
        (-9.0f64..0.0, -128i32..=127).prop_map(|(e, zero_point)| QParams {
            scale: libm::exp2(e) as f32,
            zero_point,
        })
    }

    const ALL_I8: [i8; 256] = {
        let mut t = [0i8; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = (i as i32 - 128) as i8;
            i += 1;
        }
        t
    };

    proptest! {
        #[test]
        fn unary_f32_matches_f64_reference(op in unary_op(), x in prop::collection::vec(-100.0f32..100.0, 0..64)) {
            check_unary_f32(unary_f32, op, &x);
        }

        #[test]
        fn unary_inplace_f32_matches_out_of_place(op in unary_op(), x in prop::collection::vec(-100.0f32..100.0, 0..64)) {
            check_unary_inplace_f32(unary_inplace_f32, unary_f32, op, &x);
        }

        #[test]
        fn lut_i8_matches_f64_reference(
            op in unary_op(), input in qparams(), output in qparams(),
            x in prop::collection::vec(any::<i8>(), 0..64),
        ) {
            check_lut_i8(lut_i8, lut_inplace_i8, op, input, output, &x);
            check_lut_i8(lut_i8, lut_inplace_i8, op, input, output, &ALL_I8);
        }

        #[test]
        fn lut_clamps_with_equal_params_are_identity_clamps(op in 0usize..3, p in qparams(), lo in -8.0f32..0.0, hi in 0.0f32..8.0) {
            let (op, qlo, qhi) = match op {
                0 => (UnaryOp::Relu, p.quantize(0.0), 127),
                1 => (UnaryOp::Relu6, p.quantize(0.0), p.quantize(6.0)),
                _ => (UnaryOp::Clip { lo, hi }, p.quantize(lo), p.quantize(hi)),
            };
            let lut = build_lut_i8(op, p, p);
            let mut out = [0i8; 256];
            lut_i8(&lut, &ALL_I8, &mut out);
            for (&q, &o) in ALL_I8.iter().zip(&out) {
                prop_assert_eq!(o, q.max(qlo).min(qhi), "q={}", q);
            }
        }
    }

    #[test]
    fn activation_bounds() {
        assert_eq!(
            Activation::None.bounds(),
            (f32::NEG_INFINITY, f32::INFINITY)
        );
        assert_eq!(Activation::Relu.bounds(), (0.0, f32::INFINITY));
        assert_eq!(Activation::Relu6.bounds(), (0.0, 6.0));
        assert_eq!(Activation::Clip { lo: -1.5, hi: 2.0 }.bounds(), (-1.5, 2.0));
        let p = QParams {
            scale: 0.1,
            zero_point: -10,
        };
        assert_eq!(Activation::None.bounds_i8(p), (-128, 127));
        assert_eq!(Activation::Relu.bounds_i8(p), (-10, 127));
        assert_eq!(Activation::Relu6.bounds_i8(p), (-10, 50));
        assert_eq!(
            Activation::Clip {
                lo: -1.0,
                hi: 100.0
            }
            .bounds_i8(p),
            (-20, 127)
        );
    }

    #[test]
    fn unary_f32_known_values() {
        let x = [-2.0f32, -0.0, 0.0, 3.0, 7.0, f32::NAN];
        let mut out = [0.0f32; 6];
        unary_f32(UnaryOp::Relu, &x, &mut out);
        assert_eq!(out[..5], [0.0, -0.0, 0.0, 3.0, 7.0]);
        assert!(out[5].is_nan());
        unary_f32(UnaryOp::Relu6, &x, &mut out);
        assert_eq!(out[..5], [0.0, 0.0, 0.0, 3.0, 6.0]);
        unary_f32(UnaryOp::Clip { lo: -1.0, hi: 1.0 }, &x, &mut out);
        assert_eq!(out[..5], [-1.0, 0.0, 0.0, 1.0, 1.0]);
        let mut buf = [0.0f32, -200.0, 200.0];
        unary_inplace_f32(UnaryOp::Sigmoid, &mut buf);
        assert_eq!(buf, [0.5, 0.0, 1.0]);
        let mut buf = [0.0f32, -200.0, 200.0];
        unary_inplace_f32(UnaryOp::Exp, &mut buf);
        assert_eq!(buf, [1.0, 0.0, f32::INFINITY]);
    }

    #[test]
    fn lut_i8_known_values() {
        let unit = QParams {
            scale: 1.0,
            zero_point: 0,
        };
        let lut = build_lut_i8(UnaryOp::Exp, unit, unit);
        let mut out = [0i8; 7];
        lut_i8(&lut, &[-1, 0, 1, 2, 4, 5, -128], &mut out);
        // e^-1 = 0.37, e = 2.72, e^2 = 7.39, e^4 = 54.6, e^5 = 148 (saturates).
        assert_eq!(out, [0, 1, 3, 7, 55, 127, 0]);
        let input = QParams {
            scale: 1.0 / 16.0,
            zero_point: 0,
        };
        let output = QParams {
            scale: 1.0 / 256.0,
            zero_point: -128,
        };
        let lut = build_lut_i8(UnaryOp::Sigmoid, input, output);
        let mut buf = [0i8, 127, -128, 16];
        lut_inplace_i8(&lut, &mut buf);
        // sigmoid(0) = 0.5 -> 0; sigmoid(7.94) -> 255.9 -> 127; sigmoid(-8) = 3.4e-4 -> 0.09 -> -128;
        // sigmoid(1) = 0.731 -> 187.2 -> 59.
        assert_eq!(buf, [0, 127, -128, 59]);
    }
}
