//! The graph passes and the layout assignment on small ONNX graphs built here (opset 13): each
//! converted f32 Mote model must compute what tract computes on the same file, for random inputs,
//! and the pass must have done its work (ops folded, fused or removed in the `.mote` file).

mod common;

use common::max_abs_diff;
use common::onnx::{attr_f, attr_i, attr_ints, Onnx, Rng};

use mote_converter::ir::{Graph, Op};
use mote_converter::{import, inspect, passes};
use mote_runtime::format::writer::AlignedBytes;
use mote_runtime::ops::{Activation, OpDesc, OpKind, PoolKind, UnaryOp};
use mote_runtime::{Interpreter, Model};
use tract_onnx::prelude::*;

/// `|mote - tract| <= TOLERANCE * max(1, max |tract|)` over every element of every output.
const TOLERANCE: f32 = 1e-5;

/// Random draws per graph.
const DRAWS: u64 = 3;

/// What a converted graph turned into.
struct Checked {
    /// The ops of the `.mote` file, in execution order.
    ops: Vec<OpDesc>,
    /// Their names as `mote inspect` prints them.
    names: Vec<String>,
    /// The logical graph after the passes.
    ir: Graph,
    /// tract's outputs for the last draw.
    reference: Vec<tract_ndarray::ArrayD<f32>>,
}

impl Checked {
    fn count(&self, name: &str) -> usize {
        self.names.iter().filter(|n| *n == name).count()
    }

    /// The activations fused into the ops named `name`, in execution order.
    fn acts(&self, name: &str) -> Vec<Activation> {
        self.ops
            .iter()
            .filter(|o| o.kind.code().name() == name)
            .filter_map(|o| match o.kind {
                OpKind::Conv2d { act, .. } | OpKind::FullyConnected { act } | OpKind::Binary { act, .. } | OpKind::Pool2d { act, .. } | OpKind::GlobalAvgPool { act } => Some(act),
                _ => None,
            })
            .collect()
    }

    fn unary_ops(&self) -> Vec<UnaryOp> {
        self.ops.iter().filter_map(|o| if let OpKind::Unary { op } = o.kind { Some(op) } else { None }).collect()
    }
}

/// Converts `g` to an f32 Mote model, runs [`DRAWS`] random inputs (uniform in ±2) through it
/// and through tract, and compares every output in full.
fn check(g: &Onnx, test: &str) -> Checked {
    let path = g.write(test);
    let imported = import::import(&path, &[]);
    let file = mote_converter::convert_float(&path, test, &[]);
    let reference_model = tract_onnx::onnx().model_for_path(&path);
    std::fs::remove_file(&path).unwrap();
    let mut ir = imported.unwrap_or_else(|e| panic!("{test}: import failed: {e}")).graph;
    passes::run_all(&mut ir).unwrap();
    let file = file.unwrap_or_else(|e| panic!("{test}: conversion failed: {e}"));
    let mut reference_model = reference_model.unwrap();
    for (i, (_, shape)) in g.inputs.iter().enumerate() {
        reference_model = reference_model.with_input_fact(i, f32::fact(shape).into()).unwrap();
    }
    let reference_model = reference_model.into_optimized().unwrap().into_runnable().unwrap();

    let bytes = AlignedBytes::new(&file);
    let m = Model::from_bytes(&bytes).unwrap();
    let mut arena = vec![0u8; m.arena_bytes() + 16];
    let mut it = Interpreter::new(&m, &mut arena).unwrap();
    assert_eq!(m.outputs().len(), g.outputs.len(), "{test}: output count");
    let mut rng = Rng(0x5eed ^ test.len() as u64);
    let mut reference = vec![];
    for draw in 0..DRAWS {
        let mut inputs = tvec![];
        for (i, (_, shape)) in g.inputs.iter().enumerate() {
            let x = rng.vec(shape.iter().product(), -2.0, 2.0);
            it.set_input_f32(i, &x).unwrap();
            inputs.push(tract_ndarray::ArrayD::from_shape_vec(shape.clone(), x).unwrap().into_tensor().into());
        }
        it.invoke().unwrap();
        let want = reference_model.run(inputs).unwrap();
        reference.clear();
        for (o, w) in want.iter().enumerate() {
            let w = w.to_plain_array_view::<f32>().unwrap().to_owned();
            let shape: Vec<usize> = it.output(o).unwrap().shape.dims().iter().map(|&d| d as usize).collect();
            assert_eq!(shape, w.shape(), "{test}: output {} shape", g.outputs[o]);
            let got = it.output_f32(o).unwrap();
            let scale = w.iter().fold(0f32, |a, v| a.max(v.abs()));
            let (worst, at) = got.iter().zip(w.iter()).enumerate().map(|(i, (g, w))| (if g.is_nan() != w.is_nan() { f32::INFINITY } else { (g - w).abs() }, i)).fold((0f32, 0), |a, b| if b.0 > a.0 { b } else { a });
            assert!(
                worst <= TOLERANCE * scale.max(1.0),
                "{test} draw {draw} output {}: max |mote - tract| = {worst} at {at} (mote {}, tract {}, scale {scale})",
                g.outputs[o],
                got[at],
                w.iter().nth(at).unwrap()
            );
            reference.push(w);
        }
    }
    let names = inspect::inspect(&m).ops.into_iter().map(|o| o.op).collect();
    Checked { ops: m.ops().collect(), names, ir, reference }
}

