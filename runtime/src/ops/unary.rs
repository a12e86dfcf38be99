//! Unary: elementwise Relu, Relu6, Clip, Sigmoid, Exp (ONNX `Relu` / `Clip` / `Sigmoid` / `Exp`,
//! TFLite `RELU` / `RELU6` / `LOGISTIC` / `EXP`), in place.
//!
//! Operands: f32 `[x]`; int8 `[x, lut]`, where `lut` is a constant i8 `[256]` table built on the
//! host by [`build_lut_i8`], so the device does one load per element and no float math. Kernels:
//! [`crate::kernels::activation`].

use serde::{Deserialize, Serialize};

use super::operands::{cast, cast_mut, Check, Exec};
use super::Feature;
use crate::error::{FormatError, RunError};
use crate::kernels::activation as kernel;
use crate::quant::QParams;
use crate::tensor::DType;

/// A unary elementwise function, as stored (discriminants in `FORMAT.md`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UnaryOp {
    Relu,
    Relu6,
    Clip { lo: f32, hi: f32 },
    Sigmoid,
    Exp,
}

impl From<UnaryOp> for kernel::UnaryOp {
    fn from(op: UnaryOp) -> Self {
        match op {
            UnaryOp::Relu => kernel::UnaryOp::Relu,
            UnaryOp::Relu6 => kernel::UnaryOp::Relu6,
            UnaryOp::Clip { lo, hi } => kernel::UnaryOp::Clip { lo, hi },
            UnaryOp::Sigmoid => kernel::UnaryOp::Sigmoid,
            UnaryOp::Exp => kernel::UnaryOp::Exp,
        }
    }
}

/// The real function of `op` in f64: what the f32 kernels approximate and the int8 tables
/// quantize.
pub fn eval_f64(op: UnaryOp, x: f64) -> f64 {
    let clamp = |x: f64, lo: f64, hi: f64| {
        if x < lo {
            lo
        } else if x > hi {
            hi
        } else {
            x
        }
    };
    match op {
        UnaryOp::Relu => clamp(x, 0.0, f64::INFINITY),
        UnaryOp::Relu6 => clamp(x, 0.0, 6.0),
        UnaryOp::Clip { lo, hi } => clamp(x, lo as f64, hi as f64),
        UnaryOp::Sigmoid => 1.0 / (1.0 + libm::exp(-x)),
        UnaryOp::Exp => libm::exp(x),
    }
}

/// Builds the int8 lookup table of `op` (host side): entry `i` is the output for the input
/// value `q = i - 128`, `output.quantize(f(input.dequantize(q)))`, with `f` evaluated in f64
/// ([`eval_f64`]) and its result rounded to f32 before quantizing.
pub fn build_lut_i8(op: UnaryOp, input: QParams, output: QParams) -> [i8; 256] {
    let mut table = [0i8; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let x = input.dequantize((i as i32 - 128) as i8) as f64;
        *t = output.quantize(eval_f64(op, x) as f32);
    }
    table
}

/// Load-time checks: f32 or int8, the output's dtype and shape equal to the input's, the int8
/// table, Clip bounds ordered and not NaN.
pub(crate) fn check(c: &Check<'_, '_>, op: UnaryOp) -> Result<(), FormatError> {
    c.float_or_i8(&c.x, c.x_id())?;
    c.expect_dtype(&c.y, c.y_id(), c.x.dtype)?;
    if c.is_i8_in(Feature::Unary) {
        c.arity_is(2)?;
        c.table(1, DType::I8)?;
    } else {
        c.arity_is(1)?;
    }
    if let UnaryOp::Clip { lo, hi } = op {
        if lo.is_nan() || hi.is_nan() || lo > hi {
            return Err(c.attr());
        }
    }
    if c.x.shape != c.y.shape {
        return Err(c.shape_err(c.y_id()));
    }
    Ok(())
}

