//! Face detection on the shared photos: preprocessing, the two detectors' output decoding,
//! and detection agreement (F1 at IoU 0.5) of an int8 Mote model with the float model (tract).

use image::imageops::FilterType;
use mote_converter::quantize::Method;
use mote_converter::reference::Reference;
use mote_converter::{convert, Calibration, Options};
use mote_runtime::format::writer::AlignedBytes;
use mote_runtime::{Interpreter, Model};

use super::{bench, scratch, write_npz, Array};

/// `[x1, y1, x2, y2, score]`.
pub type Det = [f32; 5];

/// The shared face photos as NCHW f32, resized to `w × h`, channels in `order` (indices into
/// RGB), each value mapped by `f`.
pub fn photos(w: u32, h: u32, order: [usize; 3], f: impl Fn(f32) -> f32) -> (usize, Vec<f32>) {
    let mut paths: Vec<_> = std::fs::read_dir(bench("data/faces")).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let mut data = vec![];
    for p in &paths {
        let img = image::open(p).unwrap().to_rgb8();
        let img = image::imageops::resize(&img, w, h, FilterType::Triangle);
        for &c in &order {
            data.extend(img.pixels().map(|px| f(px.0[c] as f32)));
        }
    }
    (paths.len(), data)
}

fn iou(a: &Det, b: &Det) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |d: &Det| (d[2] - d[0]).max(0.0) * (d[3] - d[1]).max(0.0);
    if inter > 0.0 {
        inter / (area(a) + area(b) - inter)
    } else {
        0.0
    }
}

/// Greedy non-maximum suppression by score.
pub fn nms(mut dets: Vec<Det>, threshold: f32) -> Vec<Det> {
    dets.sort_by(|a, b| b[4].total_cmp(&a[4]));
    let mut kept: Vec<Det> = vec![];
    for d in dets {
        if kept.iter().all(|k| iou(k, &d) < threshold) {
            kept.push(d);
        }
    }
    kept
}

/// Detections of `got` matched one-to-one to `want` at IoU >= 0.5: (matched, |got|, |want|).
fn matches(got: &[Det], want: &[Det]) -> (usize, usize, usize) {
    let mut used = vec![false; want.len()];
    let mut matched = 0;
    for g in got {
        let best = want
            .iter()
            .enumerate()
            .filter(|(i, w)| !used[*i] && iou(g, w) >= 0.5)
            .max_by(|a, b| iou(g, a.1).total_cmp(&iou(g, b.1)));
        if let Some((i, _)) = best {
            used[i] = true;
            matched += 1;
        }
    }
    (matched, got.len(), want.len())
}

/// UltraFace: `scores` [1, N, 2] and corner-form `boxes` [1, N, 4]; score > 0.7, NMS 0.3.
pub fn decode_ultraface(out: &[Vec<f32>], names: &[String]) -> Vec<Det> {
    let scores = &out[names.iter().position(|n| n == "scores").unwrap()];
    let boxes = &out[names.iter().position(|n| n == "boxes").unwrap()];
    let dets = (0..scores.len() / 2)
        .filter(|&i| scores[2 * i + 1] > 0.7)
        .map(|i| [boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3], scores[2 * i + 1]])
        .collect();
    nms(dets, 0.3)
}