#[test]
fn batch_norm_after_conv_folds_into_the_conv() {
    let mut g = Onnx::new(1);
    g.input("x", &[1, 4, 7, 7]);
    g.conv("x", "c1", [4, 6], [3, 1, 1], 1, true);
    g.batch_norm("c1", "b1", 6, Some(1e-3));
    g.conv("b1", "c2", [6, 6], [3, 2, 1], 6, false);
    g.batch_norm("c2", "y", 6, None);
    g.output("y");
    let c = check(&g, "conv_bn");
    assert_eq!(c.count("Conv2d"), 2, "{:?}", c.names);
    assert_eq!(c.count("Binary") + c.count("Unary"), 0, "BatchNorm left ops behind: {:?}", c.names);
    assert!(c.ir.nodes.iter().all(|n| matches!(n.op, Op::Conv { .. })), "{:?}", c.ir.nodes);
    let convs: Vec<&OpDesc> = c.ops.iter().filter(|o| matches!(o.kind, OpKind::Conv2d { .. })).collect();
    assert_eq!(convs[1].kind, OpKind::Conv2d { stride: [2, 2], dilation: [1, 1], pad: [1; 4], groups: 6, act: Activation::None });
    assert!(convs.iter().all(|o| o.inputs.len() == 3), "both folded convs carry a bias (the depthwise one had none)");
}

#[test]
fn batch_norm_elsewhere_becomes_mul_add() {
    let mut g = Onnx::new(2);
    g.input("a", &[1, 3, 5, 5]);
    g.input("b", &[1, 3, 5, 5]);
    g.node("Add", &["a", "b"], "s", vec![]);
    g.batch_norm("s", "y", 3, Some(1e-2));
    g.output("y");
    let c = check(&g, "add_bn");
    assert_eq!(c.names, ["Binary"; 3], "Add, then the BatchNorm as Mul and Add");
    assert!(!c.ir.nodes.iter().any(|n| matches!(n.op, Op::BatchNorm { .. })));

    let mut g = Onnx::new(3);
    g.input("x", &[2, 5]);
    g.batch_norm("x", "y", 5, None);
    g.output("y");
    let c = check(&g, "bn_rank2");
    assert_eq!(c.names, ["Binary"; 2]);

    // The conv's own output is a graph output: folding would change it.
    let mut g = Onnx::new(4);
    g.input("x", &[1, 2, 5, 5]);
    g.conv("x", "c", [2, 3], [3, 1, 1], 1, true);
    g.batch_norm("c", "y", 3, None);
    g.output("c");
    g.output("y");
    let c = check(&g, "conv_bn_shared");
    assert_eq!((c.count("Conv2d"), c.count("Binary")), (1, 2), "{:?}", c.names);
}

#[test]

