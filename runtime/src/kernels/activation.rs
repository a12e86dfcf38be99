//! Unary elementwise functions: Relu, Relu6, Clip, Sigmoid, Exp (f32), and the int8 table lookup.
//!
//! int8 unary ops are a 256-entry lookup table computed on the host from the input and output
//! quantization parameters (`ops::unary::build_lut_i8`), so the device does one load per element
//! and every target agrees.

use super::output::clamp_f32;

/// A unary elementwise function (the kernel's parameter; the file stores `ops::UnaryOp`).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UnaryOp {
    Relu,
    Relu6,
    Clip { lo: f32, hi: f32 },
    Sigmoid,
    Exp,
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
/// Relu / Relu6 / Clip are the output stage's clamp to `[0, inf)`, `[0, 6]`, `[lo, hi]`
/// ([`clamp_f32`]: NaN passes through); Sigmoid is `1 / (1 + libm::expf(-x))`; Exp is
/// `libm::expf(x)`.
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

/// `out[i] = lut[x[i] + 128]`: an int8 unary op as a table lookup (no arithmetic, so no
/// rounding beyond the table's own). `x` and `out` of equal length.
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

    #[test]
    fn unary_f32_known_values() {
        let x = [-2.0f32, -0.0, 0.0, 3.0, 7.0, f32::NAN];
        let mut out = [0.0f32; 6];
        unary_f32(UnaryOp::Relu, &x, &mut out);
        assert_eq!(out[..5], [0.0, -0.0, 0.0, 3.0, 7.0]);
        assert!(out[5].is_nan());
        unary_f32(UnaryOp::Relu6, &x, &mut out);
        assert_eq!(out[..5], [0.0, 0.0, 0.0, 3.0, 6.0]);
        assert!(out[5].is_nan());
        unary_f32(UnaryOp::Clip { lo: -1.0, hi: 1.0 }, &x, &mut out);
        assert_eq!(out[..5], [-1.0, 0.0, 0.0, 1.0, 1.0]);
        assert!(out[5].is_nan());
        let mut buf = [0.0f32, -200.0, 200.0];
        unary_inplace_f32(UnaryOp::Sigmoid, &mut buf);
        assert_eq!(buf, [0.5, 0.0, 1.0]);
        let mut buf = [0.0f32, -200.0, 200.0];
        unary_inplace_f32(UnaryOp::Exp, &mut buf);
        assert_eq!(buf, [1.0, 0.0, f32::INFINITY]);
    }

    #[test]
    fn lut_i8_known_values() {
        let mut lut = [0i8; 256];
        for (i, v) in lut.iter_mut().enumerate() {
            *v = (255 - i) as u8 as i8;
        }
        let mut out = [0i8; 4];
        lut_i8(&lut, &[-128, -1, 0, 127], &mut out);
        assert_eq!(out, [-1, -128, 127, 0]);
        lut_inplace_i8(&lut, &mut out);
        assert_eq!(out, [-128, -1, 0, 127]);
    }
}
