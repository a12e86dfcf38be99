//! Format v2, pinned by a golden file; v1 files are rejected with a clear error.
//!
//! [`build`] writes, through the `std` writer API, one model that holds every op kind and every
//! variant of every attribute enum (`UnaryOp`, `BinaryOp`, `PoolKind`, `Activation`,
//! `ResizeMode`, `CoordTransform`, `NearestRound`), int8 and f32, per-tensor and per-channel
//! weights, constants and arena tensors, in-place ops and int8 kernels with scratch. The file it
//! wrote and the bytes of its outputs for [`input`] are committed beside this test
//! (`tests/golden/v2.mote`, `v2.out`):
//!
//! 1. the committed file loads;
//! 2. the generator rebuilds it byte for byte;
//! 3. running it gives the committed output bytes.
//!
//! A failure of 2 means the bytes a writer produces changed: that is a format change (see
//! `FORMAT.md`, "Versioning"), never something to regenerate. A failure of 3 means a kernel's
//! results changed.
//!
//! The files are frozen. A variant appended to an enum (a new op, say) gets its own generator
//! and files beside these, listed in [`GOLDEN`]; the coverage test takes their union.
//! `MOTE_GOLDEN_WRITE=1` writes the files of every generator, for a new one only.

use std::path::PathBuf;

use mote_runtime::format::writer::{AlignedBytes, ModelBuilder};
use mote_runtime::kernels::softmax::{softmax_exp_table, softmax_out_inv_q16};
use mote_runtime::ops::unary::build_lut_i8;
use mote_runtime::ops::*;
use mote_runtime::quant::{quantize_multiplier, QParams};
use mote_runtime::tensor::Quant;
use mote_runtime::{DType, Interpreter, Model, TensorId};

/// SplitMix64: the deterministic contents of every constant and of the input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `n` values in `[-amp, amp)`, multiples of `amp / 2^23` (exact in f32).
    fn f32s(&mut self, n: usize, amp: f32) -> Vec<f32> {
        (0..n).map(|_| ((self.next() >> 40) as f32 / (1u32 << 23) as f32 - 1.0) * amp).collect()
    }

    /// `n` symmetric int8 weights in `[-127, 127]`.
    fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| (self.next() % 255) as i32 - 127).map(|v| v as i8).collect()
    }

    fn i32s(&mut self, n: usize, amp: i32) -> Vec<i32> {
        (0..n).map(|_| (self.next() % (2 * amp as u64 + 1)) as i32 - amp).collect()
    }
}

const X_SHAPE: [u32; 4] = [1, 4, 4, 3];

/// The fixed input: 48 values in `[-2, 2)`.
fn input() -> Vec<f32> {
    Rng(0x5eed).f32s(48, 2.0)
}

fn pt(scale: f32, zero_point: i32) -> Quant {
    Quant::PerTensor { scale, zero_point }
}

fn qp(q: Quant) -> QParams {
    match q {
        Quant::PerTensor { scale, zero_point } => QParams { scale, zero_point },
        _ => unreachable!("activations are quantized per tensor"),
    }
}

