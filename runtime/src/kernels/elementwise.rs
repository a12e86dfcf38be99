//! Binary elementwise arithmetic with NumPy / ONNX broadcasting: Add, Sub, Mul, Div.
//!
//! Shapes: `a_shape`, `b_shape` and `out_shape` have the same rank `r <= MAX_RANK` (the
//! interpreter left-pads the shorter operand with 1s); every operand dimension equals the output
//! dimension or is 1, and a dimension of 1 broadcasts. All tensors are dense, row-major.
//!
//! [`binary_i8`] and [`binary_inplace_i8`] are the int8 reference. [`binary_tabled_i8`] and
//! [`binary_inplace_tabled_i8`] give the same bytes faster for the common residual shape,
//! same-shape Add / Sub, by tabulating each operand's term per byte ([`AddSubTerms`]): one
//! output stage per element instead of three requantizations. The interpreter runs them where
//! the target has no Arm DSP variant (`kernels::binary_i8`).

use super::output::{clamp_f32, clamp_i8, requantize_i8};
use crate::quant::{quantize_multiplier, rounding_divide_by_pot, QParams, Requant};
use crate::tensor::MAX_RANK;

/// The arithmetic a binary elementwise op performs (the kernel's parameter; the file stores
/// `ops::BinaryOp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// Precomputed int8 parameters of a binary op (computed on the host by `BinaryQuant::new`; the
/// file stores them as `ops::BinaryQuant`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BinaryQuant {
    pub a_zero_point: i32,
    pub b_zero_point: i32,
    pub out_zero_point: i32,
    /// Headroom shift applied to both operands of Add / Sub before rescaling (TFLite uses 20).
    pub left_shift: i32,
    pub a: Requant,
    pub b: Requant,
    pub out: Requant,
}

impl BinaryQuant {
    /// Computes the int8 parameters of `op` from the operand and output quantization (host side).
    ///
    /// * Add / Sub (TFLite): `left_shift = 20`, `twice_max = 2 * max(sa, sb)`,
    ///   `a = M(sa / twice_max)`, `b = M(sb / twice_max)`, `out = M(twice_max / (2^20 * so))`.
    /// * Mul: `out = M(sa * sb / so)`, `left_shift = 0`, `a = b = Requant::ONE` (unused).
    /// * Div: `out = M(sa / (sb * so) / 2^16)`, `left_shift = 16`, `a = b = Requant::ONE` (unused).
    ///
    /// `M` is [`quantize_multiplier`]; all ratios are computed in f64.
    pub fn new(op: BinaryOp, a: QParams, b: QParams, out: QParams) -> BinaryQuant {
        let (sa, sb, so) = (a.scale as f64, b.scale as f64, out.scale as f64);
        let (left_shift, ra, rb, rout) = match op {
            BinaryOp::Add | BinaryOp::Sub => {
                let twice_max = 2.0 * if sa > sb { sa } else { sb };
                (
                    20,
                    quantize_multiplier(sa / twice_max),
                    quantize_multiplier(sb / twice_max),
                    quantize_multiplier(twice_max / ((1u32 << 20) as f64 * so)),
                )
            }
            BinaryOp::Mul => (
                0,
                Requant::ONE,
                Requant::ONE,
                quantize_multiplier(sa * sb / so),
            ),
            BinaryOp::Div => (
                16,
                Requant::ONE,
                Requant::ONE,
                quantize_multiplier(sa / (sb * so) / 65536.0),
            ),
        };
        BinaryQuant {
            a_zero_point: a.zero_point,
            b_zero_point: b.zero_point,
            out_zero_point: out.zero_point,
            left_shift,
            a: ra,
            b: rb,
            out: rout,
        }
    }
}