/// YuNet (2023mar): per stride 8 / 16 / 32, `cls_s`, `obj_s` and `bbox_s` over the anchor grid
/// of a 640 × 640 input; score `sqrt(cls · obj)` > 0.6, NMS 0.3.
pub fn decode_yunet(out: &[Vec<f32>], names: &[String]) -> Vec<Det> {
    let get = |n: &str| &out[names.iter().position(|x| x == n).unwrap()];
    let mut dets = vec![];
    for stride in [8usize, 16, 32] {
        let (cls, obj, bbox) = (get(&format!("cls_{stride}")), get(&format!("obj_{stride}")), get(&format!("bbox_{stride}")));
        let cols = 640 / stride;
        for i in 0..cls.len() {
            let score = (cls[i].clamp(0.0, 1.0) * obj[i].clamp(0.0, 1.0)).sqrt();
            if score < 0.6 {
                continue;
            }
            let (r, c, s) = ((i / cols) as f32, (i % cols) as f32, stride as f32);
            let (cx, cy) = ((c + bbox[4 * i]) * s, (r + bbox[4 * i + 1]) * s);
            let (w, h) = (bbox[4 * i + 2].exp() * s, bbox[4 * i + 3].exp() * s);
            dets.push([cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0, score]);
        }
    }
    nms(dets, 0.3)
}

/// What one detector's int8 conversion measured.
pub struct DetectionReport {
    pub f1: f64,
    pub float_detections: usize,
    pub file_bytes: usize,
    pub arena_bytes: usize,
    pub convert_seconds: f64,
}

/// Converts `model` to int8 calibrated on every third photo, then returns detection F1 of int8 against
/// float over all photos and the number of float detections.
pub fn detection_f1(
    model: &str,
    test: &str,
    (n, x): (usize, Vec<f32>),
    shape: [usize; 4],
    decode: impl Fn(&[Vec<f32>], &[String]) -> Vec<Det>,
) -> DetectionReport {
    let dir = scratch(test);
    let npz = dir.join("photos.npz");
    let dims = [n as u64, shape[1] as u64, shape[2] as u64, shape[3] as u64];
    let calib: Vec<i64> = (0..n as i64).step_by(3).collect();
    write_npz(&npz, &[("x", Array::F32(&dims, &x)), ("calib_idx", Array::I64(&[calib.len() as u64], &calib))]);
    let onnx = bench(&format!("models/{model}"));
    let opts = Options {
        calibration: Some(Calibration {
            path: npz,
            key: None,
            index: Some("calib_idx".into()),
            method: Method::default(),
        }),
        ..Options::default()
    };
    let start = std::time::Instant::now();
    let converted = convert(&onnx, &opts).unwrap();
    let convert_seconds = start.elapsed().as_secs_f64();
    let aligned = AlignedBytes::new(&converted.bytes);
    let m = Model::from_bytes(&aligned).unwrap();
    let names: Vec<String> = m.outputs().iter().map(|&id| m.tensor(id).unwrap().name.to_string()).collect();
    let input_name = m.tensor(m.inputs()[0]).unwrap().name.to_string();
    let reference = Reference::load(&onnx, &[(input_name, shape.to_vec())]).unwrap();
    let mut arena = vec![0u8; m.arena_bytes() + 16];
    let mut it = Interpreter::new(&m, &mut arena).unwrap();
    let row = shape.iter().product::<usize>();
    let (mut matched, mut got_n, mut want_n) = (0, 0, 0);
    for i in 0..n {
        let input = &x[i * row..(i + 1) * row];
        let want = reference.run(&[input]).unwrap();
        it.set_input_f32(0, input).unwrap();
        it.invoke().unwrap();
        let got: Vec<Vec<f32>> = (0..names.len())
            .map(|o| {
                let mut v = vec![0f32; want[o].len()];
                it.output_to_f32(o, &mut v).unwrap();
                v
            })
            .collect();
        let (a, b) = (decode(&got, &names), decode(&want, &names));
        let (k, g, w) = matches(&a, &b);
        matched += k;
        got_n += g;
        want_n += w;
    }
    let f1 = 2.0 * matched as f64 / (got_n + want_n).max(1) as f64;
    eprintln!(
        "{model}: file {} B, {} float detections, {} int8, {} matched, F1 {f1:.3}",
        converted.bytes.len(),
        want_n,
        got_n,
        matched
    );
    DetectionReport {
        f1,
        float_detections: want_n,
        file_bytes: converted.bytes.len(),
        arena_bytes: m.arena_bytes(),
        convert_seconds,
    }
}