/// Builds the golden model. Every constant comes from a fixed seed, every int8 parameter from
/// the runtime's host-side helpers, as the converter computes them.
fn build() -> Vec<u8> {
    let mut r = Rng(1);
    let mut b = ModelBuilder::new("golden-v2");
    b.converter_version("mote golden generator").source_sha256([0xa5; 32]).labels(&["first", "second"]);
    let f = DType::F32;
    let none = Quant::None;
    let x = b.input("x", f, &X_SHAPE, none).unwrap();

    // ---- f32 ----
    let w1 = b.constant_f32("w1", &[4, 3, 3, 3], &r.f32s(108, 0.5)).unwrap();
    let b1 = b.constant_f32("b1", &[4], &r.f32s(4, 0.5)).unwrap();
    let c1 = b.activation("c1", f, &[1, 4, 4, 4], none).unwrap();
    b.op(OpKind::Conv2d { stride: [1, 1], dilation: [1, 1], pad: [1, 1, 1, 1], groups: 1, act: Activation::Relu }, &[x, w1, b1], c1).unwrap();
    let w2 = b.constant_f32("w2", &[8, 3, 3, 1], &r.f32s(72, 1.0)).unwrap();
    let c2 = b.activation("c2", f, &[1, 2, 2, 8], none).unwrap();
    let clip = Activation::Clip { lo: -0.5, hi: 1.5 };
    b.op(OpKind::Conv2d { stride: [2, 2], dilation: [1, 1], pad: [1, 1, 1, 1], groups: 4, act: clip }, &[c1, w2], c2).unwrap();
    let w3 = b.constant_f32("w3", &[4, 2, 2, 2], &r.f32s(32, 1.0)).unwrap();
    let b3 = b.constant_f32("b3", &[4], &r.f32s(4, 0.5)).unwrap();
    let c3 = b.activation("c3", f, &[1, 2, 3, 4], none).unwrap();
    b.op(OpKind::Conv2d { stride: [1, 1], dilation: [2, 2], pad: [0, 1, 0, 0], groups: 2, act: Activation::Relu6 }, &[c1, w3, b3], c3).unwrap();

    let p1 = b.activation("p1", f, &[1, 2, 2, 4], none).unwrap();
    let avg = |kernel, stride, pad, count_include_pad, act| OpKind::Pool2d { kind: PoolKind::Avg, kernel, stride, pad, count_include_pad, act };
    b.op(avg([2, 2], [2, 2], [0, 0, 1, 1], true, Activation::None), &[c1], p1).unwrap();
    let p2 = b.activation("p2", f, &[1, 4, 4, 4], none).unwrap();
    let max = OpKind::Pool2d { kind: PoolKind::Max, kernel: [3, 3], stride: [1, 1], pad: [1, 1, 1, 1], count_include_pad: false, act: Activation::Clip { lo: 0.1, hi: 2.0 } };
    b.op(max, &[c1], p2).unwrap();
    // Rows -3..-1 of the first window row lie wholly in the padding.
    let p3 = b.activation("p3", f, &[1, 4, 4, 4], none).unwrap();
    b.op(avg([3, 2], [2, 1], [3, 0, 2, 1], false, Activation::Relu), &[c1], p3).unwrap();

    let g = b.activation("g", f, &[1, 8], none).unwrap();
    b.op(OpKind::GlobalAvgPool { act: Activation::Relu6 }, &[c2], g).unwrap();
    let wf = b.constant_f32("wf", &[5, 8], &r.f32s(40, 2.0)).unwrap();
    let bf = b.constant_f32("bf", &[5], &r.f32s(5, 0.5)).unwrap();
    let fc = b.activation("fc", f, &[1, 5], none).unwrap();
    b.op(OpKind::FullyConnected { act: Activation::None }, &[g, wf, bf], fc).unwrap();
    let sm = b.activation("softmax", f, &[1, 5], none).unwrap();
    b.op(OpKind::Softmax { beta: 0.75, out_inv_q16: 0 }, &[fc], sm).unwrap();

    // Binary, each in place over its arena operand (slot 0, then slot 1, then slot 0).
    let bin = |op, act| OpKind::Binary { op, act, quant: None };
    let ba = b.constant_f32("ba", &[4], &r.f32s(4, 1.0)).unwrap();
    let a1 = b.activation("a1", f, &[1, 2, 2, 4], none).unwrap();
    b.op(bin(BinaryOp::Add, Activation::None), &[p1, ba], a1).unwrap();
    let bs = b.constant_f32("bs", &[1], &[1.5]).unwrap();
    let a2 = b.activation("a2", f, &[1, 2, 2, 4], none).unwrap();
    b.op(bin(BinaryOp::Sub, Activation::Relu), &[bs, a1], a2).unwrap();
    let bm = b.constant_f32("bm", &[1, 1, 1, 4], &[0.5, -1.0, 2.0, 3.0]).unwrap();
    let a3 = b.activation("a3", f, &[1, 2, 2, 4], none).unwrap();
    b.op(bin(BinaryOp::Mul, Activation::Relu6), &[a2, bm], a3).unwrap();
    // A zero divisor: x / 0 gives ±inf, 0 / 0 NaN, and both pass through unclamped.
    let bd = b.constant_f32("bd", &[1, 2, 1, 1], &[0.0, -2.5]).unwrap();
    let a4 = b.activation("a4", f, &[1, 2, 2, 4], none).unwrap();
    b.op(bin(BinaryOp::Div, Activation::None), &[a3, bd], a4).unwrap();

    // Unary, in place after the first.
    let one = b.constant_f32("one", &[1], &[1.0]).unwrap();
    let d1 = b.activation("d1", f, &[1, 4, 4, 4], none).unwrap();
    b.op(bin(BinaryOp::Sub, Activation::None), &[p2, one], d1).unwrap();
    let mut t = d1;
    for (name, op) in [("relu", UnaryOp::Relu), ("relu6", UnaryOp::Relu6), ("exp", UnaryOp::Exp), ("sigmoid", UnaryOp::Sigmoid), ("clip", UnaryOp::Clip { lo: 0.6, hi: 0.95 })] {
        let u = b.activation(name, f, &[1, 4, 4, 4], none).unwrap();
        b.op(OpKind::Unary { op }, &[t], u).unwrap();
        t = u;
    }
    let unary_out = t;

    // Data movement.
    let sl = b.activation("sl", f, &[1, 2, 2, 2], none).unwrap();
    b.op(OpKind::Slice { begin: heapless::Vec::from_slice(&[0, 0, 1, 0]).unwrap(), step: heapless::Vec::from_slice(&[1, 1, 1, 2]).unwrap() }, &[c3], sl).unwrap();
    let cat = b.activation("cat", f, &[1, 2, 2, 10], none).unwrap();
    b.op(OpKind::Concat { axis: 3 }, &[sl, c2], cat).unwrap();
    let tr = b.activation("tr", f, &[1, 10, 2, 2], none).unwrap();
    b.op(OpKind::Transpose { perm: heapless::Vec::from_slice(&[0, 3, 1, 2]).unwrap() }, &[cat], tr).unwrap();
    let pd = b.activation("pd", f, &[1, 11, 4, 3], none).unwrap();
    let pad = |before: [u32; 4], after: [u32; 4], value| OpKind::Pad { before: heapless::Vec::from_slice(&before).unwrap(), after: heapless::Vec::from_slice(&after).unwrap(), value };
    b.op(pad([0, 1, 0, 1], [0, 0, 2, 0], 0.25), &[tr], pd).unwrap();
    let rs = b.activation("rs", f, &[1, 132], none).unwrap();
    b.op(OpKind::Reshape, &[pd], rs).unwrap();

    // Resize: every nearest rounding and every coordinate transform, bilinear twice; the six
    // results flattened (Reshape, in place) and concatenated into one output.
    let resizes: [(TensorId, [u32; 4], ResizeMode, CoordTransform); 6] = [
        (c1, [1, 7, 6, 4], ResizeMode::Nearest(NearestRound::RoundPreferFloor), CoordTransform::HalfPixel),
        (c3, [1, 5, 4, 4], ResizeMode::Bilinear, CoordTransform::AlignCorners),
        (c2, [1, 3, 5, 8], ResizeMode::Nearest(NearestRound::RoundPreferCeil), CoordTransform::PytorchHalfPixel),
        (c1, [1, 3, 2, 4], ResizeMode::Nearest(NearestRound::Floor), CoordTransform::AlignCorners),
        (c3, [1, 5, 5, 4], ResizeMode::Nearest(NearestRound::Ceil), CoordTransform::Asymmetric),
        (c1, [1, 6, 3, 4], ResizeMode::Bilinear, CoordTransform::HalfPixel),
    ];
    let mut flat = vec![];
    for (i, (src, dims, mode, coord)) in resizes.into_iter().enumerate() {
        let rz = b.activation(&format!("rz{i}"), f, &dims, none).unwrap();
        b.op(OpKind::Resize { mode, coord }, &[src], rz).unwrap();
        let n = dims.iter().product::<u32>();
        let fl = b.activation(&format!("rz{i}_flat"), f, &[1, n], none).unwrap();
        b.op(OpKind::Reshape, &[rz], fl).unwrap();
        flat.push((fl, n));
    }
    let total = flat.iter().map(|&(_, n)| n).sum::<u32>();
    let rz_all = b.activation("resized", f, &[1, total], none).unwrap();
    b.op(OpKind::Concat { axis: 1 }, &flat.iter().map(|&(t, _)| t).collect::<Vec<_>>(), rz_all).unwrap();

    // ---- int8 ----
    let i8t = DType::I8;
    let qx = pt(4.0 / 255.0, -3);
    let xq = b.activation("xq", i8t, &X_SHAPE, qx).unwrap();
    b.op(OpKind::Quantize, &[x], xq).unwrap();

    // Per-channel conv; bias and requant as the converter computes them.
    let qc1 = pt(0.05, -100);
    let ws1 = [0.01f32, 0.02, 0.015, 0.03];
    let ws1_region = b.per_channel_scales(&ws1);
    let qw1 = b.constant_i8("qw1", &[4, 3, 3, 3], Quant::PerChannel { axis: 0, scales: ws1_region }, &r.i8s(108)).unwrap();
    let qb1 = b.constant_i32("qb1", &[4], &r.i32s(4, 2000)).unwrap();
    let rq = |b: &mut ModelBuilder, name: &str, x: Quant, ws: &[f32], y: Quant| {
        let flat: Vec<i32> = ws.iter().flat_map(|&s| {
            let m = quantize_multiplier(qp(x).scale as f64 * s as f64 / qp(y).scale as f64);
            [m.multiplier, m.shift]
        }).collect();
        b.constant_i32(name, &[ws.len() as u32, 2], &flat).unwrap()
    };
    let rq1 = rq(&mut b, "rq1", qx, &ws1, qc1);
    let qc1t = b.activation("qc1", i8t, &[1, 4, 4, 4], qc1).unwrap();
    b.op(OpKind::Conv2d { stride: [1, 1], dilation: [1, 1], pad: [1, 1, 1, 1], groups: 1, act: Activation::Relu }, &[xq, qw1, qb1, rq1], qc1t).unwrap();
    // Per-tensor depthwise conv, multiplier 2.
    let qc2 = pt(0.25, 5);
    let qw2 = b.constant_i8("qw2", &[8, 3, 3, 1], pt(0.02, 0), &r.i8s(72)).unwrap();
    let qb2 = b.constant_i32("qb2", &[8], &r.i32s(8, 500)).unwrap();
    let rq2 = rq(&mut b, "rq2", qc1, &[0.02], qc2);
    let qc2t = b.activation("qc2", i8t, &[1, 2, 2, 8], qc2).unwrap();
    b.op(OpKind::Conv2d { stride: [2, 2], dilation: [1, 1], pad: [1, 1, 1, 1], groups: 4, act: Activation::Relu }, &[qc1t, qw2, qb2, rq2], qc2t).unwrap();

    let qp1 = b.activation("qp1", i8t, &[1, 2, 2, 4], qc1).unwrap();
    b.op(avg([2, 2], [2, 2], [0, 0, 1, 1], false, Activation::None), &[qc1t], qp1).unwrap();
    let qp2 = b.activation("qp2", i8t, &[1, 4, 4, 4], qc1).unwrap();
    let qmax = OpKind::Pool2d { kind: PoolKind::Max, kernel: [3, 3], stride: [1, 1], pad: [1, 1, 1, 1], count_include_pad: false, act: Activation::Relu };
    b.op(qmax, &[qc1t], qp2).unwrap();
    let qp3 = b.activation("qp3", i8t, &[1, 3, 3, 4], qc1).unwrap();
    b.op(avg([2, 2], [1, 1], [0, 0, 0, 0], true, Activation::Clip { lo: -3.0, hi: 4.0 }), &[qc1t], qp3).unwrap();

    let qg = b.activation("qg", i8t, &[1, 1, 1, 8], qc2).unwrap();
    b.op(OpKind::GlobalAvgPool { act: Activation::None }, &[qc2t], qg).unwrap();
    let qfc = pt(0.02, 10);
    let wsf: Vec<f32> = (0..5).map(|i| 0.004 + 0.002 * i as f32).collect();
    let wsf_region = b.per_channel_scales(&wsf);
    let qwf = b.constant_i8("qwf", &[5, 8], Quant::PerChannel { axis: 0, scales: wsf_region }, &r.i8s(40)).unwrap();
    let qbf = b.constant_i32("qbf", &[5], &r.i32s(5, 3000)).unwrap();
    let rqf = rq(&mut b, "rqf", qc2, &wsf, qfc);
    let qfct = b.activation("qfc", i8t, &[1, 1, 1, 5], qfc).unwrap();
    b.op(OpKind::FullyConnected { act: Activation::Clip { lo: -1.0, hi: 1.0 } }, &[qg, qwf, qbf, rqf], qfct).unwrap();
    let qsm = pt(1.0 / 256.0, -128);
    let table = b.constant_i32("exp_table", &[256], &softmax_exp_table(1.0, qp(qfc).scale)).unwrap();
    let qsmt = b.activation("qsoftmax", i8t, &[1, 1, 1, 5], qsm).unwrap();
    let inv = softmax_out_inv_q16(qp(qsm).scale).unwrap();
    b.op(OpKind::Softmax { beta: 1.0, out_inv_q16: inv }, &[qfct, table], qsmt).unwrap();

    // Binary int8, in place as the f32 chain; the divisor holds its zero point (division by zero).
    let qbin = |op, act, a: Quant, bq: Quant, y: Quant| OpKind::Binary { op, act, quant: Some(BinaryQuant::new(op, qp(a), qp(bq), qp(y))) };
    let (qca, qcs, qcm, qcd) = (pt(0.04, 3), pt(0.1, 0), pt(0.05, -7), pt(0.25, 2));
    let (qa1, qa2, qa3, qa4) = (pt(0.06, -20), pt(0.05, -30), pt(0.08, -128), pt(0.1, 0));
    let ka = b.constant_i8("qba", &[4], qca, &r.i8s(4)).unwrap();
    let qa1t = b.activation("qa1", i8t, &[1, 2, 2, 4], qa1).unwrap();
    b.op(qbin(BinaryOp::Add, Activation::None, qc1, qca, qa1), &[qp1, ka], qa1t).unwrap();
    let ks = b.constant_i8("qbs", &[1], qcs, &[50]).unwrap();
    let qa2t = b.activation("qa2", i8t, &[1, 2, 2, 4], qa2).unwrap();
    b.op(qbin(BinaryOp::Sub, Activation::Relu, qcs, qa1, qa2), &[ks, qa1t], qa2t).unwrap();
    let km = b.constant_i8("qbm", &[1, 1, 1, 4], qcm, &[-5, 10, 20, 30]).unwrap();
    let qa3t = b.activation("qa3", i8t, &[1, 2, 2, 4], qa3).unwrap();
    b.op(qbin(BinaryOp::Mul, Activation::Relu6, qa2, qcm, qa3), &[qa2t, km], qa3t).unwrap();
    let kd = b.constant_i8("qbd", &[1, 2, 1, 1], qcd, &[2, -9]).unwrap();
    let qa4t = b.activation("qa4", i8t, &[1, 2, 2, 4], qa4).unwrap();
    b.op(qbin(BinaryOp::Div, Activation::None, qa3, qcd, qa4), &[qa3t, kd], qa4t).unwrap();

    // Unary int8 through lookup tables, in place after the first.
    let (qu1, qu2) = (pt(1.0 / 256.0, -128), pt(0.02, -50));
    let lut1 = b.constant_i8("lut_sigmoid", &[256], qu1, &build_lut_i8(UnaryOp::Sigmoid, qp(qc1), qp(qu1))).unwrap();
    let qu1t = b.activation("qsigmoid", i8t, &[1, 4, 4, 4], qu1).unwrap();
    b.op(OpKind::Unary { op: UnaryOp::Sigmoid }, &[qp2, lut1], qu1t).unwrap();
    let lut2 = b.constant_i8("lut_exp", &[256], qu2, &build_lut_i8(UnaryOp::Exp, qp(qu1), qp(qu2))).unwrap();
    let qu2t = b.activation("qexp", i8t, &[1, 4, 4, 4], qu2).unwrap();
    b.op(OpKind::Unary { op: UnaryOp::Exp }, &[qu1t, lut2], qu2t).unwrap();

    // Data movement int8.
    let v = |s: &[u32]| heapless::Vec::from_slice(s).unwrap();
    let qsl1 = b.activation("qsl1", i8t, &[1, 1, 2, 3], qc2).unwrap();
    b.op(OpKind::Slice { begin: v(&[0, 1, 0, 1]), step: v(&[1, 1, 1, 3]) }, &[qc2t], qsl1).unwrap();
    let qsl2 = b.activation("qsl2", i8t, &[1, 1, 2, 2], qc2).unwrap();
    b.op(OpKind::Slice { begin: v(&[0, 0, 0, 0]), step: v(&[1, 1, 1, 4]) }, &[qc2t], qsl2).unwrap();
    let qcat = b.activation("qcat", i8t, &[1, 1, 2, 5], qc2).unwrap();
    b.op(OpKind::Concat { axis: 3 }, &[qsl1, qsl2], qcat).unwrap();
    let qtr = b.activation("qtr", i8t, &[5, 1, 2, 1], qc2).unwrap();
    b.op(OpKind::Transpose { perm: heapless::Vec::from_slice(&[3, 1, 2, 0]).unwrap() }, &[qcat], qtr).unwrap();
    let qpd = b.activation("qpd", i8t, &[6, 1, 3, 3], qc2).unwrap();
    b.op(pad([1, 0, 0, 0], [0, 0, 1, 2], -0.3), &[qtr], qpd).unwrap();
    let qrs = b.activation("qrs", i8t, &[2, 27], qc2).unwrap();
    b.op(OpKind::Reshape, &[qpd], qrs).unwrap();

    let qrz1 = b.activation("qrz1", i8t, &[1, 6, 5, 4], qc1).unwrap();
    b.op(OpKind::Resize { mode: ResizeMode::Bilinear, coord: CoordTransform::HalfPixel }, &[qc1t], qrz1).unwrap();
    let qrz2 = b.activation("qrz2", i8t, &[1, 3, 3, 8], qc2).unwrap();
    b.op(OpKind::Resize { mode: ResizeMode::Nearest(NearestRound::RoundPreferFloor), coord: CoordTransform::Asymmetric }, &[qc2t], qrz2).unwrap();
    let dq = b.activation("dq", f, &[1, 6, 5, 4], none).unwrap();
    b.op(OpKind::Dequantize, &[qrz1], dq).unwrap();

    for o in [sm, a4, unary_out, p3, rs, rz_all, qsmt, qa4t, qu2t, qp3, qrs, qrz2, dq] {
        b.output(o);
    }
    b.finish().unwrap()
}

