//! The interpreter end to end: graphs built with `ModelBuilder`, run through `Interpreter`,
//! compared with independent f64 references, hand-computed values or the kernels called directly.

use mote_runtime::format::writer::{AlignedBytes, ModelBuilder};
use mote_runtime::kernels;
use mote_runtime::ops::*;
use mote_runtime::quant::{quantize_multiplier, QParams};
use mote_runtime::tensor::{Quant, Storage};
use mote_runtime::{DType, Interpreter, Model, OpHook, RunError};

fn lcg(seed: &mut u64) -> f32 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((*seed >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
}

fn randn(n: usize, seed: &mut u64) -> Vec<f32> {
    (0..n).map(|_| lcg(seed)).collect()
}

fn run(file: &[u8], inputs: &[&[f32]]) -> Vec<Vec<f32>> {
    let bytes = AlignedBytes::new(file);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    let mut it = Interpreter::new(&model, &mut arena).unwrap();
    for (i, x) in inputs.iter().enumerate() {
        it.set_input_f32(i, x).unwrap();
    }
    it.invoke().unwrap();
    (0..model.outputs().len())
        .map(|i| {
            let mut out = vec![0.0; it.output(i).unwrap().len()];
            it.output_to_f32(i, &mut out).unwrap();
            out
        })
        .collect()
}

fn assert_close(got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g as f64 - w).abs() <= tol * (1.0 + w.abs()), "element {i}: got {g}, want {w}");
    }
}

/// x [1,6,6,2] → Conv 3×3 pad 1 + Relu → MaxPool 2×2 → Reshape [1,36] → FC 5 → Softmax.
#[test]
fn f32_cnn_matches_f64_reference() {
    let mut seed = 42;
    let (x, w, bias, fw, fb) = (randn(72, &mut seed), randn(72, &mut seed), randn(4, &mut seed), randn(180, &mut seed), randn(5, &mut seed));
    let mut b = ModelBuilder::new("cnn");
    let xi = b.input("x", DType::F32, &[1, 6, 6, 2], Quant::None).unwrap();
    let wi = b.constant_f32("w", &[4, 3, 3, 2], &w).unwrap();
    let bi = b.constant_f32("b", &[4], &bias).unwrap();
    let c = b.activation("conv", DType::F32, &[1, 6, 6, 4], Quant::None).unwrap();
    b.op(OpKind::Conv2d { stride: [1, 1], dilation: [1, 1], pad: [1, 1, 1, 1], groups: 1, act: Activation::Relu }, &[xi, wi, bi], c).unwrap();
    let p = b.activation("pool", DType::F32, &[1, 3, 3, 4], Quant::None).unwrap();
    b.op(OpKind::Pool2d { kind: PoolKind::Max, kernel: [2, 2], stride: [2, 2], pad: [0; 4], count_include_pad: false, act: Activation::None }, &[c], p).unwrap();
    let f = b.activation("flat", DType::F32, &[1, 36], Quant::None).unwrap();
    b.op(OpKind::Reshape, &[p], f).unwrap();
    let fwi = b.constant_f32("fw", &[5, 36], &fw).unwrap();
    let fbi = b.constant_f32("fb", &[5], &fb).unwrap();
    let l = b.activation("logits", DType::F32, &[1, 5], Quant::None).unwrap();
    b.op(OpKind::FullyConnected { act: Activation::None }, &[f, fwi, fbi], l).unwrap();
    let y = b.activation("probs", DType::F32, &[1, 5], Quant::None).unwrap();
    b.op(OpKind::Softmax { beta: 1.0, out_inv_q16: 0 }, &[l], y).unwrap();
    b.output(y);
    let file = b.finish().unwrap();

    // Reference, in f64, from the definitions.
    let at = |h: usize, w_: usize, c: usize| x[(h * 6 + w_) * 2 + c] as f64;
    let mut conv = vec![0f64; 6 * 6 * 4];
    for oh in 0..6 {
        for ow in 0..6 {
            for oc in 0..4 {
                let mut s = bias[oc] as f64;
                for kh in 0..3 {
                    for kw in 0..3 {
                        let (ih, iw) = (oh as isize + kh as isize - 1, ow as isize + kw as isize - 1);
                        if (0..6).contains(&ih) && (0..6).contains(&iw) {
                            for ic in 0..2 {
                                s += at(ih as usize, iw as usize, ic) * w[((oc * 3 + kh) * 3 + kw) * 2 + ic] as f64;
                            }
                        }
                    }
                }
                conv[(oh * 6 + ow) * 4 + oc] = s.max(0.0);
            }
        }
    }
    let mut pool = vec![f64::MIN; 36];
    for oh in 0..3 {
        for ow in 0..3 {
            for c in 0..4 {
                for dh in 0..2 {
                    for dw in 0..2 {
                        let v = conv[((oh * 2 + dh) * 6 + ow * 2 + dw) * 4 + c];
                        pool[(oh * 3 + ow) * 4 + c] = pool[(oh * 3 + ow) * 4 + c].max(v);
                    }
                }
            }
        }
    }
    let logits: Vec<f64> = (0..5).map(|o| fb[o] as f64 + (0..36).map(|i| pool[i] * fw[o * 36 + i] as f64).sum::<f64>()).collect();
    let m = logits.iter().cloned().fold(f64::MIN, f64::max);
    let e: Vec<f64> = logits.iter().map(|l| (l - m).exp()).collect();
    let want: Vec<f64> = e.iter().map(|v| v / e.iter().sum::<f64>()).collect();

    assert_close(&run(&file, &[&x])[0], &want, 1e-5);
}

