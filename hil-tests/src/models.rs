//! The models of the matrix and their inputs.

use std::path::{Path, PathBuf};

use mote_runtime::format::writer::{BuildError, ModelBuilder};
use mote_runtime::ops::{Activation, OpKind, PoolKind};
use mote_runtime::tensor::Quant;
use mote_runtime::DType;

use crate::{bench_dir, HilError, Result};
use mote_converter::target::Target;

/// A model from the shared benchmark suite and the data set its input row comes from.
#[derive(Clone, Copy, Debug)]
pub struct BenchModel {
    /// The name used in budgets and reports.
    pub name: &'static str,
    /// File in `bench/models/`.
    pub onnx: &'static str,
    /// File in `bench/data/` and the array holding its inputs, one row per sample.
    pub data: &'static str,
    pub key: &'static str,
    /// The integer array in `data` that selects calibration rows, where the data set has one.
    pub calib_index: Option<&'static str>,
}

impl BenchModel {
    pub fn onnx_path(&self) -> PathBuf {
        bench_dir().join("models").join(self.onnx)
    }

    pub fn data_path(&self) -> PathBuf {
        bench_dir().join("data").join(self.data)
    }
}

/// Keyword spotting, image classification, anomaly detection and visual wake words: the MLPerf
/// Tiny models every large-enough board must run.
pub const BENCH: [BenchModel; 4] = [
    BenchModel { name: "kws_dscnn", onnx: "kws_dscnn.onnx", data: "kws_mfcc.npz", key: "x", calib_index: None },
    BenchModel { name: "ic_resnet8", onnx: "ic_resnet8.onnx", data: "ic_cifar10.npz", key: "x", calib_index: Some("calib_idx") },
    BenchModel { name: "ad_fc_autoencoder", onnx: "ad_fc_autoencoder.onnx", data: "ad_toycar.npz", key: "x", calib_index: None },
    BenchModel { name: "vww_mobilenetv1_025", onnx: "vww_mobilenetv1_025.onnx", data: "vww_96.npz", key: "x", calib_index: None },
];

/// The `.mote` file of a benchmark model in the reference layout, for any target. Every cell
/// gets its model here or from [`model_bytes_for`], so these are the one place that chooses how
/// models are converted: int8, calibrated on `model.data` (its calibration rows where it names
/// them) with the converter's default method, as `mote convert` does. Nothing downstream
/// assumes a dtype: inputs are written in the model's input dtype.
pub fn model_bytes(model: &BenchModel) -> Result<Vec<u8>> {
    model_bytes_with(model, None)
}

/// The `.mote` file the matrix runs for a benchmark model on a board: converted for it
/// (`mote convert --target BOARD`: packed weights where its kernels read them faster).
pub fn model_bytes_for(model: &BenchModel, target: &Target) -> Result<Vec<u8>> {
    model_bytes_with(model, Some(target.clone()))
}

fn model_bytes_with(model: &BenchModel, target: Option<Target>) -> Result<Vec<u8>> {
    let onnx = model.onnx_path();
    if !onnx.exists() {
        return Err(missing_bench(&onnx));
    }
    int8(&onnx, model.name, &model.data_path(), model.key, model.calib_index, target)
}

fn int8(onnx: &Path, name: &str, data: &Path, key: &str, calib_index: Option<&str>, target: Option<Target>) -> Result<Vec<u8>> {
    let calibration = mote_converter::Calibration {
        path: data.to_path_buf(),
        key: Some(key.to_string()),
        index: calib_index.map(str::to_string),
        method: mote_converter::quantize::Method::default(),
    };
    let opts = mote_converter::Options { name: Some(name.to_string()), calibration: Some(calibration), target, ..Default::default() };
    mote_converter::convert(onnx, &opts).map(|c| c.bytes).map_err(|source| HilError::Convert { path: onnx.to_path_buf(), source })
}

/// The bundled demo model (`examples/demo/`: a digits CNN trained on scikit-learn's 8×8
/// digits), int8, and the first of its held-out images: small enough for every board,
/// including the 16 KB micro:bit, and the model `scripts/demo.sh` runs.
pub fn digits() -> Result<(Vec<u8>, Vec<f32>)> {
    let dir = crate::repo_root().join("examples/demo");
    let (onnx, data) = (dir.join("digits.onnx"), dir.join("digits.npz"));
    let bytes = int8(&onnx, "digits", &data, "x", Some("calib_idx"), None)?;
    let idx = mote_converter::data::read_i64(&data, "eval_idx").map_err(|source| HilError::Convert { path: data.clone(), source })?;
    let x = mote_converter::data::read_f32(&data, "x").map_err(|source| HilError::Convert { path: data.clone(), source })?;
    let row = idx.data.first().copied().unwrap_or(0) as usize;
    let len = x.data.len() / x.shape[0].max(1);
    Ok((bytes, x.data[row * len..(row + 1) * len].to_vec()))
}

