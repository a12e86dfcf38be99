//! The fuzz targets' small seeds (`fuzz/seeds/`), made here from tiny ONNX models through the
//! converter so that they are what `mote convert` writes: every op family in f32 and int8,
//! depthwise and pointwise convolutions, both packed FullyConnected layouts (`--target
//! cortex-m4`, `cortex-m55`), QDQ boundaries; int8 Softmax and Exp, which the converter keeps in
//! f32, through the runtime's model builder. `.npz` seeds: small arrays of each dtype and order
//! the reader takes, and the shared KWS and AD data cut to two rows.
//!
//! The test converts and runs every seed. `MOTE_FUZZ_SEEDS=write cargo test -p mote-converter
//! --release --locked --test fuzz_seeds` also writes them into `fuzz/seeds/` (commit them);
//! `runtime/tests/fuzz.rs` and `converter/tests/fuzz.rs` check the committed ones.

mod common;
#[allow(dead_code)]
#[path = "../../fuzz/src/converter.rs"]
mod harness;

use std::path::{Path, PathBuf};

use common::onnx::{attr_i, attr_ints, Onnx};
use common::{bench, write_npz, Array};
use mote_converter::calib::Method;
use mote_converter::data::Npz;
use npyz::WriterBuilder;
use mote_converter::target::Target;
use mote_converter::{convert_bytes, Options};
use mote_runtime::format::writer::{AlignedBytes, ModelBuilder};
use mote_runtime::ops::{OpKind, UnaryOp};
use mote_runtime::tensor::Quant;
use mote_runtime::{kernels, DType, Interpreter, Model, QParams};
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::AttributeProto;

fn attr_s(name: &str, s: &str) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::String as i32, s: s.as_bytes().to_vec(), ..Default::default() }
}

/// x [1, 3, 8, 8] → Conv 3×3 + Relu → depthwise Conv 3×3 stride 2 → pointwise Conv 1×1 →
/// MaxPool 2×2 → AveragePool 2×2 stride 1 (padded) → GlobalAveragePool → Flatten → MatMul + Add →
/// Softmax.
fn cnn() -> Onnx {
    let mut m = Onnx::new(1);
    m.input("x", &[1, 3, 8, 8]);
    m.conv("x", "c1", [3, 4], [3, 1, 1], 1, true);
    m.node("Relu", &["c1"], "r1", vec![]);
    m.conv("r1", "dw", [4, 4], [3, 2, 1], 4, true);
    m.conv("dw", "pw", [4, 6], [1, 1, 0], 1, false);
    m.node("MaxPool", &["pw"], "mp", vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])]);
    m.node("AveragePool", &["mp"], "ap", vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[1, 1]), attr_ints("pads", &[0, 0, 1, 1])]);
    m.node("GlobalAveragePool", &["ap"], "gap", vec![]);
    m.node("Flatten", &["gap"], "flat", vec![attr_i("axis", 1)]);
    let w = m.random("fc.w", &[6, 5], -1.0, 1.0);
    let b = m.random("fc.b", &[5], -0.5, 0.5);
    m.node("MatMul", &["flat", &w], "mm", vec![]);
    m.node("Add", &["mm", &b], "logits", vec![]);
    m.node("Softmax", &["logits"], "y", vec![attr_i("axis", -1)]);
    m.output("y");
    m
}

/// x [1, 4, 4, 4] → Sigmoid, Add, Mul (per-channel broadcast), Sub, Div (scalars), Clip, Exp.
fn elementwise() -> Onnx {
    let mut m = Onnx::new(2);
    m.input("x", &[1, 4, 4, 4]);
    m.node("Sigmoid", &["x"], "s", vec![]);
    m.node("Add", &["x", "s"], "a", vec![]);
    let c = m.random("c", &[1, 4, 1, 1], 0.5, 1.5);
    m.node("Mul", &["a", &c], "m", vec![]);
    let k = m.constant("k", &[], vec![0.25]);
    m.node("Sub", &["m", &k], "d", vec![]);
    let two = m.constant("two", &[], vec![2.0]);
    m.node("Div", &["d", &two], "q", vec![]);
    m.clip("q", "cl", Some(-1.0), Some(1.0));
    m.node("Exp", &["cl"], "y", vec![]);
    m.output("y");
    m
}