/// Quantize → Conv (per-channel int8) + Relu6 → Add (int8, broadcast) → GlobalAvgPool → FC →
/// Dequantize, against the same kernels called by hand (bit-exact) and the float math (loosely).
#[test]
fn int8_pipeline_is_bit_exact_with_direct_kernel_calls() {
    let mut seed = 7;
    let x = randn(5 * 5 * 3, &mut seed);
    let qx = QParams { scale: 2.0 / 255.0, zero_point: -1 };
    let qc = QParams { scale: 6.0 / 255.0, zero_point: -128 };
    let qa = QParams { scale: 7.0 / 255.0, zero_point: -128 };
    let qy = QParams { scale: 0.05, zero_point: 3 };
    let w: Vec<i8> = (0..4 * 3 * 3 * 3).map(|i| ((i * 37 % 255) - 127) as i8).collect();
    let wscale = [0.004f32, 0.006, 0.002, 0.005];
    let cbias = [100i32, -200, 0, 50];
    let creq: Vec<i32> = wscale.iter().flat_map(|&s| { let r = quantize_multiplier((qx.scale * s / qc.scale) as f64); [r.multiplier, r.shift] }).collect();
    let addc: Vec<i8> = vec![10, -20, 30, 0];
    let qaddc = QParams { scale: 0.01, zero_point: 0 };
    let fw: Vec<i8> = (0..2 * 4).map(|i| (i * 29 % 200) as i8).collect();
    let fbias = [7i32, -9];
    let freq = quantize_multiplier((qa.scale * 0.01 / qy.scale) as f64);

    let mut b = ModelBuilder::new("int8");
    let xi = b.input("x", DType::F32, &[1, 5, 5, 3], Quant::None).unwrap();
    let xq = b.activation("xq", DType::I8, &[1, 5, 5, 3], Quant::PerTensor { scale: qx.scale, zero_point: qx.zero_point }).unwrap();
    b.op(OpKind::Quantize, &[xi], xq).unwrap();
    let scales = b.per_channel_scales(&wscale);
    let wi = b.constant_i8("w", &[4, 3, 3, 3], Quant::PerChannel { axis: 0, scales }, &w).unwrap();
    let bi = b.constant_i32("b", &[4], &cbias).unwrap();
    let ri = b.constant_i32("rq", &[4, 2], &creq).unwrap();
    let c = b.activation("c", DType::I8, &[1, 3, 3, 4], Quant::PerTensor { scale: qc.scale, zero_point: qc.zero_point }).unwrap();
    b.op(OpKind::Conv2d { stride: [2, 2], dilation: [1, 1], pad: [1, 1, 1, 1], groups: 1, act: Activation::Relu6 }, &[xq, wi, bi, ri], c).unwrap();
    let ci = b.constant_i8("addc", &[4], Quant::PerTensor { scale: qaddc.scale, zero_point: 0 }, &addc).unwrap();
    let a = b.activation("a", DType::I8, &[1, 3, 3, 4], Quant::PerTensor { scale: qa.scale, zero_point: qa.zero_point }).unwrap();
    let addq = BinaryQuant::new(BinaryOp::Add, qc, qaddc, qa);
    b.op(OpKind::Binary { op: BinaryOp::Add, act: Activation::None, quant: Some(addq) }, &[c, ci], a).unwrap();
    let g = b.activation("g", DType::I8, &[1, 4], Quant::PerTensor { scale: qa.scale, zero_point: qa.zero_point }).unwrap();
    b.op(OpKind::GlobalAvgPool { act: Activation::None }, &[a], g).unwrap();
    let fwi = b.constant_i8("fw", &[2, 4], Quant::PerTensor { scale: 0.01, zero_point: 0 }, &fw).unwrap();
    let fbi = b.constant_i32("fb", &[2], &fbias).unwrap();
    let fri = b.constant_i32("frq", &[1, 2], &[freq.multiplier, freq.shift]).unwrap();
    let yq = b.activation("yq", DType::I8, &[1, 2], Quant::PerTensor { scale: qy.scale, zero_point: qy.zero_point }).unwrap();
    b.op(OpKind::FullyConnected { act: Activation::None }, &[g, fwi, fbi, fri], yq).unwrap();
    let y = b.activation("y", DType::F32, &[1, 2], Quant::None).unwrap();
    b.op(OpKind::Dequantize, &[yq], y).unwrap();
    b.output(y);
    let got = run(&b.finish().unwrap(), &[&x]).remove(0);

    // The same computation, kernel by kernel.
    let mut xq = vec![0i8; 75];
    kernels::quantize::quantize_f32_i8(qx, &x, &mut xq);
    let p = kernels::conv::Conv2dParams { input: [1, 5, 5, 3], output: [1, 3, 3, 4], kernel: [3, 3], stride: [2, 2], dilation: [1, 1], pad: [1, 1], groups: 1 };
    let requant: Vec<_> = creq.chunks(2).map(|c| mote_runtime::quant::Requant { multiplier: c[0], shift: c[1] }).collect();
    let mut conv = vec![0i8; 36];
    kernels::conv::conv2d_i8(&p, &xq, qx.zero_point, &w, Some(&cbias), &requant, qc.zero_point, &mut conv, Activation::Relu6.bounds_i8(qc));
    let mut add = vec![0i8; 36];
    kernels::elementwise::binary_i8(BinaryOp::Add.into(), &addq.into(), &[1, 3, 3, 4], &conv, &[1, 1, 1, 4], &addc, &[1, 3, 3, 4], &mut add, (-128, 127));
    let mut gap = vec![0i8; 4];
    kernels::pool::global_avg_pool_i8(1, 9, 4, &add, &mut gap, (-128, 127));
    let mut fc = vec![0i8; 2];
    let fp = kernels::fully_connected::FcParams { rows: 1, inputs: 4, outputs: 2 };
    kernels::fully_connected::fully_connected_i8(&fp, &gap, qa.zero_point, &fw, Some(&fbias), &[freq], qy.zero_point, &mut fc, (-128, 127));
    let want: Vec<f32> = fc.iter().map(|&q| qy.dequantize(q)).collect();
    assert_eq!(got, want);

    // And the float meaning, loosely: dequantized weights, f64 math, one output quantum of slack
    // per int8 stage.
    let mut conv_f = vec![0f64; 36];
    for oh in 0..3 {
        for ow in 0..3 {
            for oc in 0..4 {
                let mut s = cbias[oc] as f64 * qx.scale as f64 * wscale[oc] as f64;
                for kh in 0..3 {
                    for kw in 0..3 {
                        let (ih, iw) = ((oh * 2 + kh) as isize - 1, (ow * 2 + kw) as isize - 1);
                        if (0..5).contains(&ih) && (0..5).contains(&iw) {
                            for ic in 0..3 {
                                let xv = qx.dequantize(xq[((ih as usize * 5 + iw as usize) * 3) + ic]) as f64;
                                s += xv * w[((oc * 3 + kh) * 3 + kw) * 3 + ic] as f64 * wscale[oc] as f64;
                            }
                        }
                    }
                }
                conv_f[(oh * 3 + ow) * 4 + oc] = s.clamp(0.0, 6.0);
            }
        }
    }
    let gap_f: Vec<f64> = (0..4).map(|c| (0..9).map(|i| conv_f[i * 4 + c] + addc[c] as f64 * 0.01).sum::<f64>() / 9.0).collect();
    let y_f: Vec<f64> = (0..2).map(|o| fbias[o] as f64 * qa.scale as f64 * 0.01 + (0..4).map(|c| gap_f[c] * fw[o * 4 + c] as f64 * 0.01).sum::<f64>()).collect();
    for (g, w) in got.iter().zip(&y_f) {
        assert!((*g as f64 - w).abs() <= 4.0 * qy.scale as f64, "int8 {g} vs float {w}");
    }
}

