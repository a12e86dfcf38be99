//! Conformance suites: one per kernel contract, for every implementation of it.
//!
//! A kernel's contract is the doc comment of its reference in [`crate::kernels`]: its
//! arithmetic, rounding, clamp and NaN rule. A suite draws cases (shapes, zero points,
//! multipliers, activations, data) from a seed, runs the kernel under test on each, and compares
//! every output element with an oracle computed on the fly from the definition (i64 / i128 for
//! integer contracts, f64 for float ones) — never with the reference kernel. Integer contracts
//! are compared exactly; float ones exactly where the contract fixes the value (elementwise
//! arithmetic, clamps, max, data movement; any NaN meets any NaN, and a zero a zero of either
//! sign) and otherwise within the tolerance the reference kernel's doc states. The first differing element ends the suite with a [`Mismatch`] that
//! names the case and the element.
//!
//! Each suite is a function taking the kernel (a `fn` of the reference's exact signature) and
//! [`Cases`]; it returns `Ok(())` or the first [`Mismatch`]. The reference kernels run every
//! suite in this crate's tests (`tests/conformance.rs`), over thousands of cases.
//!
//! # Adding a variant
//! A faster kernel (Arm DSP, Helium, RISC-V P, …) keeps the reference's signature, so its suite
//! is one line. On the host, in the variant's crate or in this one (dev-dependency on
//! `mote-runtime` with the `conformance` feature):
//!
//! ```ignore
//! use mote_runtime::conformance::{self, Cases};
//!
//! #[test]
//! fn conv2d_i8_dsp_conforms() {
//!     conformance::conv2d_i8(my_kernels::conv2d_i8_dsp, Cases::new(1, 2000)).unwrap();
//! }
//! ```
//!
//! In firmware, on the target or under QEMU: the module is `no_std` and allocates nothing (each
//! suite keeps one case in fixed-size buffers on the stack, 5.8 KB for the largest,
//! `conv2d_f32`), so enable `features = ["conformance"]` and call the same function from `main`,
//! reporting the result through the firmware's exit code:
//!
//! ```ignore
//! match conformance::conv2d_i8(conv2d_i8_dsp, Cases::new(1, 200)) {
//!     Ok(()) => exit(0),
//!     Err(m) => { defmt::error!("{}", defmt::Display2Format(&m)); exit(1) }
//! }
//! ```
//!
//! `examples/conformance-firmware` does exactly this for every suite against the reference
//! kernels, on a Cortex-M4F and on Cortex-M0 code under QEMU. A mismatch prints its suite, case
//! and element, and [`Cases::only`] reruns that one case.
//!
//! # Coverage
//! Categorical choices (operator, activation, zero-point signs, multipliers below or above 1,
//! per-tensor or per-channel requantization, bias or not, grouping, padding, broadcasting mode,
//! NaN inputs, …) cycle from case to case, so any run of as many consecutive cases as a
//! choice has values covers all of them (at most 6 for every suite); sizes and data are drawn
//! at random. Shapes are small (a few hundred elements) and bounded per suite.

// A `Mismatch` is returned by value (no heap to box it in), once per failing suite.
#![allow(clippy::result_large_err)]

mod binary;
mod conv;
mod fully_connected;
mod pool;
mod quantize;
mod resize;
mod shape;
mod softmax;
mod unary;

pub use binary::{binary_f32, binary_i8, binary_inplace_f32, binary_inplace_i8};
pub use conv::{conv2d_f32, conv2d_i8};
pub use fully_connected::{fully_connected_f32, fully_connected_i8, fully_connected_q15_i8};
pub use pool::{avg_pool2d_f32, avg_pool2d_i8, global_avg_pool_f32, global_avg_pool_i8, max_pool2d_f32, max_pool2d_i8};
pub use quantize::{dequantize_i8_f32, quantize_f32_i8};
pub use resize::{resize_bilinear_f32, resize_bilinear_i8, resize_nearest};
pub use shape::{concat, pad, slice, transpose, Element};
pub use softmax::{softmax_f32, softmax_i8};
pub use unary::{lut_i8, lut_inplace_i8, unary_f32, unary_inplace_f32};

use crate::kernels::conv::Conv2dParams;
use crate::kernels::elementwise::{BinaryOp, BinaryQuant};
use crate::kernels::fully_connected::FcParams;
use crate::kernels::pool::Pool2dParams;
use crate::kernels::resize::{NearestRound, ResizeParams};
use crate::kernels::activation::UnaryOp;
use crate::quant::{QParams, Requant};
use crate::tensor::MAX_RANK;

/// Which cases a suite runs: `count` cases from number `first`, all drawn from `seed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cases {
    pub seed: u64,
    pub first: u32,
    pub count: u32,
}