/// Row 0 of array `key` in `npz`, as f32.
pub fn first_row(npz: &Path, key: &str) -> Result<Vec<f32>> {
    if !npz.exists() {
        return Err(missing_bench(npz));
    }
    let a = mote_converter::data::read_f32(npz, key).map_err(|source| HilError::Convert { path: npz.to_path_buf(), source })?;
    let rows = a.shape.first().copied().unwrap_or(0);
    if rows == 0 {
        return Err(HilError::Host { what: npz.display().to_string(), reason: format!("array {key:?} has no rows") });
    }
    let row_len = a.data.len() / rows;
    Ok(a.data[..row_len].to_vec())
}

fn missing_bench(path: &Path) -> HilError {
    HilError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "the benchmark suite must sit beside the repository (../shared/bench)"),
    }
}

/// A small network with the shape of the KWS DS-CNN (strided conv, depthwise + pointwise blocks,
/// average pooling, a classifier, softmax) for the boards on which no benchmark model fits, such
/// as the 16 KB micro:bit. Its weights are a fixed pseudo-random sequence; it reads KWS's real
/// MFCC input `[1, 49, 10, 1]`. Its arena is under 12 KB.
pub fn tiny_dscnn() -> Result<Vec<u8>> {
    build_tiny_dscnn().map_err(|e| HilError::Host { what: "the tiny DS-CNN".into(), reason: e.to_string() })
}

fn build_tiny_dscnn() -> std::result::Result<Vec<u8>, BuildError> {
    let mut seed = 0x9E37_79B9u32;
    let mut weights = |n: usize, scale: f32| -> Vec<f32> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                (seed as f32 / u32::MAX as f32 - 0.5) * scale
            })
            .collect()
    };
    let conv = |stride: u16, pad: u16, groups: u32| OpKind::Conv2d {
        stride: [stride, stride],
        dilation: [1, 1],
        pad: [pad; 4],
        groups,
        act: Activation::Relu,
    };
    let none = Quant::None;
    let c = 8u32;
    let mut b = ModelBuilder::new("tiny_dscnn");
    let x = b.input("mfcc", DType::F32, &[1, 49, 10, 1], none)?;
    let w0 = b.constant_f32("w0", &[c, 3, 3, 1], &weights(9 * c as usize, 0.2))?;
    let b0 = b.constant_f32("b0", &[c], &weights(c as usize, 0.1))?;
    let h0 = b.activation("h0", DType::F32, &[1, 25, 5, c], none)?;
    b.op(conv(2, 1, 1), &[x, w0, b0], h0)?;
    let wd = b.constant_f32("wd", &[c, 3, 3, 1], &weights(9 * c as usize, 0.5))?;
    let bd = b.constant_f32("bd", &[c], &weights(c as usize, 0.1))?;
    let h1 = b.activation("h1", DType::F32, &[1, 25, 5, c], none)?;
    b.op(conv(1, 1, c), &[h0, wd, bd], h1)?;
    let wp = b.constant_f32("wp", &[c, 1, 1, c], &weights((c * c) as usize, 0.5))?;
    let bp = b.constant_f32("bp", &[c], &weights(c as usize, 0.1))?;
    let h2 = b.activation("h2", DType::F32, &[1, 25, 5, c], none)?;
    b.op(conv(1, 0, 1), &[h1, wp, bp], h2)?;
    let pooled = b.activation("pooled", DType::F32, &[1, 1, 1, c], none)?;
    let pool = OpKind::Pool2d { kind: PoolKind::Avg, kernel: [25, 5], stride: [25, 5], pad: [0; 4], count_include_pad: false, act: Activation::None };
    b.op(pool, &[h2], pooled)?;
    let flat = b.activation("flat", DType::F32, &[1, c], none)?;
    b.op(OpKind::Reshape, &[pooled], flat)?;
    let wf = b.constant_f32("wf", &[12, c], &weights(12 * c as usize, 1.0))?;
    let bf = b.constant_f32("bf", &[12], &weights(12, 0.1))?;
    let logits = b.activation("logits", DType::F32, &[1, 12], none)?;
    b.op(OpKind::FullyConnected { act: Activation::None }, &[flat, wf, bf], logits)?;
    let probs = b.activation("probs", DType::F32, &[1, 12], none)?;
    b.op(OpKind::Softmax { beta: 1.0, out_inv_q16: 0 }, &[logits], probs)?;
    b.output(probs);
    b.finish()
}
