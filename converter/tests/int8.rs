//! int8 conversion of the shared benchmark models end to end: calibrate on real data, evaluate
//! against tract running the float ONNX model, and hold each model to the thresholds.

mod common;

use common::bench;
use mote_converter::calib::Dataset;
use mote_converter::eval::{evaluate, EvalReport};
use mote_converter::quantize::Method;
use mote_converter::{convert, Calibration, Options};

fn convert_and_eval(model: &str, data: &str, calib_index: Option<&str>, eval_index: Option<&str>, labels: bool) -> EvalReport {
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
    report
}

#[test]
fn ic_resnet8_int8_meets_accuracy_and_size() {
    let r = convert_and_eval("ic_resnet8.onnx", "ic_cifar10.npz", Some("calib_idx"), Some("eval_idx"), true);
    assert_eq!(r.samples, 900);
    assert!((r.accuracy_reference.unwrap() - 0.8778).abs() < 1e-3, "float accuracy {:?} (MANIFEST: 87.78 %)", r.accuracy_reference);
    assert!(r.accuracy.unwrap() >= 0.875, "int8 accuracy {:?} < 87.5 %", r.accuracy);
    assert!(r.top1_agreement >= 0.98, "top-1 agreement {}", r.top1_agreement);
    assert!(r.file_bytes <= 98_496, "file {} B > 98,496 B (MLPerf's int8 TFLite file)", r.file_bytes);
}

#[test]
fn kws_dscnn_int8_agrees_on_every_window() {
    let r = convert_and_eval("kws_dscnn.onnx", "kws_mfcc.npz", None, None, true);
    assert_eq!(r.samples, 34);
    assert_eq!(r.top1_agreement, 1.0, "KWS must agree with float on 34 of 34");
    assert_eq!(r.accuracy, r.accuracy_reference);
    assert!(r.file_bytes <= 53_936, "file {} B > MLPerf's int8 TFLite 53,936 B", r.file_bytes);
}

#[test]
fn ad_autoencoder_int8_score_within_one_percent() {
    let r = convert_and_eval("ad_fc_autoencoder.onnx", "ad_toycar.npz", None, None, false);
    let rec = r.reconstruction.expect("an autoencoder's reconstruction score");
    assert!(rec.drift < 0.01, "mean anomaly score drift {} >= 1 %", rec.drift);
}

#[test]
fn vww_mobilenet_int8_agrees_with_float() {
    let r = convert_and_eval("vww_mobilenetv1_025.onnx", "vww_96.npz", None, None, true);
    assert!(r.top1_agreement >= 0.98, "top-1 agreement {}", r.top1_agreement);
    assert!(r.file_bytes <= 333_288, "file {} B > MLPerf's int8 TFLite 333,288 B", r.file_bytes);
}