/// A residual block (ResNet-8's shape, smaller): the second convolution's output trails its
/// input in the arena, so the block needs about two tensors' bytes instead of three, and the
/// bytes out equal the kernels called directly. The int8 kernels' scratch is in the arena too.
#[test]
fn a_convolution_trailing_its_input_saves_arena_and_matches_direct_kernel_calls() {
    let (h, w, c) = (12usize, 10usize, 8usize);
    let n = h * w * c;
    let mut seed = 11;
    let x = randn(n, &mut seed);
    let qx = QParams { scale: 2.0 / 255.0, zero_point: 5 };
    let qa = QParams { scale: 3.0 / 255.0, zero_point: -128 };
    let qb = QParams { scale: 4.0 / 255.0, zero_point: -7 };
    let qy = QParams { scale: 5.0 / 255.0, zero_point: 2 };
    let weights = |k: usize| -> Vec<i8> { (0..c * 9 * c).map(|i| (((i * 31 + k * 17) % 255) as i32 - 127) as i8).collect() };
    let (wa, wb) = (weights(1), weights(2));
    let bias: Vec<i32> = (0..c as i32).map(|i| 40 * i - 150).collect();
    let rq = |qin: QParams, qout: QParams| quantize_multiplier((qin.scale * 0.01 / qout.scale) as f64);
    let (ra, rb) = (rq(qx, qa), rq(qa, qb));
    let pt = |q: QParams| Quant::PerTensor { scale: q.scale, zero_point: q.zero_point };
    let conv = OpKind::Conv2d { stride: [1, 1], dilation: [1, 1], pad: [1, 1, 1, 1], groups: 1, act: Activation::Relu };
    let addq = BinaryQuant::new(BinaryOp::Add, qx, qb, qy);

    let mut b = ModelBuilder::new("residual");
    let dims = [1, h as u32, w as u32, c as u32];
    let xq = b.input("x", DType::I8, &dims, pt(qx)).unwrap();
    let wdims = [c as u32, 3, 3, c as u32];
    let wai = b.constant_i8("wa", &wdims, Quant::PerTensor { scale: 0.01, zero_point: 0 }, &wa).unwrap();
    let wbi = b.constant_i8("wb", &wdims, Quant::PerTensor { scale: 0.01, zero_point: 0 }, &wb).unwrap();
    let bi = b.constant_i32("bias", &[c as u32], &bias).unwrap();
    let rai = b.constant_i32("ra", &[1, 2], &[ra.multiplier, ra.shift]).unwrap();
    let rbi = b.constant_i32("rb", &[1, 2], &[rb.multiplier, rb.shift]).unwrap();
    let a = b.activation("a", DType::I8, &dims, pt(qa)).unwrap();
    b.op(conv.clone(), &[xq, wai, bi, rai], a).unwrap();
    let bt = b.activation("b", DType::I8, &dims, pt(qb)).unwrap();
    b.op(conv, &[a, wbi, bi, rbi], bt).unwrap();
    let yq = b.activation("yq", DType::I8, &dims, pt(qy)).unwrap();
    b.op(OpKind::Binary { op: BinaryOp::Add, act: Activation::None, quant: Some(addq) }, &[xq, bt], yq).unwrap();
    b.output(yq);
    let file = b.finish().unwrap();

    let bytes = AlignedBytes::new(&file);
    let model = Model::from_bytes(&bytes).unwrap();
    let offset = |id| match model.tensor(id).unwrap().storage {
        Storage::Arena { offset, .. } => offset as usize,
        Storage::Const(_) => panic!("activation expected"),
    };
    // `b` starts before `a` and overlaps it: the second convolution runs in bands.
    assert!(offset(bt) < offset(a) && offset(a) < offset(bt) + n, "a at {}, b at {}", offset(a), offset(bt));
    let scratch: Vec<u32> = model.ops().map(|op| op.scratch.len).collect();
    assert!(scratch[0] > 0 && scratch[1] > 0, "{scratch:?}");
    // x, a, b and the scratch are live at once; with the overlap a and b take less than two
    // tensors' bytes.
    assert!(model.arena_bytes() < 3 * n + scratch[1] as usize, "arena {}", model.arena_bytes());

    let got = run(&file, &[&x]).remove(0);
    let mut xs = vec![0i8; n];
    kernels::quantize::quantize_f32_i8(qx, &x, &mut xs);
    let p = kernels::conv::Conv2dParams { input: [1, h, w, c], output: [1, h, w, c], kernel: [3, 3], stride: [1, 1], dilation: [1, 1], pad: [1, 1], groups: 1 };
    let (mut av, mut bv, mut yv) = (vec![0i8; n], vec![0i8; n], vec![0i8; n]);
    kernels::conv::conv2d_i8(&p, &xs, qx.zero_point, &wa, Some(&bias), &[ra], qa.zero_point, &mut av, Activation::Relu.bounds_i8(qa));
    kernels::conv::conv2d_i8(&p, &av, qa.zero_point, &wb, Some(&bias), &[rb], qb.zero_point, &mut bv, Activation::Relu.bounds_i8(qb));
    kernels::elementwise::binary_i8(BinaryOp::Add.into(), &addq.into(), &[1, h, w, c], &xs, &[1, h, w, c], &bv, &[1, h, w, c], &mut yv, (-128, 127));
    let want: Vec<f32> = yv.iter().map(|&q| qy.dequantize(q)).collect();
    assert_eq!(got, want);
}

