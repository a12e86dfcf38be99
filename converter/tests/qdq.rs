//! Already-quantized (QDQ) models, as ONNX Runtime's quantizer writes them: their scales and zero
//! points become the int8 tensors' parameters, with no calibration data needed.

mod common;

use common::onnx::Onnx;
use mote_converter::reference::Reference;
use mote_converter::{convert, Options};
use mote_runtime::format::writer::AlignedBytes;
use mote_runtime::quant::QParams;
use mote_runtime::{DType, Interpreter, Model};

/// `x → Q/DQ → Conv → Relu → Q/DQ → Conv → Q/DQ → y`, activations in uint8 (`unsigned`) or int8.
fn qdq_model(test: &str, unsigned: bool) -> std::path::PathBuf {
    let mut g = Onnx::new(7);
    g.input("x", &[1, 2, 6, 6]);
    let shift = if unsigned { 128 } else { 0 };
    let qdq = |g: &mut Onnx, x: &str, y: &str, scale: f32, zp: i32| {
        let s = g.constant(&format!("{y}.scale"), &[], vec![scale]);
        let z = g.scalar_8bit(&format!("{y}.zp"), zp + shift, unsigned);
        g.node("QuantizeLinear", &[x, &s, &z], &format!("{y}.q"), vec![]);
        g.node("DequantizeLinear", &[&format!("{y}.q"), &s, &z], y, vec![]);
    };
    qdq(&mut g, "x", "xq", 0.02, 3);
    g.conv("xq", "c1", [2, 4], [3, 1, 1], 1, true);
    g.node("Relu", &["c1"], "r1", vec![]);
    qdq(&mut g, "r1", "r1q", 0.05, -128);
    g.conv("r1q", "c2", [4, 3], [3, 1, 1], 1, true);
    qdq(&mut g, "c2", "y", 0.04, 10);
    g.output("y");
    // A quantizer stores weights on a symmetric per-channel int8 grid (int8 constants behind a
    // DequantizeLinear, which tract folds to these values).
    for w in g.initializers.iter_mut().filter(|t| t.name.ends_with(".w")) {
        let per = w.float_data.len() / w.dims[0] as usize;
        for ch in w.float_data.chunks_mut(per) {
            let scale = ch.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            ch.iter_mut().for_each(|v| *v = (*v / scale).round() * scale);
        }
    }
    g.write(test)
}

fn check(unsigned: bool) {
    let onnx = qdq_model(if unsigned { "qdq-u8" } else { "qdq-i8" }, unsigned);
    let converted = convert(&onnx, &Options::default()).unwrap();
    assert_eq!(converted.calibration_rows, 0);
    let aligned = AlignedBytes::new(&converted.bytes);
    let m = Model::from_bytes(&aligned).unwrap();
    let x = m.tensor(m.inputs()[0]).unwrap();
    assert_eq!((x.dtype, x.qparams()), (DType::I8, Some(QParams { scale: 0.02, zero_point: 3 })));
    let y = m.tensor(m.outputs()[0]).unwrap();
    assert_eq!((y.dtype, y.qparams()), (DType::I8, Some(QParams { scale: 0.04, zero_point: 10 })));
    let relu = (0..m.tensor_count() as u16).filter_map(|id| m.tensor(id)).find(|t| t.qparams() == Some(QParams { scale: 0.05, zero_point: -128 }));
    assert!(relu.is_some(), "the fused Relu output lost its QDQ parameters");

    // tract runs the fake-quantized float graph; Mote's integer pipeline must land on the same
    // quantization grid, within one step of the output scale.
    let reference = Reference::load(&onnx, &[("x".into(), vec![1, 2, 6, 6])]).unwrap();
    let mut arena = vec![0u8; m.arena_bytes() + 16];
    let mut it = Interpreter::new(&m, &mut arena).unwrap();
    let mut rng = common::onnx::Rng(3);
    for _ in 0..4 {
        let input = rng.vec(72, -2.0, 2.0);
        let want = reference.run(&[&input]).unwrap();
        it.set_input_f32(0, &input).unwrap();
        it.invoke().unwrap();
        let mut got = vec![0f32; want[0].len()];
        it.output_to_f32(0, &mut got).unwrap();
        for (g, w) in got.iter().zip(&want[0]) {
            assert!((g - w).abs() <= 0.04 * 1.01, "mote {g} vs tract {w}");
        }
    }
}

#[test]
fn int8_qdq_parameters_are_kept() {
    check(false);
}

#[test]
fn uint8_qdq_parameters_are_shifted_to_int8() {
    check(true);
}

#[test]
fn a_float_model_without_calibration_data_is_refused() {
    let mut g = Onnx::new(1);
    g.input("x", &[1, 2, 4, 4]);
    g.conv("x", "y", [2, 2], [3, 1, 1], 1, true);
    g.output("y");
    let err = convert(&g.write("no-qdq"), &Options::default()).err().expect("int8 without ranges must fail").to_string();
    assert!(err.contains("--calib") && err.contains("no int8 parameters"), "{err}");
}