/// A golden model's file name under `tests/golden/` and its generator.
type Golden = (&'static str, fn() -> Vec<u8>);

/// Every golden model.
const GOLDEN: &[Golden] = &[("v2", build), ("fc_q15", build_fc_q15)];

/// Three int8 FullyConnected layers, the first two (`k` 48 and 12) with their weights in the
/// `fc-q15` layout (a LAYOUTS section), the last (`k` 6) in the reference layout: the packed
/// encoding pinned as `v2` pins the rest. `packed: false` builds the same graph with every
/// weight in the reference layout, which must compute the same bytes.
fn fc_q15_graph(packed: bool) -> Vec<u8> {
    use mote_runtime::format::Layout;
    let mut r = Rng(7);
    let mut b = ModelBuilder::new("fc_q15");
    let (i8t, none) = (DType::I8, Quant::None);
    let x = b.input("x", DType::F32, &[1, 48], none).unwrap();
    let qx = pt(4.0 / 255.0, -3);
    let xq = b.activation("xq", i8t, &[1, 48], qx).unwrap();
    b.op(OpKind::Quantize, &[x], xq).unwrap();
    let mut prev = (xq, qx, 48u32);
    let layers: [(u32, Activation, bool, Quant); 3] = [
        (12, Activation::Relu, true, pt(0.05, -20)),
        (6, Activation::None, false, pt(0.1, 7)),
        (5, Activation::Relu6, true, pt(0.03, -128)),
    ];
    for (i, (n, act, per_channel, qy)) in layers.into_iter().enumerate() {
        let (xt, qxl, k) = prev;
        let ws: Vec<f32> = if per_channel { (0..n).map(|c| 0.002 + 0.001 * c as f32).collect() } else { vec![0.004] };
        let quant = if per_channel { Quant::PerChannel { axis: 0, scales: b.per_channel_scales(&ws) } } else { pt(ws[0], 0) };
        let values = r.i8s((n * k) as usize);
        let layout = if packed && k % 4 == 0 { Layout::FcQ15 } else { Layout::Reference };
        let w = b.constant_i8_packed(&format!("w{i}"), &[n, k], quant, &values, layout).unwrap();
        let bias = b.constant_i32(&format!("b{i}"), &[n], &r.i32s(n as usize, 4000)).unwrap();
        let flat: Vec<i32> = ws
            .iter()
            .flat_map(|&s| {
                let m = quantize_multiplier(qp(qxl).scale as f64 * s as f64 / qp(qy).scale as f64);
                [m.multiplier, m.shift]
            })
            .collect();
        let rq = b.constant_i32(&format!("rq{i}"), &[ws.len() as u32, 2], &flat).unwrap();
        let y = b.activation(&format!("fc{i}"), i8t, &[1, n], qy).unwrap();
        b.op(OpKind::FullyConnected { act }, &[xt, w, bias, rq], y).unwrap();
        prev = (y, qy, n);
    }
    let out = b.activation("y", DType::F32, &[1, 5], none).unwrap();
    b.op(OpKind::Dequantize, &[prev.0], out).unwrap();
    b.output(out);
    b.finish().unwrap()
}

fn build_fc_q15() -> Vec<u8> {
    fc_q15_graph(true)
}

/// The packed file lists its two packed weights in a required LAYOUTS section, stores them
/// widened (twice the bytes) and computes exactly the reference layout's bytes.
#[test]
fn fc_q15_layout_computes_the_reference_layouts_bytes() {
    use mote_runtime::format::Layout;
    let (packed, reference) = (fc_q15_graph(true), fc_q15_graph(false));
    let (pa, ra) = (AlignedBytes::new(&packed), AlignedBytes::new(&reference));
    let (pm, rm) = (Model::from_bytes(&pa).unwrap(), Model::from_bytes(&ra).unwrap());
    let layouts: Vec<(String, Layout)> = (0..pm.tensor_count() as TensorId).map(|t| (pm.tensor(t).unwrap().name.to_string(), pm.layout(t))).filter(|(_, l)| *l != Layout::Reference).collect();
    assert_eq!(layouts, [("w0".to_string(), Layout::FcQ15), ("w1".to_string(), Layout::FcQ15)]);
    let stored = |m: &Model<'_>, t: TensorId| match m.tensor(t).unwrap().storage {
        mote_runtime::tensor::Storage::Const(r) => r.len,
        _ => 0,
    };
    let w0 = (0..pm.tensor_count() as TensorId).find(|&t| pm.tensor(t).unwrap().name == "w0").unwrap();
    assert_eq!((stored(&pm, w0), stored(&rm, w0)), (2 * 12 * 48, 12 * 48));
    assert!((0..rm.tensor_count() as TensorId).all(|t| rm.layout(t) == Layout::Reference));
    assert_eq!(run(&packed), run(&reference));
}

