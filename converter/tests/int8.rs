//! int8 conversion of the shared benchmark models end to end: calibrate on real data, evaluate
//! against tract running the float ONNX model, and hold each model to the thresholds.
//! The figures the README publishes (its converter table, `--example results`) are guarded here
//! at the value measured, within the rounding of the printed figure, so that a change that moves
//! one fails until the README is regenerated; and `mote inspect` must count the MACs MLPerf Tiny
//! publishes for each model and list the runtime features it needs (what a firmware enables).

mod common;

use std::process::Command;

use common::{bench, scratch};
use mote_converter::calib::Dataset;
use mote_converter::eval::{evaluate, EvalReport};
use mote_converter::quantize::Method;
use mote_converter::{convert, Calibration, Options};

/// Converts and evaluates `model`; returns the report and what `mote inspect --json` prints for
/// the converted file.
fn convert_and_eval(model: &str, data: &str, calib_index: Option<&str>, eval_index: Option<&str>, labels: bool) -> (EvalReport, Inspected) {
    let onnx = bench(&format!("models/{model}"));
    let data = bench(&format!("data/{data}"));
    let opts = Options {
        calibration: Some(Calibration { path: data.clone(), key: None, index: calib_index.map(String::from), method: Method::default() }),
        ..Options::default()
    };
    let converted = convert(&onnx, &opts).unwrap();
    let aligned = mote_runtime::format::writer::AlignedBytes::new(&converted.bytes);
    let m = mote_runtime::Model::from_bytes(&aligned).unwrap();
    let inputs = mote_converter::calib::model_inputs(&m);
    for &id in m.inputs() {
        let t = m.tensor(id).unwrap();
        assert_eq!(t.dtype, mote_runtime::DType::I8, "{model}: input {} should be int8", t.name);
    }
    let set = Dataset::load(&data, &inputs, None, eval_index).unwrap();
    let labels = labels.then(|| mote_converter::calib::labels(&data, "y", &set).unwrap());
    let report = evaluate(&converted.bytes, &onnx, &set, labels.as_deref(), 8).unwrap();
    eprintln!("{report}");
    assert!(!report.layers.is_empty(), "{model}: per-layer figures are missing");
    (report, inspect(model, &converted.bytes))
}

/// What the tests check of `mote inspect --json`: the total MACs and the runtime features.
struct Inspected {
    macs: u64,
    features: Vec<String>,
}

