//! The conversion pipeline, in the order it runs: import ([`crate::import`]), the graph passes,
//! the f32 lowering, then for int8 the calibration driver over the data set, the plan from
//! its statistics, and the int8 lowering.

use std::path::{Path, PathBuf};

use crate::calib::Method;
use crate::data::Dataset;
use crate::error::{ConvertError, Result};
use crate::target::{Packing, Target};
use crate::{calibrate, import, lower, passes, quantize};

/// Where the calibration data comes from.
#[derive(Clone, Debug)]
pub struct Calibration {
    pub path: PathBuf,
    /// Array key (single-input models); default: the input's name, else `x`.
    pub key: Option<String>,
    /// Name of an integer array selecting the rows to use.
    pub index: Option<String>,
    pub method: Method,
}

/// What to convert and how.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Model name stored in the file (default: the ONNX file's stem).
    pub name: Option<String>,
    /// Input shapes overriding the ONNX file's (symbolic dimensions default to 1).
    pub input_shapes: Vec<(String, Vec<usize>)>,
    /// Keep the whole model f32.
    pub float: bool,
    /// Real data to calibrate int8 ranges on; without it only a QDQ model's own parameters
    /// are available.
    pub calibration: Option<Calibration>,
    /// Nodes (or output tensors) to keep in f32.
    pub keep_float: Vec<String>,
    pub per_tensor_weights: bool,
    /// The board or core the file is for: its weight layouts ([`crate::target`]). `None`: the
    /// reference layout, for any target.
    pub target: Option<Target>,
}

/// A converted model and what the conversion decided.
pub struct Converted {
    pub bytes: Vec<u8>,
    /// Nodes left in f32 (empty for a float model, which is all f32).
    pub float_nodes: Vec<String>,
    pub calibration_rows: usize,
}

/// Imports an ONNX file, runs the graph passes and writes an f32 Mote model.
pub fn convert_float(onnx: &Path, name: &str, overrides: &[(String, Vec<usize>)]) -> Result<Vec<u8>> {
    let opts = Options { name: Some(name.to_string()), input_shapes: overrides.to_vec(), float: true, ..Options::default() };
    Ok(convert(onnx, &opts)?.bytes)
}

/// Converts an ONNX file: f32 if `opts.float`, else int8 (with float islands) from calibration
/// data and / or the model's own QDQ parameters. Every input error (file, data, names) is
/// reported before the model is written.
pub fn convert(onnx: &Path, opts: &Options) -> Result<Converted> {
    let bytes = std::fs::read(onnx).map_err(|cause| ConvertError::Io { path: onnx.to_path_buf(), cause })?;
    convert_bytes(onnx, &bytes, opts, |inputs| {
        let Some(cal) = &opts.calibration else { return Ok(None) };
        Ok(Some((Dataset::load(&cal.path, inputs, cal.key.as_deref(), cal.index.as_deref())?, cal.method)))
    })
}

/// [`convert`] of an ONNX model already in memory: `onnx` holds the file's bytes and `path`
/// names it (in errors, and as the directory of external data). The int8 calibration rows come
/// from `rows`, called with the graph inputs' fixed shapes once the graph is known to lower
/// (`opts.calibration` is not read here); `None` calibrates nothing, as without `--calib`.
pub fn convert_bytes(
    path: &Path,
    onnx: &[u8],
    opts: &Options,
    rows: impl FnOnce(&[(String, Vec<usize>)]) -> Result<Option<(Dataset, Method)>>,
) -> Result<Converted> {
    let name = opts.name.clone().unwrap_or_else(|| path.file_stem().and_then(|s| s.to_str()).unwrap_or("model").to_string());
    let mut imported = import::import_bytes(path, onnx, &opts.input_shapes)?;
    passes::run_all(&mut imported.graph).map_err(|e| ConvertError::Build(format!("{e:#}")))?;
    let g = &imported.graph;
    let float = lower::lower(g, &name, imported.sha256, None, Packing::REFERENCE)?;
    if opts.float {
        return Ok(Converted { bytes: float.bytes, float_nodes: vec![], calibration_rows: 0 });
    }
    let float_nodes = quantize::float_nodes(g, &opts.keep_float)?;
    let (stats, method, rows) = match rows(&imported.input_shapes)? {
        Some((data, method)) => (calibrate::calibrate(g, &float, &data)?, method, data.len()),
        None => (Default::default(), Method::MinMax, 0),
    };
    let plan = quantize::plan(g, &stats, method, &float_nodes, opts.per_tensor_weights)?;
    let mut lowered = lower::lower(g, &name, imported.sha256, Some(&plan), Packing::REFERENCE)?;
    if let Some(packing) = opts.target.as_ref().map(|t| t.packing(&lowered.bytes)).filter(|p| p.fc_q15 || p.fold_fc_bias) {
        lowered = lower::lower(g, &name, imported.sha256, Some(&plan), packing)?;
    }
    let mut names: Vec<String> = float_nodes.iter().map(|&i| g.nodes[i].name.clone()).collect();
    names.sort();
    Ok(Converted { bytes: lowered.bytes, float_nodes: names, calibration_rows: rows })
}