impl Cases {
    /// Cases `0..count` of `seed`.
    pub const fn new(seed: u64, count: u32) -> Cases {
        Cases { seed, first: 0, count }
    }

    /// Case `case` of `seed` alone: reruns what a [`Mismatch`] reports.
    pub const fn only(seed: u64, case: u32) -> Cases {
        Cases { seed, first: case, count: 1 }
    }

    /// Calls `f` on every case with the draw that defines it.
    fn each(self, mut f: impl FnMut(&mut Draw) -> Result<(), Mismatch>) -> Result<(), Mismatch> {
        for case in self.first..self.first.saturating_add(self.count) {
            f(&mut Draw::new(self.seed, case))?;
        }
        Ok(())
    }
}

/// The first output element of a case that breaks the contract.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mismatch {
    /// The suite (the contract's kernel name), e.g. `"conv2d_i8"`.
    pub suite: &'static str,
    /// The seed and the case number: [`Cases::only`] reruns it.
    pub seed: u64,
    pub case: u32,
    /// What the case was.
    pub params: Params,
    /// Row-major index of the element in the output.
    pub index: usize,
    pub got: f64,
    pub want: f64,
    /// The allowed `|got - want|`; 0 for an exact contract (then NaN must meet NaN).
    pub tolerance: f64,
}

impl core::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} breaks its contract in case {} of seed {} ({:?}): out[{}] = {}, want {}", self.suite, self.case, self.seed, self.params, self.index, self.got, self.want)?;
        if self.tolerance > 0.0 {
            write!(f, " ± {:e}", self.tolerance)?;
        }
        write!(f, "; rerun with Cases::only({}, {})", self.seed, self.case)
    }
}

/// A fused-activation clamp as the case passed it: real bounds for f32 kernels, quantized ones
/// for int8 kernels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    F32(f32, f32),
    I8(i8, i8),
    /// The kernel takes no activation.
    NoAct,
}

/// The int8 quantization of a Conv2d / FullyConnected case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Int8Params {
    pub x_zero_point: i32,
    pub out_zero_point: i32,
    /// 1 (per tensor) or the output channel count (per channel).
    pub requants: usize,
    /// The smallest and largest requant shift (positive shifts: multipliers of 1 and more).
    pub shifts: (i32, i32),
}

/// Dimensions, printed as a list.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Dims {
    len: usize,
    dims: [usize; MAX_RANK],
}

impl Dims {
    /// `None` when there are more than `MAX_RANK` dimensions.
    pub fn new(dims: &[usize]) -> Option<Dims> {
        let mut d = Dims { len: dims.len(), dims: [0; MAX_RANK] };
        d.dims.get_mut(..dims.len())?.copy_from_slice(dims);
        Some(d)
    }

    pub fn as_slice(&self) -> &[usize] {
        &self.dims[..self.len]
    }

    fn numel(&self) -> usize {
        self.as_slice().iter().product()
    }
}

impl core::fmt::Debug for Dims {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.as_slice().fmt(f)
    }
}

/// Which operand an in-place kernel accumulates into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InPlace {
    No,
    OverA,
    OverB,
}

/// Everything that defines a case but its data (which the seed and case number give).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Params {
    Conv2d { p: Conv2dParams, bias: bool, act: Act, int8: Option<Int8Params> },
    FullyConnected { p: FcParams, bias: bool, act: Act, int8: Option<Int8Params> },
    Binary { op: BinaryOp, a: Dims, b: Dims, out: Dims, act: Act, quant: Option<BinaryQuant>, in_place: InPlace },
    /// `op` is `None` for a lookup table.
    Unary { op: Option<UnaryOp>, len: usize },
    Pool2d { p: Pool2dParams, act: Act },
    GlobalAvgPool { n: usize, hw: usize, c: usize, act: Act },
    Softmax { rows: usize, n: usize, beta: f32, out_zero_point: i32, out_inv_q16: u32 },
    Resize { p: ResizeParams, round: Option<NearestRound> },
    Concat { axis: usize, inputs: usize, out: Dims },
    Slice { input: Dims, begin: Dims, step: Dims, out: Dims },
    Transpose { input: Dims, perm: Dims },
    Pad { input: Dims, before: Dims, out: Dims },
    Quantize { q: QParams, len: usize },
}

/// One case's random source: SplitMix64 seeded from the suite's seed and the case number, and
/// the cycling categorical choices (see the module docs).
pub(crate) struct Draw {
    case: u32,
    seed: u64,
    salt: u64,
    state: u64,
}

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn splitmix(z: u64) -> u64 {
    mix(z.wrapping_add(GOLDEN))
}