/// Calls `f(out_index, a_index, b_index)` once for every output element, in row-major order.
///
/// The single broadcasting walk shared by every binary kernel: an odometer over `out_shape`
/// with per-operand strides that are 0 on broadcast dimensions, the innermost dimension as a
/// plain loop. Same-shape operands take one flat loop.
#[inline]
fn for_each_broadcast(
    a_shape: &[usize],
    b_shape: &[usize],
    out_shape: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let total: usize = out_shape.iter().product();
    if total == 0 {
        return;
    }
    if a_shape == out_shape && b_shape == out_shape {
        (0..total).for_each(|i| f(i, i, i));
        return;
    }
    // Rank 0 has total == 1 and equal shapes, so rank >= 1 here.
    let rank = out_shape.len().min(MAX_RANK);
    let inner = out_shape[rank - 1];
    let mut a_stride = [0usize; MAX_RANK];
    let mut b_stride = [0usize; MAX_RANK];
    let (mut ka, mut kb) = (1usize, 1usize);
    for d in (0..rank).rev() {
        a_stride[d] = if a_shape[d] == 1 { 0 } else { ka };
        b_stride[d] = if b_shape[d] == 1 { 0 } else { kb };
        ka *= a_shape[d];
        kb *= b_shape[d];
    }
    let (sa, sb) = (a_stride[rank - 1], b_stride[rank - 1]);
    let mut idx = [0usize; MAX_RANK];
    let (mut ia, mut ib, mut o) = (0usize, 0usize, 0usize);
    loop {
        for j in 0..inner {
            f(o + j, ia + j * sa, ib + j * sb);
        }
        o += inner;
        // Advance the odometer over the outer dimensions.
        let mut d = rank - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            ia += a_stride[d];
            ib += b_stride[d];
            if idx[d] < out_shape[d] {
                break;
            }
            ia -= a_stride[d] * out_shape[d];
            ib -= b_stride[d] * out_shape[d];
            idx[d] = 0;
        }
    }
}

#[inline]
fn binary_fn_f32(op: BinaryOp) -> fn(f32, f32) -> f32 {
    match op {
        BinaryOp::Add => |x, y| x + y,
        BinaryOp::Sub => |x, y| x - y,
        BinaryOp::Mul => |x, y| x * y,
        BinaryOp::Div => |x, y| x / y,
    }
}

/// `out = clamp(a <op> b, act.0, act.1)` with broadcasting (see the module doc for the shapes).
///
/// One IEEE-754 operation per element (Div by zero gives ±inf or NaN), then the output stage's
/// clamp, through which NaN passes unchanged. `out` has `prod(out_shape)` elements.
#[allow(clippy::too_many_arguments)]
pub fn binary_f32(
    op: BinaryOp,
    a_shape: &[usize],
    a: &[f32],
    b_shape: &[usize],
    b: &[f32],
    out_shape: &[usize],
    out: &mut [f32],
    act: (f32, f32),
) {
    let f = binary_fn_f32(op);
    for_each_broadcast(a_shape, b_shape, out_shape, |o, ia, ib| {
        out[o] = clamp_f32(f(a[ia], b[ib]), act.0, act.1);
    });
}

/// [`binary_f32`] computed in place: `acc` has `out_shape` and holds operand `a` (if
/// `acc_is_a`) or operand `b` (otherwise); `other` is the remaining operand, of `other_shape`.
/// Same results, bit for bit, as [`binary_f32`].
pub fn binary_inplace_f32(
    op: BinaryOp,
    acc_is_a: bool,
    acc: &mut [f32],
    other_shape: &[usize],
    other: &[f32],
    out_shape: &[usize],
    act: (f32, f32),
) {
    let f = binary_fn_f32(op);
    if acc_is_a {
        for_each_broadcast(out_shape, other_shape, out_shape, |o, _, ib| {
            acc[o] = clamp_f32(f(acc[o], other[ib]), act.0, act.1);
        });
    } else {
        for_each_broadcast(other_shape, out_shape, out_shape, |o, ia, _| {
            acc[o] = clamp_f32(f(other[ia], acc[o]), act.0, act.1);
        });
    }
}

