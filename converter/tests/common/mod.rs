//! Shared by the converter's integration tests.
#![allow(dead_code)]

pub mod detect;
pub mod onnx;

use std::path::{Path, PathBuf};

use npyz::WriterBuilder;

pub fn bench(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench").join(rel);
    assert!(p.exists(), "{} is missing: the benchmark suite must sit beside the repository (../shared)", p.display());
    p
}

/// The largest `|got[i] - want[i]|` of two equally long sequences, or NaN as soon as one
/// difference is NaN, so that `max_abs_diff(..) <= tol` fails when either side holds a NaN
/// (`fold(0.0, f32::max)` would drop it and pass).
pub fn max_abs_diff<'a>(got: impl IntoIterator<Item = &'a f32>, want: impl IntoIterator<Item = &'a f32>) -> f32 {
    let (mut got, mut want) = (got.into_iter(), want.into_iter());
    let mut worst = 0f32;
    loop {
        match (got.next(), want.next()) {
            (Some(g), Some(w)) => {
                let d = (g - w).abs();
                if d.is_nan() {
                    return f32::NAN;
                }
                worst = worst.max(d);
            }
            (None, None) => return worst,
            _ => panic!("max_abs_diff: the sequences differ in length"),
        }
    }
}

/// A fresh, empty directory for one test's files.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mote-test-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub enum Array<'a> {
    F32(&'a [u64], &'a [f32]),
    I64(&'a [u64], &'a [i64]),
}

/// Writes an `.npz` file holding the named arrays.
pub fn write_npz(path: &Path, arrays: &[(&str, Array<'_>)]) {
    let mut npz = npyz::npz::NpzWriter::create(path).unwrap();
    for (name, a) in arrays {
        match a {
            Array::F32(shape, data) => {
                let mut w = npz.array::<f32>(name, Default::default()).unwrap().default_dtype().shape(shape).begin_nd().unwrap();
                w.extend(data.iter().copied()).unwrap();
                w.finish().unwrap();
            }
            Array::I64(shape, data) => {
                let mut w = npz.array::<i64>(name, Default::default()).unwrap().default_dtype().shape(shape).begin_nd().unwrap();
                w.extend(data.iter().copied()).unwrap();
                w.finish().unwrap();
            }
        }
    }
}

/// Writes an `.npz` file holding one f32 array stored in Fortran (column-major) order:
/// `data` is the array's values in that order, as NumPy writes a transposed array.
pub fn write_npz_fortran(path: &Path, name: &str, shape: &[u64], data: &[f32]) {
    let mut npz = npyz::npz::NpzWriter::create(path).unwrap();
    let mut w = npz.array::<f32>(name, Default::default()).unwrap().default_dtype().shape(shape).order(npyz::Order::Fortran).begin_nd().unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
}