fn every_batch_norm_is_rewritten_after_one_becomes_mul_add() {
    // The Mul + Add rewrite inserts a node; the BatchNorm that was last must still be folded.
    let mut g = Onnx::new(5);
    g.input("a", &[1, 3, 5, 5]);
    g.input("b", &[1, 3, 5, 5]);
    g.node("Add", &["a", "b"], "s", vec![]);
    g.batch_norm("s", "n", 3, None);
    g.conv("n", "c", [3, 4], [3, 1, 1], 1, true);
    g.batch_norm("c", "y", 4, None);
    g.output("y");
    let c = check(&g, "bn_then_conv_bn");
    assert_eq!((c.count("Conv2d"), c.count("Binary")), (1, 3), "{:?}", c.names);
}

#[test]
fn matmul_and_gemm_become_fully_connected() {
    let fc_inputs = |c: &Checked| -> Vec<usize> { c.ops.iter().filter(|o| matches!(o.kind, OpKind::FullyConnected { .. })).map(|o| o.inputs.len()).collect() };

    let mut g = Onnx::new(10);
    g.input("x", &[1, 8]);
    let w = g.random("w", &[8, 5], -1.0, 1.0);
    let b = g.random("b", &[5], -1.0, 1.0);
    g.node("MatMul", &["x", &w], "m", vec![]);
    g.node("Add", &["m", &b], "y", vec![]);
    g.output("y");
    let c = check(&g, "matmul_add");
    assert_eq!(c.names, ["FullyConnected"]);
    assert_eq!(fc_inputs(&c), [3], "the Add became the bias");

    // The bias first, with a leading unit axis.
    let mut g = Onnx::new(11);
    g.input("x", &[1, 8]);
    let w = g.random("w", &[8, 5], -1.0, 1.0);
    let b = g.random("b", &[1, 5], -1.0, 1.0);
    g.node("MatMul", &["x", &w], "m", vec![]);
    g.node("Add", &[&b, "m"], "y", vec![]);
    g.output("y");
    let c = check(&g, "bias_matmul");
    assert_eq!(fc_inputs(&c), [3]);
    assert_eq!(c.count("Binary"), 0);

    // Rank 3, no bias.
    let mut g = Onnx::new(12);
    g.input("x", &[2, 3, 8]);
    let w = g.random("w", &[8, 5], -1.0, 1.0);
    g.node("MatMul", &["x", &w], "y", vec![]);
    g.output("y");
    let c = check(&g, "matmul_rank3");
    assert_eq!(c.names, ["FullyConnected"]);
    assert_eq!(fc_inputs(&c), [2]);

    // An Add of an activation is no bias.
    let mut g = Onnx::new(13);
    g.input("x", &[1, 8]);
    g.input("z", &[1, 5]);
    let w = g.random("w", &[8, 5], -1.0, 1.0);
    g.node("MatMul", &["x", &w], "m", vec![]);
    g.node("Add", &["m", "z"], "y", vec![]);
    g.output("y");
    let c = check(&g, "matmul_add_input");
    assert_eq!(c.names, ["FullyConnected", "Binary"]);
    assert_eq!(fc_inputs(&c), [2]);

    // Gemm with transB = 1 and the default alpha and beta.
    let mut g = Onnx::new(14);
    g.input("x", &[1, 8]);
    let w = g.random("w", &[5, 8], -1.0, 1.0);
    let b = g.random("b", &[5], -1.0, 1.0);
    g.node("Gemm", &["x", &w, &b], "y", vec![attr_i("transB", 1)]);
    g.output("y");
    let c = check(&g, "gemm_transb");
    assert_eq!(c.names, ["FullyConnected"]);
    assert_eq!(fc_inputs(&c), [3]);

    // Gemm with B as stored, alpha and beta, and C of shape [1, n].
    let mut g = Onnx::new(15);
    g.input("x", &[1, 8]);
    let w = g.random("w", &[8, 5], -1.0, 1.0);
    let b = g.random("b", &[1, 5], -1.0, 1.0);
    g.node("Gemm", &["x", &w, &b], "y", vec![attr_f("alpha", 0.5), attr_f("beta", 2.0)]);
    g.output("y");
    let c = check(&g, "gemm_alpha_beta");
    assert_eq!(c.names, ["FullyConnected"]);
}