/// `x << shift` for `shift` in `0..=31`, saturated to i32.
#[inline]
fn shl_sat(x: i32, shift: i32) -> i32 {
    ((x as i64) << shift.clamp(0, 31)).clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

#[inline]
fn add_sub_i8(q: &BinaryQuant, sub: bool, x: i8, y: i8, act: (i8, i8)) -> i8 {
    let xs = q.a.apply(shl_sat(
        (x as i32).saturating_sub(q.a_zero_point),
        q.left_shift,
    ));
    let ys = q.b.apply(shl_sat(
        (y as i32).saturating_sub(q.b_zero_point),
        q.left_shift,
    ));
    let s = if sub {
        xs.saturating_sub(ys)
    } else {
        xs.saturating_add(ys)
    };
    // `requantize_i8(s, q.out, q.out_zero_point, act)` written out: as an argument the zero
    // point is read before the multiply, whose 64-bit product is a library call on ARMv6-M, and
    // keeping it live across that call costs two instructions per element there.
    clamp_i8(q.out.apply(s).saturating_add(q.out_zero_point), act)
}

#[inline]
fn mul_i8(q: &BinaryQuant, x: i8, y: i8, act: (i8, i8)) -> i8 {
    let p = (x as i32)
        .saturating_sub(q.a_zero_point)
        .saturating_mul((y as i32).saturating_sub(q.b_zero_point));
    requantize_i8(p, q.out, q.out_zero_point, act)
}

#[inline]
fn div_i8(q: &BinaryQuant, x: i8, y: i8, act: (i8, i8)) -> i8 {
    let n = (x as i64 - q.a_zero_point as i64) << q.left_shift.clamp(0, 24);
    let d = y as i64 - q.b_zero_point as i64;
    if d == 0 {
        let v = if n > 0 {
            127
        } else if n < 0 {
            -128
        } else {
            q.out_zero_point
        };
        return clamp_i8(v, act);
    }
    // n / d rounded half away from zero.
    let (na, da) = (n.unsigned_abs(), d.unsigned_abs());
    let t = (2 * na + da) / (2 * da);
    let t = if (n < 0) != (d < 0) {
        -(t as i64)
    } else {
        t as i64
    };
    let t = t.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
    requantize_i8(t, q.out, q.out_zero_point, act)
}

/// One int8 element of `op`; a single function so each kernel instantiates the walk once.
fn binary_elem_i8(op: BinaryOp, q: &BinaryQuant, x: i8, y: i8, act: (i8, i8)) -> i8 {
    match op {
        BinaryOp::Add => add_sub_i8(q, false, x, y, act),
        BinaryOp::Sub => add_sub_i8(q, true, x, y, act),
        BinaryOp::Mul => mul_i8(q, x, y, act),
        BinaryOp::Div => div_i8(q, x, y, act),
    }
}

/// Quantized `out = a <op> b` with broadcasting (see the module doc for the shapes), TFLite
/// arithmetic; `q` comes from [`BinaryQuant::new`], `act` is the quantized fused-activation clamp.
///
/// With `za, zb, zo` the zero points and `ls = q.left_shift`:
/// * Add / Sub: `a' = q.a.apply((a - za) << ls)`, `b' = q.b.apply((b - zb) << ls)`,
///   `out = requantize_i8(a' ± b', q.out, zo, act)`.
/// * Mul: `out = requantize_i8((a - za) * (b - zb), q.out, zo, act)`.
/// * Div: with `d = b - zb`: if `d == 0`, `out = clamp(127 if a > za, -128 if a < za, zo if
///   a == za; act)`; otherwise `t = ((a - za) << ls) / d` rounded half away from zero and
///   `out = requantize_i8(t, q.out, zo, act)`.
///
/// `Requant::apply` rounds half away from zero (TFLite `MultiplyByQuantizedMultiplier`); all
/// intermediate arithmetic is integer and saturating, so out-of-range parameters cannot panic.
#[allow(clippy::too_many_arguments)]
pub fn binary_i8(
    op: BinaryOp,
    q: &BinaryQuant,
    a_shape: &[usize],
    a: &[i8],
    b_shape: &[usize],
    b: &[i8],
    out_shape: &[usize],
    out: &mut [i8],
    act: (i8, i8),
) {
    for_each_broadcast(a_shape, b_shape, out_shape, |o, ia, ib| {
        out[o] = binary_elem_i8(op, q, a[ia], b[ib], act)
    });
}

/// [`binary_i8`] computed in place: `acc` has `out_shape` and holds operand `a` (if
/// `acc_is_a`) or operand `b` (otherwise); `other` is the remaining operand, of `other_shape`.
/// Same bytes as [`binary_i8`].
#[allow(clippy::too_many_arguments)]
pub fn binary_inplace_i8(
    op: BinaryOp,
    q: &BinaryQuant,
    acc_is_a: bool,
    acc: &mut [i8],
    other_shape: &[usize],
    other: &[i8],
    out_shape: &[usize],
    act: (i8, i8),
) {
    if acc_is_a {
        for_each_broadcast(out_shape, other_shape, out_shape, |o, _, ib| {
            acc[o] = binary_elem_i8(op, q, acc[o], other[ib], act)
        })
    } else {
        for_each_broadcast(other_shape, out_shape, out_shape, |o, ia, _| {
            acc[o] = binary_elem_i8(op, q, other[ia], acc[o], act)
        })
    }
}

/// Elements from which [`binary_tabled_i8`] takes the tables: below it, filling them (512
/// terms) costs more than it saves.
pub const TABLES_MIN_LEN: usize = 128;

/// The operands' terms of int8 Add / Sub tabulated by operand byte, so that an element costs two
/// loads and an add before the output stage: `a[x]` is [`binary_i8`]'s
/// `q.a.apply((x - za) << ls)` and `b[y]` its `q.b.apply((y - zb) << ls)`, negated for Sub.
///
/// Each entry is the reference's value (see [`AddSubTerms::fill`]), so the tables are exact.
/// Their sum equals the reference's saturating `a' + b'` (or `a' - b'`) when every entry lies
/// strictly within `±2^30`: then no sum and no negation overflows. `fill` checks that; the
/// parameters [`BinaryQuant::new`] makes always pass (`|x - z| <= 255` shifted by 20 stays below
/// `2^28`, and both operand multipliers are at most 0.5).
///
/// 2 KB: the interpreter fills one in the op's planned scratch ([`AddSubTerms::in_scratch`]);
/// the reference-signature entry points keep one on the stack.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct AddSubTerms {
    a: [i32; 256],
    b: [i32; 256],
}

