//! Regenerates the converter rows of the README's results table: every shared model converted
//! to int8 (percentile calibration), evaluated against the float ONNX model, beside the ONNX
//! Runtime figures of `../shared/bench/MANIFEST.md`.
//!
//!     cargo run --release -p mote-converter --example results

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::bench;
use common::detect::{decode_ultraface, decode_yunet, detection_f1, photos};
use mote_converter::calib::Dataset;
use mote_converter::eval::evaluate;
use mote_converter::quantize::Method;
use mote_converter::{convert, Calibration, Options};

struct Row {
    model: &'static str,
    float_bytes: u64,
    mote_bytes: usize,
    arena: usize,
    metric: String,
    seconds: f64,
    ort: &'static str,
}

fn classifier(model: &'static str, file: &str, data: &str, calib: Option<&str>, eval: Option<&str>, labels: bool, ort: &'static str) -> Row {
    let onnx = bench(&format!("models/{file}"));
    let path = bench(&format!("data/{data}"));
    let opts = Options {
        calibration: Some(Calibration { path: path.clone(), key: None, index: calib.map(String::from), method: Method::default() }),
        ..Options::default()
    };
    let start = Instant::now();
    let converted = convert(&onnx, &opts).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let aligned = mote_runtime::format::writer::AlignedBytes::new(&converted.bytes);
    let m = mote_runtime::Model::from_bytes(&aligned).unwrap();
    let inputs = mote_converter::calib::model_inputs(&m);
    let set = Dataset::load(&path, &inputs, None, eval).unwrap();
    let labels = labels.then(|| mote_converter::calib::labels(&path, "y", &set).unwrap());
    let r = evaluate(&converted.bytes, &onnx, &set, labels.as_deref(), 0).unwrap();
    let pct = |v: f64| format!("{:.2} %", v * 100.0);
    let metric = match (&r.reconstruction, r.accuracy, r.accuracy_reference) {
        (Some(rec), _, _) => format!("anomaly score drift {} (mean), {} per window", pct(rec.drift), pct(rec.mean_sample_drift)),
        (None, Some(a), Some(f)) => format!("top-1 {} (float {}) on {} labelled; agreement {}", pct(a), pct(f), r.labelled, pct(r.top1_agreement)),
        _ => format!("agreement {}", pct(r.top1_agreement)),
    };
    Row { model, float_bytes: std::fs::metadata(&onnx).unwrap().len(), mote_bytes: r.file_bytes, arena: r.arena_bytes, metric, seconds, ort }
}

fn main() {
    let mut rows = vec![
        classifier("IC ResNet-8", "ic_resnet8.onnx", "ic_cifar10.npz", Some("calib_idx"), Some("eval_idx"), true, "124,334 B, 87.56 %, agreement 98.6 %"),
        classifier("VWW MobileNet", "vww_mobilenetv1_025.onnx", "vww_96.npz", None, None, true, "354,654 B, 90.2 %, agreement 98.4 %"),
        classifier("KWS DS-CNN", "kws_dscnn.onnx", "kws_mfcc.npz", None, None, true, "69,503 B, 4/5, agreement 34/34"),
        classifier("AD autoencoder", "ad_fc_autoencoder.onnx", "ad_toycar.npz", None, None, false, "310,904 B, drift 0.7 %"),
    ];
    for (model, file, test, w, h, order, decode, ort) in [
        ("YuNet", "yunet_2023mar.onnx", "results-yunet", 640, 640, [2, 1, 0], decode_yunet as fn(&[Vec<f32>], &[String]) -> Vec<common::detect::Det>, "165,738 B, F1 0.987"),
        ("UltraFace", "ultraface_rfb320.onnx", "results-ultraface", 320, 240, [0, 1, 2], decode_ultraface, "458,269 B, F1 0.927"),
    ] {
        let scale: fn(f32) -> f32 = if model == "YuNet" { |v| v } else { |v| (v - 127.0) / 128.0 };
        let r = detection_f1(file, test, photos(w, h, order, scale), [1, 3, h as usize, w as usize], decode);
        rows.push(Row {
            model,
            float_bytes: std::fs::metadata(bench(&format!("models/{file}"))).unwrap().len(),
            mote_bytes: r.file_bytes,
            arena: r.arena_bytes,
            metric: format!("detection F1 vs float {:.3} ({} float detections on 24 photos)", r.f1, r.float_detections),
            seconds: r.convert_seconds,
            ort,
        });
    }
    println!("| model | float ONNX | Mote int8 file | arena | int8 vs float | convert | ONNX Runtime int8 (MANIFEST) |");
    println!("|---|---|---|---|---|---|---|");
    let commas = |n: u64| {
        let s = n.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    for r in rows {
        println!("| {} | {} B | {} B | {} B | {} | {:.1} s | {} |", r.model, commas(r.float_bytes), commas(r.mote_bytes as u64), commas(r.arena as u64), r.metric, r.seconds, r.ort);
    }
}