fn golden_path(name: &str, ext: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{name}.{ext}"))
}

/// The bytes of every graph output, in output order, concatenated.
fn run(file: &[u8]) -> Vec<u8> {
    let bytes = AlignedBytes::new(file);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    let mut it = Interpreter::new(&model, &mut arena).unwrap();
    it.set_input_f32(0, &input()).unwrap();
    it.invoke().unwrap();
    (0..model.outputs().len()).flat_map(|i| it.output_bytes(i).unwrap().to_vec()).collect()
}

/// Which variant of every attribute enum the model uses, so that a variant left out (or a new
/// one, which fails to compile here) is noticed.
fn coverage(model: &Model<'_>) -> Vec<String> {
    let mut seen: Vec<String> = vec![];
    let mut mark = |s: String| {
        if !seen.contains(&s) {
            seen.push(s);
        }
    };
    let act = |a: &Activation| match a {
        Activation::None => "Activation::None",
        Activation::Relu => "Activation::Relu",
        Activation::Relu6 => "Activation::Relu6",
        Activation::Clip { .. } => "Activation::Clip",
    };
    for op in model.ops() {
        let dtype = model.tensor(op.output).unwrap().dtype;
        mark(format!("{} {dtype:?}", op.kind.code()));
        match &op.kind {
            OpKind::Conv2d { act: a, .. } | OpKind::FullyConnected { act: a } | OpKind::GlobalAvgPool { act: a } => mark(act(a).into()),
            OpKind::Binary { op, act: a, .. } => {
                mark(format!("BinaryOp::{op:?} {dtype:?}"));
                mark(act(a).into());
            }
            OpKind::Pool2d { kind, act: a, .. } => {
                mark(format!("PoolKind::{kind:?} {dtype:?}"));
                mark(act(a).into());
            }
            OpKind::Unary { op } => mark(match op {
                UnaryOp::Relu => "UnaryOp::Relu".into(),
                UnaryOp::Relu6 => "UnaryOp::Relu6".into(),
                UnaryOp::Clip { .. } => "UnaryOp::Clip".into(),
                UnaryOp::Sigmoid => "UnaryOp::Sigmoid".into(),
                UnaryOp::Exp => "UnaryOp::Exp".into(),
            }),
            OpKind::Resize { mode, coord } => {
                mark(match mode {
                    ResizeMode::Nearest(r) => format!("NearestRound::{r:?}"),
                    ResizeMode::Bilinear => format!("ResizeMode::Bilinear {dtype:?}"),
                });
                mark(format!("CoordTransform::{coord:?}"));
            }
            OpKind::Softmax { .. } | OpKind::Concat { .. } | OpKind::Slice { .. } | OpKind::Reshape | OpKind::Transpose { .. } | OpKind::Pad { .. } | OpKind::Quantize | OpKind::Dequantize => {}
        }
    }
    seen
}

