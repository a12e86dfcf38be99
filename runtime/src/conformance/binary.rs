//! Binary elementwise arithmetic with broadcasting:
//! [`binary_f32`](crate::kernels::elementwise::binary_f32),
//! [`binary_i8`](crate::kernels::elementwise::binary_i8) and their in-place forms.

use super::{clamp_f64, clamp_i64, div_round_away, ravel, requant_ref, unravel, Act, Cases, Ctx, Dims, Draw, InPlace, Mismatch, Params};
use crate::kernels::elementwise::{BinaryOp, BinaryQuant};
use crate::quant::QParams;
use crate::tensor::MAX_RANK;

/// The signature of `binary_f32`.
pub type BinaryF32 = fn(BinaryOp, &[usize], &[f32], &[usize], &[f32], &[usize], &mut [f32], (f32, f32));
/// The signature of `binary_inplace_f32`.
pub type BinaryInplaceF32 = fn(BinaryOp, bool, &mut [f32], &[usize], &[f32], &[usize], (f32, f32));
/// The signature of `binary_i8`.
pub type BinaryI8 = fn(BinaryOp, &BinaryQuant, &[usize], &[i8], &[usize], &[i8], &[usize], &mut [i8], (i8, i8));
/// The signature of `binary_inplace_i8`.
pub type BinaryInplaceI8 = fn(BinaryOp, &BinaryQuant, bool, &mut [i8], &[usize], &[i8], &[usize], (i8, i8));

const OPS: [BinaryOp; 4] = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div];
/// Output rank 0..=4, dimensions 0..=4.
const MAX_LEN: usize = 256;

/// Operand and output shapes of equal rank. Cycles through equal shapes, a scalar `b`, a `b`
/// along the last axis only, and random broadcasting on both sides; for the in-place suites,
/// the accumulated operand (`in_place`) keeps the output's shape.
fn shapes(d: &mut Draw, in_place: InPlace) -> (Dims, Dims, Dims) {
    let r = d.size(0, 4);
    let mut out = [0usize; MAX_RANK];
    out[..r].iter_mut().for_each(|v| *v = d.size(0, 4));
    let (mut a, mut b) = (out, out);
    match d.cycle(4) {
        0 => {}
        1 => b[..r].iter_mut().for_each(|v| *v = 1),
        2 => b[..r.saturating_sub(1)].iter_mut().for_each(|v| *v = 1),
        _ => {
            for k in 0..r {
                if d.coin() {
                    a[k] = 1;
                }
                if d.coin() {
                    b[k] = 1;
                }
            }
        }
    }
    match in_place {
        InPlace::OverA => a = out,
        InPlace::OverB => b = out,
        InPlace::No => {}
    }
    let dims = |s: &[usize]| Dims::new(s).unwrap_or_default();
    (dims(&a[..r]), dims(&b[..r]), dims(&out[..r]))
}

/// Flat index into `shape` (broadcast dimensions read index 0) of output element `o`.
fn source(o: usize, out: &Dims, shape: &Dims) -> usize {
    let mut idx = unravel(o, out.as_slice());
    for (i, &s) in idx.iter_mut().zip(shape.as_slice()) {
        if s == 1 {
            *i = 0;
        }
    }
    ravel(&idx[..shape.as_slice().len()], shape.as_slice())
}

/// Multiples of 1/8 in `[-64, 64)`, zeros included (Div by zero), now and then NaN or ±inf.
fn value_f32(d: &mut Draw, specials: bool) -> f32 {
    if specials && d.int(0, 15) == 0 {
        [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0][d.size(0, 3)]
    } else {
        d.int(-512, 511) as f32 / 8.0
    }
}

/// The contract of one f32 element: one IEEE operation, then the clamp. Computed in f64 and
/// rounded once to f32, which is exactly the f32 operation (f64 has more than twice f32's
/// precision, so the double rounding is innocuous for + - * /).
fn want_f32(op: BinaryOp, x: f32, y: f32, act: (f32, f32)) -> f32 {
    let (x, y) = (x as f64, y as f64);
    let r = match op {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div => x / y,
    } as f32;
    clamp_f64(r as f64, act.0 as f64, act.1 as f64) as f32
}