impl Draw {
    fn new(seed: u64, case: u32) -> Draw {
        Draw { case, seed, salt: 0, state: splitmix(seed ^ splitmix(case as u64)) }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// One of `n` categories. Each call site takes them in turn from case to case (from an
    /// offset that depends on the seed), so `n` consecutive cases see every one.
    fn cycle(&mut self, n: usize) -> usize {
        self.salt += 1;
        let offset = splitmix(self.seed ^ self.salt.wrapping_mul(0x2545_f491_4f6c_dd1d)) % n as u64;
        ((self.case as u64 % n as u64 + offset) % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    fn size(&mut self, lo: usize, hi: usize) -> usize {
        self.int(lo as i64, hi as i64) as usize
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn f32_in(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit() as f32
    }

    fn i8(&mut self) -> i8 {
        self.next() as i8
    }

    /// A zero point of the given sign category: 0 negative, 1 zero, 2 positive.
    fn zero_point(&mut self, sign: usize) -> i32 {
        match sign {
            0 => self.int(-128, -1) as i32,
            1 => 0,
            _ => self.int(1, 127) as i32,
        }
    }

    /// An f32 fused-activation clamp: none, Relu, Relu6, a random interval or crossed bounds.
    fn act_f32(&mut self) -> (f32, f32) {
        match self.cycle(5) {
            0 => (f32::NEG_INFINITY, f32::INFINITY),
            1 => (0.0, f32::INFINITY),
            2 => (0.0, 6.0),
            3 => (self.f32_in(-8.0, 0.0), self.f32_in(0.0, 8.0)),
            _ => {
                let (a, b) = (self.f32_in(-8.0, 8.0), self.f32_in(-8.0, 8.0));
                (a.max(b), a.min(b))
            }
        }
    }

    /// An int8 fused-activation clamp: none, Relu at `zero_point`, Relu6-like, a random interval
    /// around `zero_point` or crossed bounds.
    fn act_i8(&mut self, zero_point: i32) -> (i8, i8) {
        let zp = zero_point.clamp(-128, 127) as i8;
        match self.cycle(5) {
            0 => (-128, 127),
            1 => (zp, 127),
            2 => (zp, self.int(zp as i64, 127) as i8),
            3 => (self.int(-128, zp as i64) as i8, self.int(zp as i64, 127) as i8),
            _ => {
                let (a, b) = (self.i8(), self.i8());
                (a.max(b), a.min(b))
            }
        }
    }

    /// A requantization multiplier of the given category: 0 below 1 (`1e-4..1e-2`, negative
    /// shifts), 1 from 1 up (`1..16`, positive shifts), 2 either (`1e-3..4`).
    fn requant(&mut self, category: usize) -> Requant {
        let (lo, hi) = match category {
            0 => (-4.0, -2.0),
            1 => (0.0, 1.2),
            _ => (-3.0, 0.6),
        };
        crate::quant::quantize_multiplier(libm::pow(10.0, lo + (hi - lo) * self.unit()))
    }

    /// Operands of an int8 weighted op for a requant category, sized so that its outputs are
    /// neither all saturated nor all zero: full-range `x` and weights for multipliers below 1,
    /// `x` within 3 of its zero point, weights within ±4 and a small bias for multipliers from 1
    /// up (some outputs still saturate), weights within ±32 for the mixed category.
    fn int8_operands(&mut self, category: usize, x_zero_point: i32, x: &mut [i8], w: &mut [i8], bias: &mut [i32]) {
        let (w_max, b_max) = match category {
            0 => (128, 40_000),
            1 => (4, 30),
            _ => (32, 2_000),
        };
        for v in x.iter_mut() {
            *v = if category == 1 { (x_zero_point as i64 + self.int(-3, 3)).clamp(-128, 127) as i8 } else { self.i8() };
        }
        w.iter_mut().for_each(|v| *v = self.int(-w_max, w_max - 1).max(-128) as i8);
        bias.iter_mut().for_each(|v| *v = self.int(-b_max, b_max) as i32);
    }
}

/// The error of one case, for the comparisons.
struct Ctx {
    suite: &'static str,
    seed: u64,
    case: u32,
    params: Params,
}

impl Ctx {
    fn new(suite: &'static str, d: &Draw, params: Params) -> Ctx {
        Ctx { suite, seed: d.seed, case: d.case, params }
    }

    fn mismatch(&self, index: usize, got: f64, want: f64, tolerance: f64) -> Mismatch {
        Mismatch { suite: self.suite, seed: self.seed, case: self.case, params: self.params, index, got, want, tolerance }
    }

    /// Integers, exactly.
    fn exact(&self, index: usize, got: i64, want: i64) -> Result<(), Mismatch> {
        if got == want { Ok(()) } else { Err(self.mismatch(index, got as f64, want as f64, 0.0)) }
    }

    /// Floats bit for bit, except that any NaN meets any NaN and a zero meets a zero of either
    /// sign (NaN payloads and the sign of a zero are not part of any contract: LLVM may fold a
    /// compare-and-select against 0.0 into one that returns the other zero).
    fn same_f32(&self, index: usize, got: f32, want: f32) -> Result<(), Mismatch> {
        if got == want || (got.is_nan() && want.is_nan()) {
            Ok(())
        } else {
            Err(self.mismatch(index, got as f64, want as f64, 0.0))
        }
    }

    /// `|got - want| <= tolerance`; a NaN or infinite `want` must be met exactly.
    fn close(&self, index: usize, got: f32, want: f64, tolerance: f64) -> Result<(), Mismatch> {
        self.close_f64(index, got as f64, want, tolerance)
    }

    fn close_f64(&self, index: usize, got: f64, want: f64, tolerance: f64) -> Result<(), Mismatch> {
        let ok = if want.is_nan() {
            got.is_nan()
        } else if want.is_infinite() {
            got == want
        } else {
            (got - want).abs() <= tolerance
        };
        if ok { Ok(()) } else { Err(self.mismatch(index, got, want, tolerance)) }
    }
}

/// The contract's f32 clamp, in f64: `lo` below `lo`, then `hi` above `hi`; NaN passes.
fn clamp_f64(v: f64, lo: f64, hi: f64) -> f64 {
    let v = if v < lo { lo } else { v };
    if v > hi {
        hi
    } else {
        v
    }
}

/// The contract's int8 clamp: `max(lo)` then `min(hi)`.
fn clamp_i64(v: i64, (lo, hi): (i8, i8)) -> i64 {
    v.max(lo as i64).min(hi as i64)
}

/// TFLite's `MultiplyByQuantizedMultiplier` from its definition, in i64: a left shift by
/// `max(shift, 0)` saturated to i32, the doubling high multiply `x * m / 2^31` rounded half up,
/// then a division by `2^max(-shift, 0)` rounded half away from zero.
fn requant_ref(x: i64, rq: Requant) -> i64 {
    let x = (x << rq.shift.clamp(0, 31)).clamp(i32::MIN as i64, i32::MAX as i64);
    let m = rq.multiplier as i64;
    let high = if x == i32::MIN as i64 && m == i32::MIN as i64 { i32::MAX as i64 } else { (x * m + (1 << 30)).div_euclid(1 << 31) };
    let right = (-rq.shift).clamp(0, 31);
    if right == 0 {
        high
    } else {
        let q = (high.abs() + (1 << (right - 1))) >> right;
        if high < 0 { -q } else { q }
    }
}

/// `round(num / den)`, ties away from zero, exactly (`den != 0`).
fn div_round_away(num: i64, den: i64) -> i64 {
    let q = (2 * num.abs() + den.abs()) / (2 * den.abs());
    if (num < 0) != (den < 0) { -q } else { q }
}

/// Row-major multi-index of flat index `i` in `shape`.
fn unravel(mut i: usize, shape: &[usize]) -> [usize; MAX_RANK] {
    let mut idx = [0; MAX_RANK];
    for k in (0..shape.len()).rev() {
        idx[k] = i % shape[k].max(1);
        i /= shape[k].max(1);
    }
    idx
}

/// Flat index of multi-index `idx` in `shape`.
fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::quantize_multiplier;

    #[test]
    fn requant_ref_is_the_runtime_requant() {
        let mut d = Draw::new(3, 0);
        for k in 0..20_000 {
            let rq = d.requant(k % 3);
            let x = d.int(-(1 << 31), (1 << 31) - 1);
            assert_eq!(requant_ref(x, rq), rq.apply(x as i32) as i64, "x={x} {rq:?}");
        }
        // 5 * 0.25 = 1.25 -> 2: the high multiply rounds 2.5 up to 3, the shift 1.5 away to 2
        // (TFLite's double rounding).
        for (x, r, want) in [(59, 0.5, 30), (-101, 0.5, -50), (-3, 0.5, -1), (3, 0.5, 2), (5, 0.25, 2), (-6, 0.25, -2)] {
            assert_eq!(requant_ref(x, quantize_multiplier(r)), want, "{x} * {r}");
        }
    }

    #[test]
    fn cycles_cover_every_category_in_n_cases() {
        for seed in 0..50 {
            let mut seen = [false; 5];
            for case in 10..15 {
                seen[Draw::new(seed, case).cycle(5)] = true;
            }
            assert!(seen.iter().all(|&s| s));
        }
    }
}