#[test]
fn golden_files() {
    for &(name, generator) in GOLDEN {
        let built = generator();
        if std::env::var_os("MOTE_GOLDEN_WRITE").is_some() {
            std::fs::write(golden_path(name, "mote"), &built).unwrap();
            std::fs::write(golden_path(name, "out"), run(&built)).unwrap();
        }
        let committed = std::fs::read(golden_path(name, "mote")).unwrap();
        let expected = std::fs::read(golden_path(name, "out")).unwrap();

        // 1. The committed file loads.
        let aligned = AlignedBytes::new(&committed);
        let model = Model::from_bytes(&aligned).unwrap();
        // 2. Today's writer produces it byte for byte.
        assert_eq!(built.len(), committed.len(), "{name}: the writer's output changed length: a format change");
        if let Some(at) = built.iter().zip(&committed).position(|(a, b)| a != b) {
            panic!("{name}: the writer's output differs from tests/golden/{name}.mote at byte {at}: a format change");
        }
        // 3. It computes the committed bytes.
        let got = run(&committed);
        assert_eq!(got.len(), expected.len());
        let mut start = 0;
        for (i, &id) in model.outputs().iter().enumerate() {
            let t = model.tensor(id).unwrap();
            let end = start + t.byte_len().unwrap() as usize;
            if let Some(at) = (start..end).find(|&k| got[k] != expected[k]) {
                panic!("{name}: output {i} ({}) differs at byte {}: got {:?}, want {:?}", t.name, at - start, &got[at..end.min(at + 4)], &expected[at..end.min(at + 4)]);
            }
            start = end;
        }
    }
}