fn check_f32(suite: &'static str, cases: Cases, in_place: bool, mut run: impl FnMut(BinaryOp, InPlace, &Dims, &[f32], &Dims, &[f32], &Dims, &mut [f32], (f32, f32))) -> Result<(), Mismatch> {
    cases.each(|d| {
        let op = OPS[d.cycle(4)];
        let side = if !in_place { InPlace::No } else if d.cycle(2) == 0 { InPlace::OverA } else { InPlace::OverB };
        let (sa, sb, so) = shapes(d, side);
        let specials = d.cycle(3) == 0;
        let (mut a, mut b, mut out) = ([0f32; MAX_LEN], [0f32; MAX_LEN], [f32::NAN; MAX_LEN]);
        a[..sa.numel()].iter_mut().for_each(|v| *v = value_f32(d, specials));
        b[..sb.numel()].iter_mut().for_each(|v| *v = value_f32(d, specials));
        let act = d.act_f32();
        let ctx = Ctx::new(suite, d, Params::Binary { op, a: sa, b: sb, out: so, act: Act::F32(act.0, act.1), quant: None, in_place: side });
        let n = so.numel();
        run(op, side, &sa, &a[..sa.numel()], &sb, &b[..sb.numel()], &so, &mut out[..n], act);
        for (o, &got) in out[..n].iter().enumerate() {
            ctx.same_f32(o, got, want_f32(op, a[source(o, &so, &sa)], b[source(o, &so, &sb)], act))?;
        }
        Ok(())
    })
}

/// Every element bit for bit (NaN meets any NaN): one IEEE operation per element, then the
/// clamp through which NaN passes. Cycles through the four operations, the broadcasting modes,
/// every kind of activation, and values with NaN, ±inf and -0.
pub fn binary_f32(kernel: BinaryF32, cases: Cases) -> Result<(), Mismatch> {
    check_f32("binary_f32", cases, false, |op, _, sa, a, sb, b, so, out, act| kernel(op, sa.as_slice(), a, sb.as_slice(), b, so.as_slice(), out, act))
}

/// As [`binary_f32`], the output accumulated over operand `a` or `b` (cycling).
pub fn binary_inplace_f32(kernel: BinaryInplaceF32, cases: Cases) -> Result<(), Mismatch> {
    check_f32("binary_inplace_f32", cases, true, |op, side, sa, a, sb, b, so, out, act| {
        let acc_is_a = side == InPlace::OverA;
        let (other_shape, other) = if acc_is_a { (sb, b) } else { (sa, a) };
        out.copy_from_slice(if acc_is_a { a } else { b });
        kernel(op, acc_is_a, out, other_shape.as_slice(), other, so.as_slice(), act)
    })
}

/// The contract of one int8 element, from its definition in i64.
fn want_i8(op: BinaryOp, q: &BinaryQuant, x: i8, y: i8, act: (i8, i8)) -> i64 {
    let xa = x as i64 - q.a_zero_point as i64;
    let yb = y as i64 - q.b_zero_point as i64;
    let zo = q.out_zero_point as i64;
    let v = match op {
        BinaryOp::Add | BinaryOp::Sub => {
            let xs = requant_ref(xa << q.left_shift, q.a);
            let ys = requant_ref(yb << q.left_shift, q.b);
            requant_ref(if op == BinaryOp::Add { xs + ys } else { xs - ys }, q.out) + zo
        }
        BinaryOp::Mul => requant_ref(xa * yb, q.out) + zo,
        BinaryOp::Div if yb == 0 => match xa.signum() {
            1 => 127,
            -1 => -128,
            _ => zo,
        },
        BinaryOp::Div => requant_ref(div_round_away(xa << q.left_shift, yb), q.out) + zo,
    };
    clamp_i64(v, act)
}

