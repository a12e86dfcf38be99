//! mote-converter: ONNX → optimized graph → calibrated int8 → `.mote`, with evaluation and
//! inspection. The runtime crate is the single source of numerics: the converter writes its
//! format with its planner and measures with its kernels, so what the host reports is what the
//! device computes.

pub mod data;
pub mod error;
pub mod import;
pub mod inspect;
pub mod ir;
pub mod lower;
pub mod passes;

pub use error::{ConvertError, Result};

use std::path::Path;

/// Imports an ONNX file, runs the graph passes and writes an f32 Mote model.
pub fn convert_float(onnx: &Path, name: &str, overrides: &[(String, Vec<usize>)]) -> Result<Vec<u8>> {
    let mut imported = import::import(onnx, overrides)?;
    passes::run_all(&mut imported.graph).map_err(|e| ConvertError::Build(format!("{e:#}")))?;
    lower::lower_f32(&imported.graph, name, imported.sha256)
}