fn inspect(model: &str, bytes: &[u8]) -> Inspected {
    let path = scratch(&format!("macs-{model}")).join("model.mote");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mote")).arg("inspect").arg(&path).arg("--json").output().unwrap();
    assert!(out.status.success(), "mote inspect {model}: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let macs = v["macs"].as_u64().unwrap_or_else(|| panic!("mote inspect --json: no integer `macs` in {v}"));
    let features = v["features"].as_array().unwrap_or_else(|| panic!("mote inspect --json: no `features` in {v}"));
    Inspected { macs, features: features.iter().map(|f| f.as_str().unwrap().to_string()).collect() }
}

/// The `mote-runtime` features that `examples/size-probe` enables under its feature `name` (a
/// one-line `name = ["mote-runtime/…", …]` in its manifest).
fn size_probe_features(name: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/size-probe/Cargo.toml");
    let manifest = std::fs::read_to_string(&path).unwrap();
    let line = manifest.lines().find(|l| l.starts_with(&format!("{name} = ["))).unwrap_or_else(|| panic!("{}: no feature {name}", path.display()));
    let quoted = line.split('"').skip(1).step_by(2);
    quoted.map(|f| f.strip_prefix("mote-runtime/").expect("a mote-runtime feature").to_string()).collect()
}

/// The RAM goal: the arena, every kernel's scratch included, at most 0.8× TFLite Micro's arena
/// for the same model (`tflm` bytes, measured with CMSIS-NN on the same board).
#[track_caller]
fn arena_within_tflm(r: &EvalReport, tflm: usize) {
    assert!(r.arena_bytes * 10 <= tflm * 8, "arena {} B > 0.8 × TFLM's {tflm} B", r.arena_bytes);
}

/// Asserts that `measured` is the figure the README publishes, `published`, within `tolerance`.
#[track_caller]
fn published(what: &str, measured: f64, published: f64, tolerance: f64) {
    assert!(
        (measured - published).abs() <= tolerance,
        "{what}: measured {measured:.6}, the README publishes {published} (± {tolerance}); if the change is intended, \
         regenerate the table with `cargo run --release -p mote-converter --example results`"
    );
}

#[test]
fn ic_resnet8_int8_meets_accuracy_and_size() {
    let (r, inspected) = convert_and_eval("ic_resnet8.onnx", "ic_cifar10.npz", Some("calib_idx"), Some("eval_idx"), true);
    assert_eq!(inspected.macs, 12_501_632, "IC ResNet-8 MACs (MLPerf Tiny)");
    assert_eq!(inspected.features, ["conv", "fully_connected", "binary", "pool", "quantize", "softmax_f32"], "IC ResNet-8: runtime features (mote inspect)");
    assert_eq!(size_probe_features("ic"), inspected.features, "examples/size-probe's feature `ic`");
    arena_within_tflm(&r, 54996);
    assert_eq!(r.samples, 900);
    assert!((r.accuracy_reference.unwrap() - 0.8778).abs() < 1e-3, "float accuracy {:?} (MANIFEST: 87.78 %)", r.accuracy_reference);
    assert!(r.accuracy.unwrap() >= 0.875, "int8 accuracy {:?} < 87.5 %", r.accuracy);
    assert!(r.top1_agreement >= 0.98, "top-1 agreement {}", r.top1_agreement);
    assert!(r.file_bytes <= 98_496, "file {} B > 98,496 B (MLPerf's int8 TFLite file)", r.file_bytes);
}

#[test]
fn kws_dscnn_int8_agrees_on_every_window() {
    let (r, inspected) = convert_and_eval("kws_dscnn.onnx", "kws_mfcc.npz", None, None, true);
    assert_eq!(inspected.macs, 2_656_768, "KWS DS-CNN MACs (MLPerf Tiny)");
    assert_eq!(inspected.features, ["conv", "fully_connected", "pool", "quantize", "softmax_f32"], "KWS DS-CNN: runtime features (mote inspect)");
    assert_eq!(size_probe_features("kws"), inspected.features, "examples/size-probe's feature `kws`");
    arena_within_tflm(&r, 22820);
    assert_eq!(r.samples, 34);
    assert_eq!(r.top1_agreement, 1.0, "KWS must agree with float on 34 of 34");
    assert_eq!(r.accuracy, r.accuracy_reference);
    assert!(r.file_bytes <= 53_936, "file {} B > MLPerf's int8 TFLite 53,936 B", r.file_bytes);
}

#[test]
fn ad_autoencoder_int8_score_drift_is_the_published_one() {
    let (r, inspected) = convert_and_eval("ad_fc_autoencoder.onnx", "ad_toycar.npz", None, None, false);
    assert_eq!(inspected.macs, 264_192, "AD autoencoder MACs (MLPerf Tiny)");
    assert_eq!(inspected.features, ["fully_connected"], "AD autoencoder: runtime features (mote inspect)");
    arena_within_tflm(&r, 2580);
    let rec = r.reconstruction.expect("an autoencoder's reconstruction score");
    assert!(rec.drift < 0.01, "mean anomaly score drift {} >= 1 %", rec.drift);
    published("AD mean anomaly score drift", rec.drift, 0.0015, 0.00005);
    published("AD per-window anomaly score drift", rec.mean_sample_drift, 0.0070, 0.00005);
}

/// The whole VWW set (61 images, 41 labelled) takes about a second, so the published figures
/// are those of the whole set.
#[test]
fn vww_mobilenet_int8_accuracy_is_the_published_one() {
    let (r, inspected) = convert_and_eval("vww_mobilenetv1_025.onnx", "vww_96.npz", None, None, true);
    assert_eq!(inspected.macs, 7_489_664, "VWW MobileNet MACs (MLPerf Tiny)");
    assert_eq!(inspected.features, ["conv", "fully_connected", "pool", "quantize", "softmax_f32"], "VWW MobileNet: runtime features (mote inspect)");
    assert_eq!(size_probe_features("vww"), inspected.features, "examples/size-probe's feature `vww`");
    arena_within_tflm(&r, 100708);
    assert_eq!((r.samples, r.labelled), (61, 41));
    assert!(r.top1_agreement >= 0.98, "top-1 agreement {}", r.top1_agreement);
    assert!(r.file_bytes <= 333_288, "file {} B > MLPerf's int8 TFLite 333,288 B", r.file_bytes);
    published("VWW int8 top-1 accuracy", r.accuracy.unwrap(), 0.9024, 0.00005);
    published("VWW float top-1 accuracy", r.accuracy_reference.unwrap(), 0.9024, 0.00005);
    published("VWW top-1 agreement", r.top1_agreement, 0.9836, 0.00005);
}

/// `--target mps2-an386` stores the AD autoencoder's FullyConnected weights in the `fc-q15`
/// layout (every layer: `k` is 640, 128 or 8) and the file computes, on the host's reference
/// kernels, exactly the bytes of the reference-layout file on every window; `--target
/// mps3-an547` (Helium) keeps int8 weights and stores every bias in `fc-bias-folded` (the same
/// bytes too, on every window); a RISC-V target keeps the reference layout (the same file as
/// without `--target`).
#[test]
fn ad_autoencoder_for_the_m4_and_m55_packs_every_fc_layer_and_computes_the_same_bytes() {
    use mote_converter::target::Target;
    use mote_runtime::format::writer::AlignedBytes;
    use mote_runtime::format::Layout;
    let onnx = bench("models/ad_fc_autoencoder.onnx");
    let data = bench("data/ad_toycar.npz");
    let convert_for = |target: Option<&str>| {
        let opts = Options {
            calibration: Some(Calibration { path: data.clone(), key: None, index: None, method: Method::default() }),
            target: target.map(|t| Target::resolve(t).unwrap()),
            ..Options::default()
        };
        convert(&onnx, &opts).unwrap().bytes
    };
    let (reference, m4, m55) = (convert_for(None), convert_for(Some("mps2-an386")), convert_for(Some("mps3-an547")));
    assert_eq!(convert_for(Some("rv32imac")), reference);
    let (ra, pa, ha) = (AlignedBytes::new(&reference), AlignedBytes::new(&m4), AlignedBytes::new(&m55));
    let (rm, pm, hm) = (mote_runtime::Model::from_bytes(&ra).unwrap(), mote_runtime::Model::from_bytes(&pa).unwrap(), mote_runtime::Model::from_bytes(&ha).unwrap());
    let fc_inputs: Vec<(u16, u16)> = pm.ops().filter(|op| matches!(op.kind, mote_runtime::ops::OpKind::FullyConnected { .. })).map(|op| (op.inputs[1], op.inputs[2])).collect();
    assert_eq!(fc_inputs.len(), 10);
    assert!(fc_inputs.iter().all(|&(w, _)| pm.layout(w) == Layout::FcQ15 && rm.layout(w) == Layout::Reference));
    assert!(fc_inputs.iter().all(|&(w, b)| hm.layout(w) == Layout::Reference && hm.layout(b) == Layout::FcBiasFolded && rm.layout(b) == Layout::Reference));
    // The same constants' sizes: only a section-table entry and the LAYOUTS section (4 + 10 · 4
    // bytes, padded to 48) more.
    assert_eq!(m55.len() - reference.len(), 16 + 48);
    assert_eq!(inspect("ad-m55", &m55).features, ["fully_connected", "fully_connected_q15"]);
    // Every weight once more (each layer's n·k a multiple of 16), a section-table entry and the
    // LAYOUTS section (4 + 10 · 4 bytes, padded to 48).
    assert_eq!(m4.len() - reference.len(), 264_192 + 16 + 48);
    let inspected = inspect("ad-m4", &m4);
    assert_eq!(inspected.features, ["fully_connected", "fully_connected_q15"]);
    assert_eq!(size_probe_features("ad"), inspected.features, "examples/size-probe's feature `ad` (the file for the M4)");

    let x = mote_converter::data::read_f32(&data, "x").unwrap();
    let rows = x.shape[0];
    let len = x.data.len() / rows;
    let run = |m: &mote_runtime::Model<'_>, row: &[f32]| {
        let mut arena = vec![0u8; m.arena_bytes() + 16];
        let mut it = mote_runtime::Interpreter::new(m, &mut arena).unwrap();
        it.set_input_f32(0, row).unwrap();
        it.invoke().unwrap();
        it.output_bytes(0).unwrap().to_vec()
    };
    for r in 0..rows {
        let row = &x.data[r * len..(r + 1) * len];
        let want = run(&rm, row);
        assert_eq!(run(&pm, row), want, "window {r}");
        assert_eq!(run(&hm, row), want, "window {r}, M55 file");
    }
}

/// KWS's only FullyConnected (768 of 2.66 M MACs) is not worth the layout's code: the file for
/// the M4 is the reference file.
#[test]
fn kws_for_the_m4_keeps_the_reference_layout() {
    let onnx = bench("models/kws_dscnn.onnx");
    let data = bench("data/kws_mfcc.npz");
    let convert_for = |target: Option<&str>| {
        let opts = Options {
            calibration: Some(Calibration { path: data.clone(), key: None, index: None, method: Method::default() }),
            target: target.map(|t| mote_converter::target::Target::resolve(t).unwrap()),
            ..Options::default()
        };
        convert(&onnx, &opts).unwrap().bytes
    };
    assert_eq!(convert_for(Some("mps2-an386")), convert_for(None));
}