#[test]
fn activations_fuse_into_their_producer() {
    // Relu, Clip(0, 6) through a folded BatchNorm, and Clip(-1, 1), after convolutions.
    let mut g = Onnx::new(20);
    g.input("x", &[1, 3, 6, 6]);
    g.conv("x", "c1", [3, 4], [3, 1, 1], 1, true);
    g.node("Relu", &["c1"], "r1", vec![]);
    g.conv("r1", "c2", [4, 4], [3, 1, 1], 4, true);
    g.batch_norm("c2", "n2", 4, None);
    g.clip("n2", "r2", Some(0.0), Some(6.0));
    g.conv("r2", "c3", [4, 2], [1, 1, 0], 1, true);
    g.clip("c3", "y", Some(-1.0), Some(1.0));
    g.output("y");
    let c = check(&g, "conv_acts");
    assert_eq!(c.acts("Conv2d"), [Activation::Relu, Activation::Relu6, Activation::Clip { lo: -1.0, hi: 1.0 }]);
    assert_eq!(c.count("Unary") + c.count("Binary"), 0, "{:?}", c.names);
    let y = &c.reference[0];
    assert!(y.iter().any(|&v| v == 1.0) && y.iter().any(|&v| v == -1.0), "the clip must bite for the test to mean anything");

    // After FullyConnected (MatMul + Add, and Gemm), Add, Sub, MaxPool and GlobalAveragePool.
    let mut g = Onnx::new(21);
    g.input("v", &[1, 8]);
    g.input("a", &[1, 3, 6, 6]);
    g.input("b", &[1, 3, 6, 6]);
    let w = g.random("w", &[8, 6], -1.0, 1.0);
    let bias = g.random("bias", &[6], -1.0, 1.0);
    g.node("MatMul", &["v", &w], "m", vec![]);
    g.node("Add", &["m", &bias], "fc", vec![]);
    g.clip("fc", "y_fc", Some(-1.0), Some(1.0));
    let w2 = g.random("w2", &[4, 8], -1.0, 1.0);
    g.node("Gemm", &["v", &w2], "gemm", vec![attr_i("transB", 1)]);
    g.node("Relu", &["gemm"], "y_gemm", vec![]);
    g.node("Add", &["a", "b"], "s", vec![]);
    g.clip("s", "y_add", Some(-1.0), Some(1.0));
    g.node("Sub", &["a", "b"], "d", vec![]);
    g.clip("d", "y_sub", Some(-0.5), None);
    g.node("MaxPool", &["a"], "p", vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])]);
    g.node("Relu", &["p"], "y_pool", vec![]);
    g.node("GlobalAveragePool", &["b"], "gap", vec![]);
    g.clip("gap", "y_gap", Some(0.0), Some(6.0));
    for y in ["y_fc", "y_gemm", "y_add", "y_sub", "y_pool", "y_gap"] {
        g.output(y);
    }
    let c = check(&g, "other_acts");
    assert_eq!(c.acts("FullyConnected"), [Activation::Clip { lo: -1.0, hi: 1.0 }, Activation::Relu]);
    assert_eq!(c.acts("Binary"), [Activation::Clip { lo: -1.0, hi: 1.0 }, Activation::Clip { lo: -0.5, hi: f32::INFINITY }]);
    assert_eq!(c.acts("Pool2d"), [Activation::Relu]);
    assert_eq!(c.acts("GlobalAvgPool"), [Activation::Relu6]);
    assert_eq!(c.count("Unary"), 0, "{:?}", c.names);
}

#[test]
fn activations_stay_where_they_cannot_fuse() {
    let mut g = Onnx::new(22);
    g.input("x", &[1, 3, 6, 6]);
    g.node("Relu", &["x"], "rx", vec![]);
    g.conv("rx", "c1", [3, 4], [3, 1, 1], 1, true);
    g.conv("x", "c2", [3, 2], [1, 1, 0], 1, true);
    g.node("Concat", &["c1", "c2"], "cat", vec![attr_i("axis", 1)]);
    g.node("Relu", &["cat"], "y", vec![]);
    // c2 is read by the Concat too: fusing the clip would change it.
    g.clip("c2", "y2", Some(-1.0), Some(1.0));
    g.output("y");
    g.output("y2");
    let c = check(&g, "unfused");
    assert_eq!(c.unary_ops(), [UnaryOp::Relu, UnaryOp::Relu, UnaryOp::Clip { lo: -1.0, hi: 1.0 }]);
    assert_eq!(c.acts("Conv2d"), [Activation::None; 2]);

    // A conv output that is also a graph output keeps its values.
    let mut g = Onnx::new(23);
    g.input("x", &[1, 2, 5, 5]);
    g.conv("x", "c", [2, 3], [3, 1, 1], 1, true);
    g.node("Relu", &["c"], "y", vec![]);
    g.output("c");
    g.output("y");
    let c = check(&g, "relu_of_output");
    assert_eq!(c.unary_ops(), [UnaryOp::Relu]);
    assert!(c.reference[0].iter().any(|&v| v < 0.0), "c must hold negative values for the test to mean anything");
}