impl Default for AddSubTerms {
    fn default() -> AddSubTerms {
        AddSubTerms {
            a: [0; 256],
            b: [0; 256],
        }
    }
}

/// `r.apply(shl_sat(x - zero_point, left_shift))` for the int8 value `x`, or `None` where the
/// shortcut below does not hold.
///
/// Where the shift cannot saturate (`left_shift <= 23` with `|x - zero_point| <= 255`) and `r`
/// has no left shift, `apply` is the doubling high multiply then the rounding shift, and the
/// high multiply of a non-negative multiplier is `floor((x * m + 2^30) / 2^31)` for either sign
/// of the product (its nudge with a truncating division lands on the same integer): one 64-bit
/// product. The parameters [`BinaryQuant::new`] makes for Add and Sub always qualify.
#[inline(always)]
fn add_sub_term(r: Requant, zero_point: i32, left_shift: i32, x: i32) -> Option<i32> {
    let d = x.saturating_sub(zero_point);
    if !((0..=23).contains(&left_shift)
        && r.shift <= 0
        && r.multiplier >= 0
        && (-255..=255).contains(&d))
    {
        return None;
    }
    let high = ((((d << left_shift) as i64) * r.multiplier as i64 + (1 << 30)) >> 31) as i32;
    Some(rounding_divide_by_pot(high, -r.shift))
}