/// Quantization parameters: scales `2^-7..1`, zero points of either sign.
fn qparams(d: &mut Draw) -> QParams {
    QParams { scale: libm::exp2(-7.0 * d.unit()) as f32, zero_point: d.int(-128, 127) as i32 }
}

/// Output elements of the long same-shape cases, up to `1024`: past any length from which a
/// variant switches to a same-shape path.
const LONG_LEN: usize = 1024;

/// Shapes of a long same-shape case: `[n]` or `[1, h, w, c]`, up to [`LONG_LEN`] elements.
fn long_shape(d: &mut Draw) -> Dims {
    let dims = if d.coin() { Dims::new(&[d.size(1, LONG_LEN)]) } else { Dims::new(&[1, d.size(1, 8), d.size(1, 8), d.size(1, 16)]) };
    dims.unwrap_or_default()
}

/// Parameters of a long case, cycling through: [`BinaryQuant::new`] over random scales and
/// zero points; the same with zero points at the ends of the int8 range; and raw parameters
/// (any headroom shift up to 22, multipliers of either direction), whose terms and sums
/// saturate.
fn long_quant(d: &mut Draw, op: BinaryOp) -> BinaryQuant {
    match d.cycle(3) {
        0 => BinaryQuant::new(op, qparams(d), qparams(d), qparams(d)),
        1 => {
            let mut ends = || QParams { zero_point: if d.coin() { -128 } else { 127 }, ..qparams(d) };
            BinaryQuant::new(op, ends(), ends(), ends())
        }
        _ => {
            let (za, zb, zo) = (d.int(-128, 127) as i32, d.int(-128, 127) as i32, d.int(-128, 127) as i32);
            let left_shift = d.int(0, 22) as i32;
            let (ca, cb, co) = (d.size(0, 2), d.size(0, 2), d.size(0, 2));
            BinaryQuant { a_zero_point: za, b_zero_point: zb, out_zero_point: zo, left_shift, a: d.requant(ca), b: d.requant(cb), out: d.requant(co) }
        }
    }
}

/// Operand values: random, now and then an end of the int8 range.
fn value_i8(d: &mut Draw) -> i8 {
    match d.int(0, 7) {
        0 => -128,
        1 => 127,
        _ => d.i8(),
    }
}

fn check_i8(suite: &'static str, cases: Cases, in_place: bool, long: bool, mut run: impl FnMut(BinaryOp, &BinaryQuant, InPlace, &Dims, &[i8], &Dims, &[i8], &Dims, &mut [i8], (i8, i8))) -> Result<(), Mismatch> {
    cases.each(|d| {
        let op = OPS[d.cycle(4)];
        let side = if !in_place { InPlace::No } else if d.cycle(2) == 0 { InPlace::OverA } else { InPlace::OverB };
        let (q, (sa, sb, so)) = if long {
            let q = long_quant(d, op);
            let s = long_shape(d);
            (q, (s, s, s))
        } else {
            let (qa, qb, qo) = (qparams(d), qparams(d), qparams(d));
            (BinaryQuant::new(op, qa, qb, qo), shapes(d, side))
        };
        let (mut a, mut b, mut out) = ([0i8; LONG_LEN], [0i8; LONG_LEN], [0i8; LONG_LEN]);
        a[..sa.numel()].iter_mut().for_each(|v| *v = value_i8(d));
        // b holds its zero point now and then: division by zero.
        b[..sb.numel()].iter_mut().for_each(|v| *v = if d.int(0, 4) == 0 { q.b_zero_point as i8 } else { value_i8(d) });
        let act = d.act_i8(q.out_zero_point);
        let ctx = Ctx::new(suite, d, Params::Binary { op, a: sa, b: sb, out: so, act: Act::I8(act.0, act.1), quant: Some(q), in_place: side });
        let n = so.numel();
        run(op, &q, side, &sa, &a[..sa.numel()], &sb, &b[..sb.numel()], &so, &mut out[..n], act);
        for (o, &got) in out[..n].iter().enumerate() {
            ctx.exact(o, got as i64, want_i8(op, &q, a[source(o, &so, &sa)], b[source(o, &so, &sb)], act))?;
        }
        Ok(())
    })
}

