//! Reading `.npz` data sets (calibration, evaluation) with npyz.

use std::path::Path;

use crate::error::{ConvertError, Result};

/// One array: its shape and its values converted to f32 (or i64 for labels and indices).
#[derive(Clone, Debug)]
pub struct Array<T> {
    pub shape: Vec<usize>,
    pub data: Vec<T>,
}

fn bad(path: &Path, reason: String) -> ConvertError {
    ConvertError::Data { path: path.to_path_buf(), reason }
}

fn open(path: &Path) -> Result<npyz::npz::NpzArchive<std::io::BufReader<std::fs::File>>> {
    npyz::npz::NpzArchive::open(path).map_err(|cause| ConvertError::Io { path: path.to_path_buf(), cause })
}

/// Array `key` as f32 (from f32, f64 or integer data). NaN or infinite values are an error.
pub fn read_f32(path: &Path, key: &str) -> Result<Array<f32>> {
    let mut npz = open(path)?;
    let npy = npz
        .by_name(key)
        .map_err(|e| bad(path, e.to_string()))?
        .ok_or_else(|| bad(path, format!("no array named {key:?}")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let dtype = npy.dtype().descr().trim_matches('\'').to_string();
    let data: Vec<f32> = match dtype.as_str() {
        "<f4" => npy.into_vec::<f32>().map_err(|e| bad(path, e.to_string()))?,
        "<f8" => npy.into_vec::<f64>().map_err(|e| bad(path, e.to_string()))?.into_iter().map(|v| v as f32).collect(),
        "<i8" => npy.into_vec::<i64>().map_err(|e| bad(path, e.to_string()))?.into_iter().map(|v| v as f32).collect(),
        "<i4" => npy.into_vec::<i32>().map_err(|e| bad(path, e.to_string()))?.into_iter().map(|v| v as f32).collect(),
        "|u1" => npy.into_vec::<u8>().map_err(|e| bad(path, e.to_string()))?.into_iter().map(|v| v as f32).collect(),
        other => return Err(bad(path, format!("array {key:?} has dtype {other}, expected a numeric type"))),
    };
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(bad(path, format!("array {key:?} holds a NaN or infinite value at flat index {i}")));
    }
    Ok(Array { shape, data })
}

/// Array `key` as integers (labels, index arrays).
pub fn read_i64(path: &Path, key: &str) -> Result<Array<i64>> {
    let a = read_f32(path, key)?;
    Ok(Array { shape: a.shape, data: a.data.into_iter().map(|v| v as i64).collect() })
}

/// The names of the arrays in an `.npz` file.
pub fn array_names(path: &Path) -> Result<Vec<String>> {
    let npz = open(path)?;
    Ok(npz.array_names().map(|s| s.to_string()).collect())
}