#[test]
fn identities_disappear() {
    let mut g = Onnx::new(30);
    g.input("x", &[1, 8]);
    let shape = g.constant_i64("shape", &[1, 8]);
    let w = g.random("w", &[8, 4], -1.0, 1.0);
    g.node("Identity", &["x"], "i1", vec![]);
    g.node("Dropout", &["i1"], "d", vec![]);
    g.node("Reshape", &["d", &shape], "r", vec![]);
    g.node("MatMul", &["r", &w], "m", vec![]);
    g.node("Identity", &["m"], "y", vec![]);
    g.output("y");
    let c = check(&g, "identities");
    assert_eq!(c.names, ["FullyConnected"]);
    assert_eq!(c.ir.nodes.len(), 1, "{:?}", c.ir.nodes);

    // Flatten + Gemm: the Flatten stays a Reshape (in place, no data moved).
    let mut g = Onnx::new(31);
    g.input("x", &[1, 2, 3, 4]);
    let w = g.random("w", &[5, 24], -1.0, 1.0);
    let b = g.random("b", &[5], -1.0, 1.0);
    g.node("Flatten", &["x"], "f", vec![attr_i("axis", 1)]);
    g.node("Gemm", &["f", &w, &b], "y", vec![attr_i("transB", 1)]);
    g.output("y");
    let c = check(&g, "flatten_gemm");
    assert_eq!(c.names, ["Reshape", "FullyConnected"]);
}

#[test]

fn identity_from_input_to_output() {
    let mut g = Onnx::new(32);
    g.input("x", &[1, 6]);
    g.node("Identity", &["x"], "y", vec![]);
    g.output("y");
    check(&g, "input_identity");
}

#[test]

fn graph_output_also_read_through_an_identity() {
    let mut g = Onnx::new(33);
    g.input("x", &[1, 2, 5, 5]);
    g.conv("x", "c", [2, 3], [3, 1, 1], 1, true);
    g.node("Identity", &["c"], "y", vec![]);
    g.output("c");
    g.output("y");
    check(&g, "output_identity");
}

#[test]
fn nhwc_transpose_pairs_cost_nothing() {
    // As tf2onnx exports a Keras model: NHWC input, each conv wrapped in transposes.
    let (to_nchw, to_nhwc) = (attr_ints("perm", &[0, 3, 1, 2]), attr_ints("perm", &[0, 2, 3, 1]));
    let mut g = Onnx::new(40);
    g.input("x", &[1, 6, 6, 3]);
    g.node("Transpose", &["x"], "t1", vec![to_nchw.clone()]);
    g.conv("t1", "c1", [3, 4], [3, 1, 1], 1, true);
    g.node("Relu", &["c1"], "r1", vec![]);
    g.node("Transpose", &["r1"], "t2", vec![to_nhwc.clone()]);
    let b = g.random("b", &[4], -1.0, 1.0);
    g.node("Add", &["t2", &b], "s", vec![]);
    g.node("Transpose", &["s"], "t3", vec![to_nchw]);
    g.conv("t3", "c2", [4, 4], [3, 2, 1], 4, true);
    g.node("Transpose", &["c2"], "y", vec![to_nhwc.clone()]);
    g.output("y");
    let c = check(&g, "tf2onnx_nhwc");
    assert_eq!(c.names, ["Conv2d", "Binary", "Conv2d"]);

    // NHWC flattened for a dense layer: row-major NHWC is what the conv produced.
    let mut g = Onnx::new(41);
    g.input("x", &[1, 6, 6, 3]);
    g.node("Transpose", &["x"], "t1", vec![attr_ints("perm", &[0, 3, 1, 2])]);
    g.conv("t1", "c1", [3, 4], [3, 2, 1], 1, true);
    g.node("Transpose", &["c1"], "t2", vec![to_nhwc]);
    let shape = g.constant_i64("shape", &[1, 36]);
    g.node("Reshape", &["t2", &shape], "f", vec![]);
    let w = g.random("w", &[36, 5], -1.0, 1.0);
    g.node("MatMul", &["f", &w], "y", vec![]);
    g.output("y");
    let c = check(&g, "tf2onnx_dense");
    assert_eq!(c.count("Transpose"), 0, "{:?}", c.names);
}