/// Elementwise chains run in place: the planner shares buffers and the results are unchanged.
#[test]
fn in_place_chain_shares_buffers_and_matches_reference() {
    let x: Vec<f32> = (0..64).map(|i| i as f32 / 8.0 - 4.0).collect();
    let c: Vec<f32> = (0..16).map(|i| i as f32 * 0.25).collect();
    let mut b = ModelBuilder::new("chain");
    let xi = b.input("x", DType::F32, &[4, 16], Quant::None).unwrap();
    let ci = b.constant_f32("c", &[16], &c).unwrap();
    let t1 = b.activation("t1", DType::F32, &[4, 16], Quant::None).unwrap();
    b.op(OpKind::Binary { op: BinaryOp::Mul, act: Activation::None, quant: None }, &[xi, ci], t1).unwrap();
    let t2 = b.activation("t2", DType::F32, &[4, 16], Quant::None).unwrap();
    b.op(OpKind::Unary { op: UnaryOp::Sigmoid }, &[t1], t2).unwrap();
    let t3 = b.activation("t3", DType::F32, &[64], Quant::None).unwrap();
    b.op(OpKind::Reshape, &[t2], t3).unwrap();
    let t4 = b.activation("t4", DType::F32, &[64], Quant::None).unwrap();
    b.op(OpKind::Unary { op: UnaryOp::Exp }, &[t3], t4).unwrap();
    b.output(t4);
    let file = b.finish().unwrap();
    let bytes = AlignedBytes::new(&file);
    let model = Model::from_bytes(&bytes).unwrap();
    let offset = |id| match model.tensor(id).unwrap().storage {
        Storage::Arena { offset, .. } => offset,
        Storage::Const(_) => panic!("activation expected"),
    };
    assert_eq!([offset(t2), offset(t3), offset(t4)], [offset(t1); 3], "t1..t4 share one buffer");
    assert_ne!(offset(xi), offset(t1), "graph inputs are never overwritten");
    assert_eq!(model.arena_bytes(), 2 * 256);

    let want: Vec<f64> = (0..64).map(|i| (1.0 / (1.0 + (-(x[i] as f64 * c[i % 16] as f64)).exp())).exp()).collect();
    let got = run(&file, &[&x]).remove(0);
    assert_close(&got, &want, 1e-6);
}