/// Every element exactly, from the definition in i64 with TFLite's requantization; parameters
/// from [`BinaryQuant::new`] over random scales and zero points of both signs. A second pass
/// runs long same-shape cases (up to 1,024 elements, where variants take their same-shape paths)
/// with zero points at the ends of the int8 range and raw parameters that saturate (see
/// `long_quant`). In addition,
/// every fourth case checks the meaning of those parameters: without activation, each of the
/// 16 × 16 products of two operand vectors is within one output quantum of the exact real
/// result, rounded and saturated.
pub fn binary_i8(kernel: BinaryI8, cases: Cases) -> Result<(), Mismatch> {
    for long in [false, true] {
        check_i8("binary_i8", cases, false, long, |op, q, _, sa, a, sb, b, so, out, act| kernel(op, q, sa.as_slice(), a, sb.as_slice(), b, so.as_slice(), out, act))?;
    }
    cases.each(|d| {
        if d.cycle(4) != 0 {
            return Ok(());
        }
        let op = OPS[d.size(0, 3)];
        let (qa, qb, qo) = (qparams(d), qparams(d), qparams(d));
        let q = BinaryQuant::new(op, qa, qb, qo);
        let (mut a, mut b, mut out) = ([0i8; 16], [0i8; 16], [0i8; MAX_LEN]);
        a.iter_mut().for_each(|v| *v = d.i8());
        b.iter_mut().for_each(|v| *v = d.i8());
        let (sa, sb, so) = (Dims::new(&[16, 1]).unwrap_or_default(), Dims::new(&[1, 16]).unwrap_or_default(), Dims::new(&[16, 16]).unwrap_or_default());
        let ctx = Ctx::new("binary_i8", d, Params::Binary { op, a: sa, b: sb, out: so, act: Act::I8(-128, 127), quant: Some(q), in_place: InPlace::No });
        kernel(op, &q, sa.as_slice(), &a, sb.as_slice(), &b, so.as_slice(), &mut out, (-128, 127));
        for (o, &got) in out.iter().enumerate() {
            let (x, y) = (a[o / 16], b[o % 16]);
            let rx = (x as i32 - qa.zero_point) as f64 * qa.scale as f64;
            let ry = (y as i32 - qb.zero_point) as f64 * qb.scale as f64;
            let r = match op {
                BinaryOp::Add => rx + ry,
                BinaryOp::Sub => rx - ry,
                BinaryOp::Mul => rx * ry,
                BinaryOp::Div if ry == 0.0 => continue,
                BinaryOp::Div => rx / ry,
            };
            let want = (libm::round(r / qo.scale as f64) + qo.zero_point as f64).clamp(-128.0, 127.0);
            ctx.close_f64(o, got as f64, want, 1.0)?;
        }
        Ok(())
    })
}

/// As [`binary_i8`]'s exact part (both passes), the output accumulated over operand `a` or `b`
/// (cycling).
pub fn binary_inplace_i8(kernel: BinaryInplaceI8, cases: Cases) -> Result<(), Mismatch> {
    for long in [false, true] {
        check_i8("binary_inplace_i8", cases, true, long, |op, q, side, sa, a, sb, b, so, out, act| {
            let acc_is_a = side == InPlace::OverA;
            let (other_shape, other) = if acc_is_a { (sb, b) } else { (sa, a) };
            out.copy_from_slice(if acc_is_a { a } else { b });
            kernel(op, q, acc_is_a, out, other_shape.as_slice(), other, so.as_slice(), act)
        })?;
    }
    Ok(())
}