/// The version 1 file of the same graph (before ops had a scratch region) is refused with the
/// version error, and version 2 computes the bytes it did.
#[test]
fn version_1_is_refused_and_version_2_computes_its_outputs() {
    let v1 = std::fs::read(golden_path("v1", "mote")).unwrap();
    let err = Model::from_bytes(&AlignedBytes::new(&v1)).unwrap_err();
    assert_eq!(err, mote_runtime::FormatError::UnsupportedVersion { found: 1, supported: 2 });
    assert!(err.to_string().contains("convert the model again"), "{err}");
    assert_eq!(std::fs::read(golden_path("v1", "out")).unwrap(), std::fs::read(golden_path("v2", "out")).unwrap());
}

#[test]
fn golden_covers_every_op_and_attribute_variant() {
    let files: Vec<AlignedBytes> = GOLDEN.iter().map(|(name, _)| AlignedBytes::new(&std::fs::read(golden_path(name, "mote")).unwrap())).collect();
    let models: Vec<Model<'_>> = files.iter().map(|f| Model::from_bytes(f).unwrap()).collect();
    let seen: Vec<String> = models.iter().flat_map(coverage).collect();
    let mut want: Vec<String> = vec![];
    for code in ["Conv2d", "FullyConnected", "Binary", "Pool2d", "GlobalAvgPool", "Unary", "Softmax", "Concat", "Slice", "Reshape", "Transpose", "Pad", "Resize"] {
        want.push(format!("{code} F32"));
        want.push(format!("{code} I8"));
    }
    want.extend(["Quantize I8".into(), "Dequantize F32".into()]);
    for op in ["Add", "Sub", "Mul", "Div"] {
        want.push(format!("BinaryOp::{op} F32"));
        want.push(format!("BinaryOp::{op} I8"));
    }
    for k in ["Avg", "Max"] {
        want.push(format!("PoolKind::{k} F32"));
        want.push(format!("PoolKind::{k} I8"));
    }
    want.extend(["None", "Relu", "Relu6", "Clip"].map(|a| format!("Activation::{a}")));
    want.extend(["Relu", "Relu6", "Clip", "Sigmoid", "Exp"].map(|u| format!("UnaryOp::{u}")));
    want.extend(["RoundPreferFloor", "RoundPreferCeil", "Floor", "Ceil"].map(|r| format!("NearestRound::{r}")));
    want.extend(["HalfPixel", "PytorchHalfPixel", "AlignCorners", "Asymmetric"].map(|c| format!("CoordTransform::{c}")));
    want.extend(["ResizeMode::Bilinear F32".into(), "ResizeMode::Bilinear I8".into()]);
    let missing: Vec<&String> = want.iter().filter(|w| !seen.contains(w)).collect();
    assert!(missing.is_empty(), "the golden model lacks {missing:?}");

    // Per-tensor and per-channel weights, constants and arena tensors, in-place ops: in v1.
    let model = &models[0];
    let tensors: Vec<_> = (0..model.tensor_count()).map(|i| model.tensor(i as TensorId).unwrap()).collect();
    assert!(tensors.iter().any(|t| matches!(t.quant, Quant::PerChannel { .. })));
    assert!(tensors.iter().any(|t| t.dtype == DType::I8 && matches!(t.storage, mote_runtime::tensor::Storage::Const(_)) && matches!(t.quant, Quant::PerTensor { .. })));
    let offset = |id: TensorId| match model.tensor(id).unwrap().storage {
        mote_runtime::tensor::Storage::Arena { offset, .. } => Some(offset),
        mote_runtime::tensor::Storage::Const(_) => None,
    };
    let in_place: Vec<OpCode> = model.ops().filter(|op| op.inputs.iter().any(|&i| offset(i).is_some() && offset(i) == offset(op.output))).map(|op| op.kind.code()).collect();
    for code in [OpCode::Binary, OpCode::Unary, OpCode::Reshape] {
        assert!(in_place.contains(&code), "no in-place {code}: {in_place:?}");
    }
    // In v2: the int8 kernels' scratch.
    let scratched: Vec<OpCode> = model.ops().filter(|op| op.scratch.len > 0).map(|op| op.kind.code()).collect();
    assert!(scratched.contains(&OpCode::Conv2d) && scratched.contains(&OpCode::FullyConnected), "{scratched:?}");
}