/// Data-movement ops through the interpreter on tiny hand-computed cases.
#[test]
fn shape_ops_hand_computed() {
    let mut b = ModelBuilder::new("shapes");
    let x = b.input("x", DType::F32, &[2, 3], Quant::None).unwrap();
    let t = b.activation("t", DType::F32, &[3, 2], Quant::None).unwrap();
    b.op(OpKind::Transpose { perm: heapless::Vec::from_slice(&[1, 0]).unwrap() }, &[x], t).unwrap();
    let k = b.constant_f32("k", &[1, 2], &[10.0, 20.0]).unwrap();
    let cat = b.activation("cat", DType::F32, &[4, 2], Quant::None).unwrap();
    b.op(OpKind::Concat { axis: 0 }, &[t, k], cat).unwrap();
    let s = b.activation("s", DType::F32, &[2, 1], Quant::None).unwrap();
    b.op(OpKind::Slice { begin: heapless::Vec::from_slice(&[1, 1]).unwrap(), step: heapless::Vec::from_slice(&[2, 1]).unwrap() }, &[cat], s).unwrap();
    let p = b.activation("p", DType::F32, &[3, 3], Quant::None).unwrap();
    b.op(OpKind::Pad { before: heapless::Vec::from_slice(&[1, 0]).unwrap(), after: heapless::Vec::from_slice(&[0, 2]).unwrap(), value: -1.0 }, &[s], p).unwrap();
    let img = b.activation("img", DType::F32, &[1, 3, 3, 1], Quant::None).unwrap();
    b.op(OpKind::Reshape, &[p], img).unwrap();
    let up = b.activation("up", DType::F32, &[1, 6, 6, 1], Quant::None).unwrap();
    b.op(OpKind::Resize { mode: ResizeMode::Nearest(NearestRound::Floor), coord: CoordTransform::Asymmetric }, &[img], up).unwrap();
    b.output(cat).output(up);
    let out = run(&b.finish().unwrap(), &[&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]);
    // transpose: [[1,4],[2,5],[3,6]]; concat with [10,20]; slice rows 1,3 col 1: [5, 20]
    assert_eq!(out[0], [1.0, 4.0, 2.0, 5.0, 3.0, 6.0, 10.0, 20.0]);
    let padded = [-1.0, -1.0, -1.0, 5.0, -1.0, -1.0, 20.0, -1.0, -1.0];
    let want: Vec<f32> = (0..36).map(|i| padded[(i / 6 / 2) * 3 + (i % 6) / 2]).collect();
    assert_eq!(out[1], want);
}