#[test]
fn nchw_flatten_needs_a_real_transpose() {
    let mut g = Onnx::new(42);
    g.input("x", &[1, 3, 6, 6]);
    g.conv("x", "c", [3, 4], [3, 2, 1], 1, true);
    g.node("Flatten", &["c"], "f", vec![attr_i("axis", 1)]);
    let w = g.random("w", &[36, 5], -1.0, 1.0);
    g.node("MatMul", &["f", &w], "y", vec![]);
    g.output("y");
    let c = check(&g, "nchw_flatten");
    let position = |name: &str| c.names.iter().position(|n| n == name).unwrap();
    assert!(c.names.iter().rposition(|n| n == "Transpose").is_some_and(|t| position("Conv2d") < t && t < position("Reshape")), "the NHWC conv output must be reordered before the flatten: {:?}", c.names);
}

#[test]
fn pools_match_tract() {
    let window = |k: i64, s: i64, pads: [i64; 4]| vec![attr_ints("kernel_shape", &[k, k]), attr_ints("strides", &[s, s]), attr_ints("pads", &pads)];
    let mut g = Onnx::new(50);
    g.input("x", &[1, 3, 7, 7]);
    g.node("MaxPool", &["x"], "max", window(3, 2, [1; 4]));
    g.node("AveragePool", &["x"], "avg", [window(3, 2, [1; 4]), vec![attr_i("count_include_pad", 0)]].concat());
    g.node("AveragePool", &["x"], "avg_pad", [window(3, 2, [1; 4]), vec![attr_i("count_include_pad", 1)]].concat());
    g.node("AveragePool", &["x"], "avg_asym", [window(3, 2, [1, 0, 0, 1]), vec![attr_i("count_include_pad", 1)]].concat());
    g.node("MaxPool", &["x"], "max_ceil", [window(2, 2, [0; 4]), vec![attr_i("ceil_mode", 1)]].concat());
    g.node("AveragePool", &["x"], "avg_ceil", [window(2, 2, [0; 4]), vec![attr_i("ceil_mode", 1)]].concat());
    g.node("GlobalAveragePool", &["x"], "gap", vec![]);
    for y in ["max", "avg", "avg_pad", "avg_asym", "max_ceil", "avg_ceil", "gap"] {
        g.output(y);
    }
    let c = check(&g, "pools");
    let kinds: Vec<(PoolKind, bool)> = c.ops.iter().filter_map(|o| if let OpKind::Pool2d { kind, count_include_pad, .. } = o.kind { Some((kind, count_include_pad)) } else { None }).collect();
    use PoolKind::{Avg, Max};
    assert_eq!(kinds, [(Max, false), (Avg, false), (Avg, true), (Avg, true), (Max, false), (Avg, false)]);
    assert_eq!(c.count("GlobalAvgPool"), 1);
}

#[test]
fn average_pool_ceil_mode_counting_padding() {
    let mut g = Onnx::new(51);
    g.input("x", &[1, 2, 7, 7]);
    let attrs = vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("strides", &[2, 2]), attr_ints("pads", &[1; 4]), attr_i("ceil_mode", 1), attr_i("count_include_pad", 1)];
    g.node("AveragePool", &["x"], "y", attrs);
    g.output("y");
    check(&g, "avg_ceil_pad");
}