impl AddSubTerms {
    /// Bytes of scratch a same-shape int8 Add or Sub of `len` elements takes for its tables:
    /// `size_of::<AddSubTerms>()` from [`TABLES_MIN_LEN`] elements on, else 0. A property of the
    /// op and the shape, so the converter plans it for every target.
    pub fn scratch_bytes(op: BinaryOp, same_shape: bool, len: usize) -> usize {
        if matches!(op, BinaryOp::Add | BinaryOp::Sub) && same_shape && len >= TABLES_MIN_LEN {
            core::mem::size_of::<AddSubTerms>()
        } else {
            0
        }
    }

    /// The tables in the first bytes of `scratch`, `None` when it is shorter than
    /// [`AddSubTerms`] or not 4-byte aligned (then the reference kernel runs).
    pub fn in_scratch(scratch: &mut [u8]) -> Option<&mut AddSubTerms> {
        bytemuck::try_from_bytes_mut(scratch.get_mut(..core::mem::size_of::<AddSubTerms>())?).ok()
    }

    /// Fills the tables for a call of [`binary_i8`] and returns `true` when the call can take
    /// them: `op` is Add or Sub, both operands have the output's shape of at least
    /// [`TABLES_MIN_LEN`] elements, and every term takes the shortcut of `add_sub_term` and lies
    /// within `±2^30`.
    pub fn fill(
        &mut self,
        op: BinaryOp,
        q: &BinaryQuant,
        a_shape: &[usize],
        b_shape: &[usize],
        out_shape: &[usize],
    ) -> bool {
        let sub = match op {
            BinaryOp::Add => false,
            BinaryOp::Sub => true,
            BinaryOp::Mul | BinaryOp::Div => return false,
        };
        if a_shape != out_shape
            || b_shape != out_shape
            || out_shape.iter().product::<usize>() < TABLES_MIN_LEN
        {
            return false;
        }
        const LIMIT: i32 = 1 << 30;
        for (v, (ta, tb)) in self.a.iter_mut().zip(self.b.iter_mut()).enumerate() {
            let x = v as u8 as i8 as i32;
            let (Some(a), Some(b)) = (
                add_sub_term(q.a, q.a_zero_point, q.left_shift, x),
                add_sub_term(q.b, q.b_zero_point, q.left_shift, x),
            ) else {
                return false;
            };
            if !(-LIMIT < a && a < LIMIT && -LIMIT < b && b < LIMIT) {
                return false;
            }
            *ta = a;
            *tb = if sub { -b } else { b };
        }
        true
    }

    /// The tables as one array: operand a's 256 terms, then operand b's.
    pub fn as_ptr(&self) -> *const i32 {
        self.a.as_ptr()
    }

    /// `a' ± b'` for element `x` of operand a and `y` of operand b, before the output stage.
    #[inline(always)]
    pub fn sum(&self, x: i8, y: i8) -> i32 {
        self.a[x as u8 as usize] + self.b[y as u8 as usize]
    }
}

/// `out[i] = clamp_i8(q.out.apply(terms.sum(a[i], b[i])) + zo, act)` for `i < n`.
///
/// # Safety
/// `a` and `b` are readable and `out` writable for `n` elements; `out` may be `a` or `b` (each
/// element is read before it is written), the ranges may not overlap otherwise.
#[inline(never)]
unsafe fn add_sub_tabled(
    terms: &AddSubTerms,
    q: &BinaryQuant,
    a: *const i8,
    b: *const i8,
    out: *mut i8,
    n: usize,
    act: (i8, i8),
) {
    for i in 0..n {
        // SAFETY: `i < n`, the caller's ranges.
        unsafe {
            let s = terms.sum(*a.add(i), *b.add(i));
            *out.add(i) = clamp_i8(q.out.apply(s).saturating_add(q.out_zero_point), act);
        }
    }
}