/// int8 Softmax and lookup-table unary ops through the interpreter, against float math.
#[test]
fn int8_softmax_and_lut_track_float() {
    let qx = QParams { scale: 0.1, zero_point: 5 };
    let qs = QParams { scale: 1.0 / 256.0, zero_point: -128 };
    let qg = QParams { scale: 1.0 / 256.0, zero_point: -128 };
    let x: Vec<f32> = (0..20).map(|i| (i as f32 - 10.0) * 0.37).collect();
    let mut b = ModelBuilder::new("softmax");
    let xi = b.input("x", DType::I8, &[2, 10], Quant::PerTensor { scale: qx.scale, zero_point: qx.zero_point }).unwrap();
    let table = kernels::softmax::softmax_exp_table(1.0, qx.scale);
    let ti = b.constant_i32("exp", &[256], &table).unwrap();
    let s = b.activation("s", DType::I8, &[2, 10], Quant::PerTensor { scale: qs.scale, zero_point: qs.zero_point }).unwrap();
    let inv = kernels::softmax::softmax_out_inv_q16(qs.scale).unwrap();
    b.op(OpKind::Softmax { beta: 1.0, out_inv_q16: inv }, &[xi, ti], s).unwrap();
    let lut = mote_runtime::ops::unary::build_lut_i8(UnaryOp::Sigmoid, qx, qg);
    let li = b.constant_i8("lut", &[256], Quant::PerTensor { scale: 1.0, zero_point: 0 }, &lut).unwrap();
    let g = b.activation("g", DType::I8, &[2, 10], Quant::PerTensor { scale: qg.scale, zero_point: qg.zero_point }).unwrap();
    b.op(OpKind::Unary { op: UnaryOp::Sigmoid }, &[xi, li], g).unwrap();
    b.output(s).output(g);
    let out = run(&b.finish().unwrap(), &[&x]);
    let xd: Vec<f64> = x.iter().map(|&v| qx.dequantize(qx.quantize(v)) as f64).collect();
    for row in 0..2 {
        let r = &xd[row * 10..row * 10 + 10];
        let m = r.iter().cloned().fold(f64::MIN, f64::max);
        let sum: f64 = r.iter().map(|v| (v - m).exp()).sum();
        for i in 0..10 {
            let want = (r[i] - m).exp() / sum;
            assert!((out[0][row * 10 + i] as f64 - want).abs() <= 1.01 / 256.0, "softmax {want} vs {}", out[0][row * 10 + i]);
            let sig = 1.0 / (1.0 + (-r[i]).exp());
            assert!((out[1][row * 10 + i] as f64 - sig).abs() <= 0.51 / 256.0 + 1e-9, "sigmoid {sig} vs {}", out[1][row * 10 + i]);
        }
    }
}