/// x [1, 2, 4, 4] → Transpose → Slice (stepped) → Pad → Transpose back, Concat with a nearest
/// Resize and a bilinear Resize of x, Reshape.
fn shapes() -> Onnx {
    let mut m = Onnx::new(3);
    m.input("x", &[1, 2, 4, 4]);
    m.node("Transpose", &["x"], "t", vec![attr_ints("perm", &[0, 2, 3, 1])]);
    let starts = m.constant_i64("starts", &[0, 1]);
    let ends = m.constant_i64("ends", &[4, 4]);
    let axes = m.constant_i64("axes", &[1, 2]);
    let steps = m.constant_i64("steps", &[2, 1]);
    m.node("Slice", &["t", &starts, &ends, &axes, &steps], "sl", vec![]);
    let pads = m.constant_i64("pads", &[0, 1, 0, 0, 0, 2, 1, 0]);
    m.node("Pad", &["sl", &pads], "p", vec![]);
    m.node("Transpose", &["p"], "tb", vec![attr_ints("perm", &[0, 3, 1, 2])]);
    let scales = m.constant("scales", &[4], vec![1.0, 1.0, 2.0, 2.0]);
    m.node("Resize", &["x", "", &scales], "near", vec![attr_s("mode", "nearest")]);
    m.node("Resize", &["x", "", &scales], "lin", vec![attr_s("mode", "linear"), attr_s("coordinate_transformation_mode", "align_corners")]);
    m.node("Concat", &["near", "lin"], "cat", vec![attr_i("axis", 1)]);
    let to = m.constant_i64("to", &[1, 4, 64]);
    m.node("Reshape", &["cat", &to], "y", vec![]);
    m.output("tb");
    m.output("y");
    m
}

/// x [1, 32] → MatMul 32×64 + Add → Relu → MatMul 64×16 + Add: the FullyConnected layers that
/// `--target` packs.
fn fc() -> Onnx {
    let mut m = Onnx::new(4);
    m.input("x", &[1, 32]);
    let w1 = m.random("w1", &[32, 64], -0.3, 0.3);
    let b1 = m.random("b1", &[64], -0.2, 0.2);
    m.node("MatMul", &["x", &w1], "h", vec![]);
    m.node("Add", &["h", &b1], "hb", vec![]);
    m.node("Relu", &["hb"], "hr", vec![]);
    let w2 = m.random("w2", &[64, 16], -0.3, 0.3);
    let b2 = m.random("b2", &[16], -0.2, 0.2);
    m.node("MatMul", &["hr", &w2], "o", vec![]);
    m.node("Add", &["o", &b2], "y", vec![]);
    m.output("y");
    m
}

/// A QDQ model (ONNX Runtime's quantizer's form): int8 parameters from the file, no calibration.
fn qdq() -> Onnx {
    let mut m = Onnx::new(5);
    m.input("x", &[1, 2, 4, 4]);
    let s = m.constant("s", &[], vec![0.05]);
    let z = m.scalar_8bit("z", 0, false);
    m.node("QuantizeLinear", &["x", &s, &z], "xq", vec![]);
    m.node("DequantizeLinear", &["xq", &s, &z], "xd", vec![]);
    m.node("Relu", &["xd"], "r", vec![]);
    m.node("QuantizeLinear", &["r", &s, &z], "rq", vec![]);
    m.node("DequantizeLinear", &["rq", &s, &z], "y", vec![]);
    m.output("y");
    m
}


fn convert(path: &Path, onnx: &[u8], float: bool, target: Option<&str>) -> Vec<u8> {
    let opts = Options { float, target: target.map(|t| Target::resolve(t).unwrap()), ..Options::default() };
    convert_bytes(path, onnx, &opts, |inputs| Ok(harness::rows(path, inputs).map(|r| (r, Method::MinMax))))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .bytes
}

/// int8 Softmax and an int8 Exp lookup table, which the converter never writes.
fn int8_softmax() -> Vec<u8> {
    let qx = QParams { scale: 0.1, zero_point: 5 };
    let qs = QParams { scale: 1.0 / 256.0, zero_point: -128 };
    let per_tensor = |q: QParams| Quant::PerTensor { scale: q.scale, zero_point: q.zero_point };
    let mut b = ModelBuilder::new("softmax-int8");
    let x = b.input("x", DType::I8, &[2, 10], per_tensor(qx)).unwrap();
    let table = b.constant_i32("exp", &[256], &kernels::softmax::softmax_exp_table(1.0, qx.scale)).unwrap();
    let s = b.activation("s", DType::I8, &[2, 10], per_tensor(qs)).unwrap();
    b.op(OpKind::Softmax { beta: 1.0, out_inv_q16: kernels::softmax::softmax_out_inv_q16(qs.scale).unwrap() }, &[x, table], s).unwrap();
    let qe = QParams { scale: 0.25, zero_point: -128 };
    let lut = mote_runtime::ops::unary::build_lut_i8(UnaryOp::Exp, qx, qe);
    let lut = b.constant_i8("lut", &[256], Quant::PerTensor { scale: 1.0, zero_point: 0 }, &lut).unwrap();
    let e = b.activation("e", DType::I8, &[2, 10], per_tensor(qe)).unwrap();
    b.op(OpKind::Unary { op: UnaryOp::Exp }, &[x, lut], e).unwrap();
    b.output(s).output(e);
    b.finish().unwrap()
}

/// Runs a model once on zero inputs, as the fuzz target does.
fn runs(bytes: &[u8]) {
    let aligned = AlignedBytes::new(bytes);
    let model = Model::from_bytes(&aligned).unwrap();
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    Interpreter::new(&model, &mut arena).unwrap().invoke().unwrap();
}