pub(crate) fn run(e: &Exec<'_, '_>, out: &mut [u8], op: UnaryOp) -> Result<(), RunError> {
    let data = e.bytes(e.x)?;
    if e.is_i8(Feature::Unary) {
        let lut: &[i8; 256] = e.get::<i8>(e.input(1)?)?.try_into().map_err(|_| RunError::Internal)?;
        match data {
            Some(d) => kernel::lut_i8(lut, cast(d)?, cast_mut(out)?),
            None => kernel::lut_inplace_i8(lut, cast_mut(out)?),
        }
    } else {
        match data {
            Some(d) => kernel::unary_f32(op.into(), cast(d)?, cast_mut(out)?),
            None => kernel::unary_inplace_f32(op.into(), cast_mut(out)?),
        }
    }
    Ok(())
}

/// In place over the input (same shape, checked at load).
pub(crate) fn may_alias(slot: usize) -> bool {
    slot == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_I8: [i8; 256] = {
        let mut t = [0i8; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = (i as i32 - 128) as i8;
            i += 1;
        }
        t
    };

    fn qparams(seed: u64) -> QParams {
        let e = -9.0 + 9.0 * ((seed % 1000) as f64 / 1000.0);
        QParams { scale: libm::exp2(e) as f32, zero_point: ((seed / 1000) % 256) as i32 - 128 }
    }

    #[test]
    fn lut_i8_known_values() {
        let unit = QParams { scale: 1.0, zero_point: 0 };
        let lut = build_lut_i8(UnaryOp::Exp, unit, unit);
        let at = |q: i8| lut[(q as i32 + 128) as usize];
        // e^-1 = 0.37, e = 2.72, e^2 = 7.39, e^4 = 54.6, e^5 = 148 (saturates).
        assert_eq!([-1, 0, 1, 2, 4, 5, -128].map(at), [0, 1, 3, 7, 55, 127, 0]);
        let input = QParams { scale: 1.0 / 16.0, zero_point: 0 };
        let output = QParams { scale: 1.0 / 256.0, zero_point: -128 };
        let lut = build_lut_i8(UnaryOp::Sigmoid, input, output);
        let at = |q: i8| lut[(q as i32 + 128) as usize];
        // sigmoid(0) = 0.5 -> 0; sigmoid(7.94) -> 255.9 -> 127; sigmoid(-8) = 3.4e-4 -> 0.09 -> -128;
        // sigmoid(1) = 0.731 -> 187.2 -> 59.
        assert_eq!([0, 127, -128, 16].map(at), [0, 127, -128, 59]);
    }

    /// Relu, Relu6 and Clip tables with equal input and output parameters are the int8 clamps
    /// of the quantized bounds.
    #[test]
    fn clamp_tables_with_equal_params_are_identity_clamps() {
        for seed in 0..300u64 {
            let p = qparams(seed * 7919);
            let (lo, hi) = (-8.0 * (seed % 13) as f32 / 13.0, 8.0 * (seed % 11) as f32 / 11.0);
            let (op, qlo, qhi) = match seed % 3 {
                0 => (UnaryOp::Relu, p.quantize(0.0), 127),
                1 => (UnaryOp::Relu6, p.quantize(0.0), p.quantize(6.0)),
                _ => (UnaryOp::Clip { lo, hi }, p.quantize(lo), p.quantize(hi)),
            };
            let lut = build_lut_i8(op, p, p);
            for q in ALL_I8 {
                assert_eq!(lut[(q as i32 + 128) as usize], q.max(qlo).min(qhi), "{op:?} {p:?} q={q}");
            }
        }
    }

    #[test]
    fn kernel_ops_match_wire_ops() {
        let ops = [UnaryOp::Relu, UnaryOp::Relu6, UnaryOp::Clip { lo: -1.5, hi: 2.0 }, UnaryOp::Sigmoid, UnaryOp::Exp];
        let x = [-3.0f32, -0.5, 0.0, 0.25, 1.0, 7.5];
        for op in ops {
            let mut out = [0.0f32; 6];
            kernel::unary_f32(op.into(), &x, &mut out);
            for (&v, &o) in x.iter().zip(&out) {
                let want = eval_f64(op, v as f64);
                assert!((o as f64 - want).abs() <= 1e-6 * want.abs(), "{op:?}({v}) = {o}, want {want}");
            }
        }
    }
}