/// [`binary_i8`]'s contract and bytes, filling `terms`: same-shape Add and Sub of at least
/// [`TABLES_MIN_LEN`] elements run through [`AddSubTerms`], everything else through
/// [`binary_i8`].
#[allow(clippy::too_many_arguments)]
pub fn binary_tabled_i8_with(
    terms: &mut AddSubTerms,
    op: BinaryOp,
    q: &BinaryQuant,
    a_shape: &[usize],
    a: &[i8],
    b_shape: &[usize],
    b: &[i8],
    out_shape: &[usize],
    out: &mut [i8],
    act: (i8, i8),
) {
    if terms.fill(op, q, a_shape, b_shape, out_shape) {
        let n = out.len().min(a.len()).min(b.len());
        // SAFETY: three distinct slices of at least `n` elements.
        unsafe { add_sub_tabled(terms, q, a.as_ptr(), b.as_ptr(), out.as_mut_ptr(), n, act) }
    } else {
        binary_i8(op, q, a_shape, a, b_shape, b, out_shape, out, act)
    }
}

/// [`binary_i8`]'s signature, contract and bytes, through [`binary_tabled_i8_with`] with the
/// tables on the stack (what the conformance suites call).
#[allow(clippy::too_many_arguments)]
pub fn binary_tabled_i8(
    op: BinaryOp,
    q: &BinaryQuant,
    a_shape: &[usize],
    a: &[i8],
    b_shape: &[usize],
    b: &[i8],
    out_shape: &[usize],
    out: &mut [i8],
    act: (i8, i8),
) {
    binary_tabled_i8_with(&mut AddSubTerms::default(), op, q, a_shape, a, b_shape, b, out_shape, out, act)
}

/// [`binary_inplace_i8`]'s contract and bytes, filling `terms`, through [`AddSubTerms`] where
/// [`binary_tabled_i8_with`] takes them.
#[allow(clippy::too_many_arguments)]
pub fn binary_inplace_tabled_i8_with(
    terms: &mut AddSubTerms,
    op: BinaryOp,
    q: &BinaryQuant,
    acc_is_a: bool,
    acc: &mut [i8],
    other_shape: &[usize],
    other: &[i8],
    out_shape: &[usize],
    act: (i8, i8),
) {
    if terms.fill(op, q, other_shape, out_shape, out_shape) {
        let n = acc.len().min(other.len());
        let (acc, other) = (acc.as_mut_ptr(), other.as_ptr());
        let (a, b) = if acc_is_a {
            (acc as *const i8, other)
        } else {
            (other, acc as *const i8)
        };
        // SAFETY: `acc` and `other` are distinct slices of at least `n` elements; the output is
        // the accumulator, one of the operands.
        unsafe { add_sub_tabled(terms, q, a, b, acc, n, act) }
    } else {
        binary_inplace_i8(op, q, acc_is_a, acc, other_shape, other, out_shape, act)
    }
}