#[test]
fn concat_on_the_channel_axis() {
    let mut g = Onnx::new(52);
    g.input("x", &[1, 3, 6, 6]);
    g.conv("x", "a", [3, 4], [3, 1, 1], 1, true);
    g.conv("x", "b", [3, 2], [1, 1, 0], 1, false);
    g.node("Concat", &["a", "b"], "y", vec![attr_i("axis", 1)]);
    // An NHWC conv output beside the NCHW graph input.
    g.node("Concat", &["a", "x"], "y2", vec![attr_i("axis", -3)]);
    g.output("y");
    g.output("y2");
    let c = check(&g, "concat");
    let axes: Vec<u8> = c.ops.iter().filter_map(|o| if let OpKind::Concat { axis } = o.kind { Some(axis) } else { None }).collect();
    assert_eq!(axes, [3, 3], "channels are the innermost physical axis of the conv outputs");
}

#[test]
fn int8_conversion_stays_close_to_tract() {
    use mote_converter::quantize::Method;
    use mote_converter::{Calibration, Options};
    use npyz::WriterBuilder;

    let mut g = Onnx::new(60);
    g.input("x", &[1, 3, 8, 8]);
    g.conv("x", "c1", [3, 8], [3, 1, 1], 1, true);
    g.batch_norm("c1", "n1", 8, None);
    g.node("Relu", &["n1"], "r1", vec![]);
    g.conv("r1", "c2", [8, 8], [3, 2, 1], 8, true);
    g.clip("c2", "r2", Some(0.0), Some(6.0));
    g.node("GlobalAveragePool", &["r2"], "gap", vec![]);
    g.node("Flatten", &["gap"], "f", vec![attr_i("axis", 1)]);
    let w = g.random("w", &[4, 8], -1.0, 1.0);
    let b = g.random("b", &[4], -0.5, 0.5);
    g.node("Gemm", &["f", &w, &b], "y", vec![attr_i("transB", 1)]);
    g.output("y");

    let onnx = g.write("int8");
    let npz = onnx.with_extension("npz");
    let rows = 32;
    let mut rng = Rng(77);
    let data = rng.vec(rows * 3 * 8 * 8, -2.0, 2.0);
    {
        let mut w = npyz::npz::NpzWriter::create(&npz).unwrap();
        let mut a = w.array::<f32>("x", Default::default()).unwrap().default_dtype().shape(&[rows as u64, 3, 8, 8]).begin_nd().unwrap();
        a.extend(data.iter().copied()).unwrap();
        a.finish().unwrap();
    }
    let opts = Options { calibration: Some(Calibration { path: npz.clone(), key: None, index: None, method: Method::MinMax }), ..Options::default() };
    let converted = mote_converter::convert(&onnx, &opts);
    let reference = tract_onnx::onnx().model_for_path(&onnx).unwrap().into_optimized().unwrap().into_runnable().unwrap();
    std::fs::remove_file(&onnx).unwrap();
    std::fs::remove_file(&npz).unwrap();
    let converted = converted.unwrap();
    assert_eq!(converted.calibration_rows, rows);

    let bytes = AlignedBytes::new(&converted.bytes);
    let m = Model::from_bytes(&bytes).unwrap();
    let convs: Vec<OpDesc> = m.ops().filter(|o| matches!(o.kind, OpKind::Conv2d { .. })).collect();
    assert_eq!(convs.len(), 2);
    assert!(convs.iter().all(|o| m.tensor(o.output).unwrap().dtype == mote_runtime::DType::I8), "the convs run int8");
    let mut arena = vec![0u8; m.arena_bytes() + 16];
    let mut it = Interpreter::new(&m, &mut arena).unwrap();
    let row = 3 * 8 * 8;
    let mut out = vec![0f32; 4];
    for r in [0, 9, 31] {
        let x = &data[r * row..(r + 1) * row];
        it.set_input_f32(0, x).unwrap();
        it.invoke().unwrap();
        it.output_to_f32(0, &mut out).unwrap();
        let t = tract_ndarray::ArrayD::from_shape_vec(vec![1, 3, 8, 8], x.to_vec()).unwrap().into_tensor();
        let want = reference.run(tvec!(t.into())).unwrap();
        let want = want[0].to_plain_array_view::<f32>().unwrap();
        let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
        let worst = max_abs_diff(&out, want.iter());
        assert!(worst <= 0.05 * scale.max(1.0), "row {r}: max |int8 - tract| = {worst} (scale {scale}); got {out:?}, want {want:?}");
    }
}