#[derive(Default)]
struct Recorder(Vec<(usize, OpCode, bool)>, Vec<(usize, u16, Vec<u8>)>);

impl OpHook for Recorder {
    fn before_op(&mut self, index: usize, op: OpCode) {
        self.0.push((index, op, false));
    }
    fn after_op(&mut self, index: usize, op: OpCode) {
        self.0.push((index, op, true));
    }
    fn output(&mut self, index: usize, output: u16, bytes: &[u8]) {
        self.1.push((index, output, bytes.to_vec()));
    }
}

#[test]
fn hook_sees_every_op_and_io_accessors_check_types() {
    let mut b = ModelBuilder::new("io");
    let q = Quant::PerTensor { scale: 0.5, zero_point: 1 };
    let x = b.input("x", DType::I8, &[3], q).unwrap();
    let y = b.activation("y", DType::F32, &[3], Quant::None).unwrap();
    b.op(OpKind::Dequantize, &[x], y).unwrap();
    let z = b.activation("z", DType::F32, &[3], Quant::None).unwrap();
    b.op(OpKind::Unary { op: UnaryOp::Relu6 }, &[y], z).unwrap();
    b.output(z);
    let bytes = AlignedBytes::new(&b.finish().unwrap());
    let model = Model::from_bytes(&bytes).unwrap();
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    let mut it = Interpreter::new(&model, &mut arena).unwrap();
    assert_eq!(it.input(0).unwrap().name, "x");
    assert_eq!(it.input(1).err(), Some(RunError::NoSuchTensor));
    assert_eq!(it.input_f32_mut(0).err(), Some(RunError::WrongDType { expected: DType::F32, found: DType::I8 }));
    assert_eq!(it.set_input_f32(0, &[1.0]).err(), Some(RunError::WrongLength { expected: 3, found: 1 }));
    it.set_input_f32(0, &[-1.0, 2.25, 100.0]).unwrap();
    assert_eq!(it.input_i8_mut(0).unwrap(), &[-1, 5, 127], "2.25 / 0.5 = 4.5 rounds to even");
    let mut rec = Recorder::default();
    it.invoke_with(&mut rec).unwrap();
    assert_eq!(rec.0, [(0, OpCode::Dequantize, false), (0, OpCode::Dequantize, true), (1, OpCode::Unary, false), (1, OpCode::Unary, true)]);
    assert_eq!(it.output_f32(0).unwrap(), &[0.0, 2.0, 6.0]);
    let f32_bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    assert_eq!(rec.1, [(0, y, f32_bytes(&[-1.0, 2.0, 63.0])), (1, z, f32_bytes(&[0.0, 2.0, 6.0]))]);
    assert_eq!(it.output_i8(0).err(), Some(RunError::WrongDType { expected: DType::I8, found: DType::F32 }));
}