/// The discriminant tables of `FORMAT.md`, `(enum, number, variant)`.
fn format_md_discriminants() -> Vec<(String, u32, String)> {
    let text = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("FORMAT.md")).unwrap();
    let mut table = String::new();
    let mut rows = vec![];
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("#### ") {
            table = name.trim().to_string();
        } else if line.starts_with("## ") || line.starts_with("### ") {
            table.clear();
        } else if !table.is_empty() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if let (Some(n), Some(v)) = (cells.get(1).and_then(|c| c.parse::<u32>().ok()), cells.get(2)) {
                rows.push((table.clone(), n, v.trim_matches('`').to_string()));
            }
        }
    }
    rows
}

/// Every variant's stored discriminant (postcard's first varint) is the one `FORMAT.md` lists.
#[test]
fn format_md_lists_every_discriminant() {
    use mote_runtime::tensor::{Region, Storage};
    fn first<T: serde::Serialize>(v: &T) -> u32 {
        let bytes = postcard::to_stdvec(v).unwrap();
        postcard::take_from_bytes::<u32>(&bytes).unwrap().0
    }
    let v = |s: &[u32]| heapless::Vec::from_slice(s).unwrap();
    let act = Activation::None;
    let region = Region { offset: 0, len: 4 };
    let mut got: Vec<(String, u32, String)> = vec![];
    let mut add = |table: &str, n: u32, variant: &str| got.push((table.to_string(), n, variant.to_string()));
    let ops = [
        OpKind::Conv2d { stride: [1, 1], dilation: [1, 1], pad: [0; 4], groups: 1, act },
        OpKind::FullyConnected { act },
        OpKind::Binary { op: BinaryOp::Add, act, quant: None },
        OpKind::Pool2d { kind: PoolKind::Avg, kernel: [1, 1], stride: [1, 1], pad: [0; 4], count_include_pad: false, act },
        OpKind::GlobalAvgPool { act },
        OpKind::Unary { op: UnaryOp::Relu },
        OpKind::Softmax { beta: 1.0, out_inv_q16: 0 },
        OpKind::Concat { axis: 0 },
        OpKind::Slice { begin: v(&[0]), step: v(&[1]) },
        OpKind::Reshape,
        OpKind::Transpose { perm: heapless::Vec::from_slice(&[0]).unwrap() },
        OpKind::Pad { before: v(&[0]), after: v(&[0]), value: 0.0 },
        OpKind::Resize { mode: ResizeMode::Bilinear, coord: CoordTransform::HalfPixel },
        OpKind::Quantize,
        OpKind::Dequantize,
    ];
    assert_eq!(ops.len() as u32, OpCode::COUNT);
    for op in &ops {
        add("OpKind", first(op), op.code().name());
    }
    for a in [Activation::None, Activation::Relu, Activation::Relu6, Activation::Clip { lo: 0.0, hi: 1.0 }] {
        add("Activation", first(&a), format!("{a:?}").split(' ').next().unwrap());
    }
    for b in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div] {
        add("BinaryOp", first(&b), &format!("{b:?}"));
    }
    for p in [PoolKind::Avg, PoolKind::Max] {
        add("PoolKind", first(&p), &format!("{p:?}"));
    }
    for u in [UnaryOp::Relu, UnaryOp::Relu6, UnaryOp::Clip { lo: 0.0, hi: 1.0 }, UnaryOp::Sigmoid, UnaryOp::Exp] {
        add("UnaryOp", first(&u), format!("{u:?}").split(' ').next().unwrap());
    }
    for m in [ResizeMode::Nearest(NearestRound::Floor), ResizeMode::Bilinear] {
        add("ResizeMode", first(&m), format!("{m:?}").split('(').next().unwrap());
    }
    for r in [NearestRound::RoundPreferFloor, NearestRound::RoundPreferCeil, NearestRound::Floor, NearestRound::Ceil] {
        add("NearestRound", first(&r), &format!("{r:?}"));
    }
    for c in [CoordTransform::HalfPixel, CoordTransform::PytorchHalfPixel, CoordTransform::AlignCorners, CoordTransform::Asymmetric] {
        add("CoordTransform", first(&c), &format!("{c:?}"));
    }
    for d in [DType::F32, DType::I8, DType::I32] {
        add("DType", first(&d), &format!("{d:?}"));
    }
    assert_eq!(DType::COUNT, 3);
    for q in [Quant::None, Quant::PerTensor { scale: 1.0, zero_point: 0 }, Quant::PerChannel { axis: 0, scales: region }] {
        add("Quant", first(&q), format!("{q:?}").split(' ').next().unwrap());
    }
    for s in [Storage::Const(region), Storage::Arena { offset: 0, first: 0, last: 0 }] {
        add("Storage", first(&s), format!("{s:?}").split(['(', ' ']).next().unwrap());
    }
    let mut want = format_md_discriminants();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