/// [`binary_inplace_i8`]'s signature, contract and bytes, through
/// [`binary_inplace_tabled_i8_with`] with the tables on the stack (what the conformance suites
/// call).
#[allow(clippy::too_many_arguments)]
pub fn binary_inplace_tabled_i8(
    op: BinaryOp,
    q: &BinaryQuant,
    acc_is_a: bool,
    acc: &mut [i8],
    other_shape: &[usize],
    other: &[i8],
    out_shape: &[usize],
    act: (i8, i8),
) {
    binary_inplace_tabled_i8_with(&mut AddSubTerms::default(), op, q, acc_is_a, acc, other_shape, other, out_shape, act)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    #[test]
    fn binary_f32_known_values() {
        let none = (f32::NEG_INFINITY, f32::INFINITY);
        let mut out = [0.0f32; 3];
        binary_f32(
            BinaryOp::Add,
            &[3],
            &[1.0, 2.0, 3.0],
            &[1],
            &[10.0],
            &[3],
            &mut out,
            none,
        );
        assert_eq!(out, [11.0, 12.0, 13.0]);
        let mut out = [0.0f32; 6];
        binary_f32(
            BinaryOp::Sub,
            &[2, 1],
            &[10.0, 20.0],
            &[1, 3],
            &[1.0, 2.0, 3.0],
            &[2, 3],
            &mut out,
            none,
        );
        assert_eq!(out, [9.0, 8.0, 7.0, 19.0, 18.0, 17.0]);
        let mut out = [0.0f32; 4];
        binary_f32(
            BinaryOp::Mul,
            &[4],
            &[-2.0, -1.0, 1.0, 3.0],
            &[4],
            &[1.0, 1.0, 2.0, 2.5],
            &[4],
            &mut out,
            (0.0, 6.0),
        );
        assert_eq!(out, [0.0, 0.0, 2.0, 6.0]);
        let mut out = [0.0f32; 4];
        binary_f32(
            BinaryOp::Div,
            &[4],
            &[1.0, -1.0, 0.0, 3.0],
            &[1],
            &[0.0],
            &[4],
            &mut out,
            none,
        );
        assert_eq!(out[..2], [f32::INFINITY, f32::NEG_INFINITY]);
        assert!(out[2].is_nan());
        binary_f32(
            BinaryOp::Div,
            &[4],
            &[1.0, -1.0, 0.0, 3.0],
            &[1],
            &[0.0],
            &[4],
            &mut out,
            (0.0, 6.0),
        );
        assert_eq!(out[..2], [6.0, 0.0]);
        assert!(out[2].is_nan());
        let mut acc = [1.0f32, 2.0, 3.0, 4.0];
        binary_inplace_f32(BinaryOp::Sub, false, &mut acc, &[1], &[10.0], &[4], none);
        assert_eq!(acc, [9.0, 8.0, 7.0, 6.0]);
    }

    /// The shortcut of `add_sub_term` against the reference's expression, at the edges of its
    /// domain: every byte, zero points at both ends, headroom shifts up to 23, multipliers from
    /// the smallest to `0.99` (and zero), ties of the final shift included.
    #[test]
    fn add_sub_term_is_the_reference_term() {
        let mut requants = vec![
            Requant {
                multiplier: 0,
                shift: 0,
            },
            Requant {
                multiplier: i32::MAX,
                shift: 0,
            },
            Requant {
                multiplier: 1 << 30,
                shift: -31,
            },
        ];
        requants
            .extend((0..400).map(|i| quantize_multiplier(libm::pow(2.0, -0.1 * i as f64 - 0.01))));
        let mut checked = 0;
        for r in requants {
            for zero_point in [-128, -127, -1, 0, 1, 64, 126, 127] {
                for left_shift in [0, 1, 7, 20, 22, 23] {
                    for x in -128..=127 {
                        let want = r.apply(shl_sat(x - zero_point, left_shift));
                        assert_eq!(
                            add_sub_term(r, zero_point, left_shift, x),
                            Some(want),
                            "{r:?} zp {zero_point} ls {left_shift} x {x}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 4_000_000);
        // Outside the shortcut's domain: no term (the reference kernel runs).
        assert_eq!(
            add_sub_term(
                Requant {
                    multiplier: 1 << 30,
                    shift: 1
                },
                0,
                20,
                5
            ),
            None
        );
        assert_eq!(add_sub_term(Requant::ONE, 0, 24, 5), None);
        assert_eq!(add_sub_term(quantize_multiplier(0.25), 200, 20, -128), None);
    }

    #[test]
    fn binary_quant_new_known_values() {
        let p = |scale, zero_point| QParams { scale, zero_point };
        let q = BinaryQuant::new(BinaryOp::Add, p(1.0, 1), p(0.5, 2), p(0.25, 3));
        assert_eq!(
            (
                q.a_zero_point,
                q.b_zero_point,
                q.out_zero_point,
                q.left_shift
            ),
            (1, 2, 3, 20)
        );
        assert_eq!(q.a, quantize_multiplier(0.5));
        assert_eq!(q.b, quantize_multiplier(0.25));
        assert_eq!(q.out, quantize_multiplier(2.0 / (1048576.0 * 0.25)));
        let q = BinaryQuant::new(BinaryOp::Mul, p(0.5, 0), p(0.5, 0), p(0.125, 0));
        assert_eq!(
            (q.left_shift, q.a, q.b, q.out),
            (0, Requant::ONE, Requant::ONE, quantize_multiplier(2.0))
        );
        let q = BinaryQuant::new(BinaryOp::Div, p(1.0, 0), p(0.5, 0), p(0.5, 0));
        assert_eq!(
            (q.left_shift, q.out),
            (16, quantize_multiplier(4.0 / 65536.0))
        );
    }

    #[test]
    fn binary_i8_known_values() {
        let one = QParams {
            scale: 1.0,
            zero_point: 0,
        };
        let full = (-128, 127);
        let run = |op, qa, qb, qo, a: &[i8], b: &[i8], act| {
            let q = BinaryQuant::new(op, qa, qb, qo);
            let mut out = vec![0i8; a.len()];
            binary_i8(
                op,
                &q,
                &[a.len()],
                a,
                &[b.len()],
                b,
                &[a.len()],
                &mut out,
                act,
            );
            out
        };
        assert_eq!(
            run(
                BinaryOp::Add,
                one,
                one,
                one,
                &[3, 100, -100],
                &[4, 100, -100],
                full
            ),
            [7, 127, -128]
        );
        assert_eq!(
            run(
                BinaryOp::Sub,
                one,
                one,
                one,
                &[3, -100, 5],
                &[4, 100, 5],
                full
            ),
            [-1, -128, 0]
        );
        assert_eq!(
            run(
                BinaryOp::Add,
                one,
                one,
                one,
                &[3, -5, 50],
                &[4, 2, 50],
                (0, 60)
            ),
            [7, 0, 60]
        );
        let half = QParams {
            scale: 0.5,
            zero_point: 0,
        };
        let quarter = QParams {
            scale: 0.25,
            zero_point: 0,
        };
        // (1.5 * 2.0) / 0.25 = 12
        assert_eq!(
            run(BinaryOp::Mul, half, half, quarter, &[3, -3], &[4, 4], full),
            [12, -12]
        );
        // Zero points: a = (13 - 10) * 1, b = (-1 - (-5)) * 1 -> 3 * 4 = 12, + zo 7 = 19
        let za = QParams {
            scale: 1.0,
            zero_point: 10,
        };
        let zb = QParams {
            scale: 1.0,
            zero_point: -5,
        };
        let zo = QParams {
            scale: 1.0,
            zero_point: 7,
        };
        assert_eq!(run(BinaryOp::Mul, za, zb, zo, &[13], &[-1], full), [19]);
        assert_eq!(run(BinaryOp::Add, za, zb, zo, &[13], &[-1], full), [14]);
        // 10 / 4 = 2.5 -> 3 (half away from zero); 9 / 4 = 2.25 -> 2.
        assert_eq!(
            run(
                BinaryOp::Div,
                one,
                one,
                one,
                &[10, -10, 9, -9],
                &[4, 4, 4, 4],
                full
            ),
            [3, -3, 2, -2]
        );
        // so = 43690.75 / (2^16 * 10.5): t = round(2 * 2^16 / 3) = 43691 and the output is
        // t * 10.5 / 43690.75 = 10.50006 -> 11 (a truncated t = 43690 would give 10.49994 -> 10).
        let so = QParams {
            scale: (43690.75 / 688128.0) as f32,
            zero_point: 0,
        };
        assert_eq!(
            run(BinaryOp::Div, one, one, so, &[2, -2], &[3, 3], full),
            [11, -11]
        );
        // Division by zero: saturate by the sign of the numerator, zero point for 0 / 0.
        assert_eq!(
            run(BinaryOp::Div, one, one, zo, &[5, -5, 0], &[0, 0, 0], full),
            [127, -128, 7]
        );
        assert_eq!(
            run(
                BinaryOp::Div,
                one,
                one,
                zo,
                &[5, -5, 0],
                &[0, 0, 0],
                (0, 100)
            ),
            [100, 0, 7]
        );
        // In place, accumulator holding b.
        let q = BinaryQuant::new(BinaryOp::Sub, one, one, one);
        let mut acc = [1i8, 2, 3];
        binary_inplace_i8(BinaryOp::Sub, &q, false, &mut acc, &[1], &[10], &[3], full);
        assert_eq!(acc, [9, 8, 7]);
    }
}