/// `.npz` seeds: every dtype and order the reader takes, an index and labels.
fn npz_seeds(dir: &Path) -> Vec<PathBuf> {
    let small = dir.join("small.npz");
    let x: Vec<f32> = (0..24).map(|i| i as f32 * 0.5 - 3.0).collect();
    write_npz(&small, &[("x", Array::F32(&[3, 2, 4], &x)), ("idx", Array::I64(&[2], &[2, 0])), ("y", Array::I64(&[3], &[1, 0, -1]))]);
    let fortran = dir.join("fortran.npz");
    common::write_npz_fortran(&fortran, "x", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let mut out = vec![small, fortran];
    let typed = dir.join("dtypes.npz");
    {
        let mut npz = npyz::npz::NpzWriter::create(&typed).unwrap();
        let mut w = npz.array::<f64>("x", Default::default()).unwrap().default_dtype().shape(&[2, 2]).begin_nd().unwrap();
        w.extend([0.5, -1.5, 2.0, 3.25]).unwrap();
        w.finish().unwrap();
        let mut w = npz.array::<i32>("calib_idx", Default::default()).unwrap().default_dtype().shape(&[1]).begin_nd().unwrap();
        w.extend([1]).unwrap();
        w.finish().unwrap();
        let mut w = npz.array::<u8>("y", Default::default()).unwrap().default_dtype().shape(&[2, 1]).begin_nd().unwrap();
        w.extend([3, 7]).unwrap();
        w.finish().unwrap();
    }
    out.push(typed);
    for name in ["kws_mfcc", "ad_toycar"] {
        let path = bench(&format!("data/{name}.npz"));
        let mut npz = Npz::open(&path).unwrap();
        let mut f32s = vec![];
        let mut i64s = vec![];
        for key in npz.names() {
            let Ok(a) = npz.read_f32(&key) else { continue };
            let shape: Vec<u64> = a.shape.iter().enumerate().map(|(i, &d)| if i == 0 { d.min(2) } else { d } as u64).collect();
            let n: usize = shape.iter().product::<u64>() as usize;
            if key == "x" {
                f32s.push((key, shape, a.data[..n].to_vec()));
            } else {
                i64s.push((key, shape, a.data[..n].iter().map(|&v| (v as i64).min(1)).collect::<Vec<i64>>()));
            }
        }
        let arrays: Vec<(&str, Array<'_>)> = f32s
            .iter()
            .map(|(k, s, d)| (k.as_str(), Array::F32(s, d)))
            .chain(i64s.iter().map(|(k, s, d)| (k.as_str(), Array::I64(s, d))))
            .collect();
        let cut = dir.join(format!("{name}-2rows.npz"));
        write_npz(&cut, &arrays);
        out.push(cut);
    }
    out
}

#[test]
fn fuzz_seeds_convert_and_run() {
    let write = std::env::var("MOTE_FUZZ_SEEDS").is_ok_and(|v| v == "write");
    let seeds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let mut models: Vec<(String, Vec<u8>)> = vec![];
    let mut onnx_seeds: Vec<(String, Vec<u8>)> = vec![];
    for (name, m) in [("cnn", cnn()), ("elementwise", elementwise()), ("shapes", shapes()), ("fc", fc())] {
        let path = m.write(name);
        let bytes = std::fs::read(&path).unwrap();
        models.push((format!("{name}-f32.mote"), convert(&path, &bytes, true, None)));
        models.push((format!("{name}-int8.mote"), convert(&path, &bytes, false, None)));
        onnx_seeds.push((format!("{name}.onnx"), bytes));
    }
    let path = fc().write("fc");
    let bytes = std::fs::read(&path).unwrap();
    models.push(("fc-int8-cortex-m4.mote".into(), convert(&path, &bytes, false, Some("cortex-m4"))));
    models.push(("fc-int8-cortex-m55.mote".into(), convert(&path, &bytes, false, Some("cortex-m55"))));
    let path = qdq().write("qdq");
    let bytes = std::fs::read(&path).unwrap();
    let opts = Options::default();
    models.push(("qdq-int8.mote".into(), convert_bytes(&path, &bytes, &opts, |_| Ok(None)).unwrap().bytes));
    onnx_seeds.push(("qdq.onnx".into(), bytes));
    models.push(("softmax-int8.mote".into(), int8_softmax()));
    for (name, bytes) in &models {
        assert!(bytes.len() < 16 * 1024, "{name}: {} bytes; seeds stay small", bytes.len());
        runs(bytes);
    }
    let dir = common::scratch("fuzz-seeds");
    let npz = npz_seeds(&dir);
    for path in &npz {
        let mut archive = Npz::open(path).unwrap();
        for key in archive.names() {
            archive.read_f32(&key).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
    if write {
        for (sub, files) in [("model", &models), ("onnx", &onnx_seeds)] {
            std::fs::create_dir_all(seeds.join(sub)).unwrap();
            for (name, bytes) in files.iter() {
                std::fs::write(seeds.join(sub).join(name), bytes).unwrap();
            }
        }
        std::fs::create_dir_all(seeds.join("npz")).unwrap();
        for path in &npz {
            std::fs::copy(path, seeds.join("npz").join(path.file_name().unwrap())).unwrap();
        }
    }
}