/// `ops::macs`: Conv2d and FullyConnected count their multiply-accumulates, every other op 0.
#[test]
fn macs_of_the_golden_model() {
    let file = std::fs::read(golden_path("v2", "mote")).unwrap();
    let aligned = AlignedBytes::new(&file);
    let model = Model::from_bytes(&aligned).unwrap();
    let macs: Vec<(String, u64)> = model
        .ops()
        .map(|op| (model.tensor(op.output).unwrap().name.to_string(), mote_runtime::ops::macs(&model, &op)))
        .filter(|&(_, m)| m != 0)
        .collect();
    // Conv: n·oh·ow·oc · kh·kw·(c / groups); FC: rows · k · n.
    let want = [
        ("c1", 4 * 4 * 4 * (3 * 3 * 3)),
        ("c2", 2 * 2 * 8 * (3 * 3)),
        ("c3", 2 * 3 * 4 * (2 * 2 * 2)),
        ("fc", 8 * 5),
        ("qc1", 4 * 4 * 4 * (3 * 3 * 3)),
        ("qc2", 2 * 2 * 8 * (3 * 3)),
        ("qfc", 8 * 5),
    ];
    assert_eq!(macs, want.map(|(n, m)| (n.to_string(), m)));
}

#[test]
fn a_signed_file_computes_the_same_outputs() {
    let file = std::fs::read(golden_path("v2", "mote")).unwrap();
    let signed = mote_runtime::signature::sign(&file, &[7; 32], 1).unwrap();
    assert_eq!(signed.len(), file.len() + 16 + mote_runtime::signature::SECTION_LEN, "one table entry and the section");
    assert_eq!(run(&signed), std::fs::read(golden_path("v2", "out")).unwrap());
}
