//! What the converter targets do with one input, shared by the fuzz targets (`fuzz_targets/`)
//! and the ordinary tests that replay the committed corpora on stable
//! (`converter/tests/fuzz.rs`, which includes this file by path): one home for the harness.
//!
//! A panic inside tract that the converter catches is an error, as for the `mote` binary; any
//! other panic, an abort or a sanitizer report is a crash.

use std::path::Path;

use mote_converter::calib::Method;
use mote_converter::data::{Dataset, Npz};
use mote_converter::{convert_bytes, ConvertError, Converted, Options};
use mote_runtime::format::writer::AlignedBytes;
use mote_runtime::{ops, Model};

/// Most input elements (all inputs of one row together) the int8 conversion calibrates on;
/// larger inputs convert without calibration (an error for a model that needs ranges).
pub const MAX_INPUT_ELEMENTS: usize = 1 << 16;

/// Most work (`mote_runtime::ops::work` of the `--float` conversion) of a model that the int8
/// conversion calibrates: calibration runs the float model on every row, and a mutant of the
/// KWS seed (millions of multiply-accumulates) would otherwise spend nearly all of its time in
/// the float kernels and hold the target at a dozen executions a second. Larger models convert
/// without calibration, which still runs the int8 path's import, passes and checks up to the
/// missing ranges.
pub const MAX_CALIBRATED_WORK: u64 = 1 << 16;

/// Two generated rows for `inputs` (values in [-1, 1)), the calibration set of [`onnx`], or
/// `None` when they would hold more than [`MAX_INPUT_ELEMENTS`] values a row.
pub fn rows(path: &Path, inputs: &[(String, Vec<usize>)]) -> Option<Dataset> {
    let elements = inputs.iter().try_fold(0usize, |sum, (_, shape)| shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d)).and_then(|n| sum.checked_add(n)));
    if elements.is_none_or(|n| n > MAX_INPUT_ELEMENTS) {
        return None;
    }
    Some(Dataset::generated(path, inputs, 2, |input, i| ((input * 7 + i * 13) % 17) as f32 / 8.0 - 1.0))
}

/// Target `onnx`: the bytes as an ONNX file through the converter's whole path (parse,
/// attribute checks, tract's shape inference and constant folding, import, graph passes,
/// lowering), with `--float` and int8 (calibrated on [`rows`], min-max, when the float model's
/// work is at most [`MAX_CALIBRATED_WORK`]): each `Ok` or a `ConvertError`.
pub fn onnx(data: &[u8]) -> [Result<Converted, ConvertError>; 2] {
    let path = Path::new("fuzz.onnx");
    let float = convert_bytes(path, data, &Options { float: true, ..Options::default() }, |_| Ok(None));
    let small = float.as_ref().is_ok_and(|c| {
        let bytes = AlignedBytes::new(&c.bytes);
        Model::from_bytes(&bytes).is_ok_and(|m| ops::work(&m) <= MAX_CALIBRATED_WORK)
    });
    let int8 = convert_bytes(path, data, &Options::default(), |inputs| Ok(rows(path, inputs).filter(|_| small).map(|r| (r, Method::MinMax))));
    [float, int8]
}

/// Target `npz`: the bytes as an `.npz` file through the reader that calibration, `mote eval`
/// and labels use: every array read as f32 and as integers, a data set loaded from the first
/// array that has rows (the next array as its row index) and labels read from the last. The
/// number of arrays read, or the archive's error.
pub fn npz(data: &[u8]) -> Result<usize, ConvertError> {
    let path = Path::new("fuzz.npz");
    let mut npz = Npz::from_bytes(path, data)?;
    let names = npz.names();
    let mut read = 0;
    let mut first = None;
    for name in &names {
        let _ = npz.read_i64(name);
        if let Ok(a) = npz.read_f32(name) {
            read += 1;
            if first.is_none() && !a.shape.is_empty() {
                let shape: Vec<usize> = std::iter::once(1).chain(a.shape[1..].iter().copied()).collect();
                first = Some((name.clone(), shape));
            }
        }
    }
    if let Some((name, shape)) = first {
        let index = names.iter().find(|n| **n != name).map(String::as_str);
        let inputs = [(name.clone(), shape)];
        if let Ok(set) = Dataset::from_npz(&mut npz, &inputs, Some(&name), index) {
            if let Some(last) = names.last() {
                let _ = npz.labels(last, &set);
            }
        }
    }
    Ok(read)
}
