//! Data sets of real inputs (calibration, evaluation): reading `.npz` arrays with npyz, selecting
//! rows, and running a Mote model over the rows on every core.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use mote_runtime::tensor::TensorDesc;
use mote_runtime::{DType, Model};

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

/// An open `.npz` archive and the path that names it in errors: a file ([`Npz::open`]) or bytes
/// already in memory ([`Npz::from_bytes`]). Every array read goes through [`Npz::read_f32`].
pub struct Npz<R: Read + Seek> {
    path: PathBuf,
    archive: npyz::npz::NpzArchive<R>,
}

impl Npz<BufReader<File>> {
    pub fn open(path: &Path) -> Result<Self> {
        let archive = npyz::npz::NpzArchive::open(path).map_err(|cause| ConvertError::Io { path: path.to_path_buf(), cause })?;
        Ok(Npz { path: path.to_path_buf(), archive })
    }
}

impl<'a> Npz<Cursor<&'a [u8]>> {
    /// The archive held in `bytes`; `path` only names it in errors.
    pub fn from_bytes(path: &Path, bytes: &'a [u8]) -> Result<Self> {
        let archive = npyz::npz::NpzArchive::new(Cursor::new(bytes)).map_err(|cause| ConvertError::Io { path: path.to_path_buf(), cause })?;
        Ok(Npz { path: path.to_path_buf(), archive })
    }
}

impl<R: Read + Seek> Npz<R> {
    /// The names of the arrays in the archive.
    pub fn names(&self) -> Vec<String> {
        self.archive.array_names().map(|s| s.to_string()).collect()
    }

    /// Array `key` as f32 (from f32, f64 or integer data). NaN or infinite values are an error.
    pub fn read_f32(&mut self, key: &str) -> Result<Array<f32>> {
        let path = self.path.as_path();
        let npy = self
            .archive
            .by_name(key)
            .map_err(|e| bad(path, e.to_string()))?
            .ok_or_else(|| bad(path, format!("no array named {key:?}")))?;
        let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
        let fortran = npy.order() == npyz::Order::Fortran;
        let dtype = npy.dtype().descr().trim_matches('\'').to_string();
        let data: Vec<f32> = match dtype.as_str() {
            "<f4" => npy.into_vec::<f32>().map_err(|e| bad(path, e.to_string()))?,
            "<f8" => npy.into_vec::<f64>().map_err(|e| bad(path, e.to_string()))?.into_iter().map(|v| v as f32).collect(),
            "<i8" => npy.into_vec::<i64>().map_err(|e| bad(path, e.to_string()))?.into_iter().map(|v| v as f32).collect(),
            "<i4" => npy.into_vec::<i32>().map_err(|e| bad(path, e.to_string()))?.into_iter().map(|v| v as f32).collect(),
            "|u1" => npy.into_vec::<u8>().map_err(|e| bad(path, e.to_string()))?.into_iter().map(|v| v as f32).collect(),
            other => return Err(bad(path, format!("array {key:?} has dtype {other}, expected a numeric type"))),
        };
        if data.len() != shape.iter().product::<usize>() {
            return Err(bad(path, format!("array {key:?} holds {} values for its shape {shape:?}", data.len())));
        }
        let data = if fortran { c_order(&data, &shape) } else { data };
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(bad(path, format!("array {key:?} holds a NaN or infinite value at flat index {i}")));
        }
        Ok(Array { shape, data })
    }

    /// Array `key` as integers (labels, index arrays).
    pub fn read_i64(&mut self, key: &str) -> Result<Array<i64>> {
        let a = self.read_f32(key)?;
        Ok(Array { shape: a.shape, data: a.data.into_iter().map(|v| v as i64).collect() })
    }

    /// Labels of the selected rows from integer array `key`: one per row of the data set's
    /// arrays (`[N]` or `[N, 1]`; -1 marks an unlabelled row).
    pub fn labels(&mut self, key: &str, set: &Dataset) -> Result<Vec<i64>> {
        let all = self.read_i64(key)?;
        let one_per_row = matches!(all.shape[..], [n] | [n, 1] if n == set.count);
        if !one_per_row {
            return Err(bad(&self.path, format!("labels array {key:?} has shape {:?}; the data has {} rows, one label each", all.shape, set.count)));
        }
        Ok(set.rows.iter().map(|&r| all.data[r]).collect())
    }
}

/// [`Npz::read_f32`] of the file at `path`.
pub fn read_f32(path: &Path, key: &str) -> Result<Array<f32>> {
    Npz::open(path)?.read_f32(key)
}

/// `data`, stored in Fortran (column-major) order for `shape`, in C (row-major) order: what
/// NumPy writes for a transposed array (`fortran_order: True` in the `.npy` header).
fn c_order(data: &[f32], shape: &[usize]) -> Vec<f32> {
    let mut out = vec![0f32; data.len()];
    let mut index = vec![0usize; shape.len()];
    for v in out.iter_mut() {
        let mut at = 0;
        for d in (0..shape.len()).rev() {
            at = at * shape[d] + index[d];
        }
        *v = data[at];
        for d in (0..shape.len()).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    out
}

/// [`Npz::read_i64`] of the file at `path`.
pub fn read_i64(path: &Path, key: &str) -> Result<Array<i64>> {
    Npz::open(path)?.read_i64(key)
}

/// The names of the arrays in an `.npz` file.
pub fn array_names(path: &Path) -> Result<Vec<String>> {
    Ok(Npz::open(path)?.names())
}

/// Rows of real input data for every graph input, selected by an optional index array.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub path: PathBuf,
    /// Graph inputs' names and shapes (batch 1), in graph order.
    pub inputs: Vec<(String, Vec<usize>)>,
    arrays: Vec<Vec<f32>>,
    /// Selected row numbers of the arrays.
    pub rows: Vec<usize>,
    /// Rows in each array.
    pub count: usize,
}

/// The graph inputs of a Mote model: names and shapes, as [`Dataset::load`] takes them.
pub fn model_inputs(m: &Model<'_>) -> Vec<(String, Vec<usize>)> {
    m.inputs()
        .iter()
        .filter_map(|&id| m.tensor(id))
        .map(|t| (t.name.to_string(), t.shape.dims().iter().map(|&d| d as usize).collect()))
        .collect()
}

/// [`Npz::labels`] of the file at `path`.
pub fn labels(path: &Path, key: &str, set: &Dataset) -> Result<Vec<i64>> {
    Npz::open(path)?.labels(key, set)
}

impl Dataset {
    /// Reads the arrays for `inputs` from the `.npz` at `path`. A single-input model reads
    /// array `key` (default: the input's name if the file has it, else `x`); a model with
    /// several inputs reads one array per input, named as the input. Each array is
    /// `[N, d1, d2, ...]` where the input is `[1, d1, d2, ...]`. `index` names an integer
    /// array of row numbers to use (default: all rows).
    pub fn load(path: &Path, inputs: &[(String, Vec<usize>)], key: Option<&str>, index: Option<&str>) -> Result<Dataset> {
        Dataset::from_npz(&mut Npz::open(path)?, inputs, key, index)
    }

    /// [`Dataset::load`] from an open archive.
    pub fn from_npz<R: Read + Seek>(npz: &mut Npz<R>, inputs: &[(String, Vec<usize>)], key: Option<&str>, index: Option<&str>) -> Result<Dataset> {
        let path = npz.path.clone();
        let path = path.as_path();
        if inputs.len() > 1 && key.is_some() {
            return Err(bad(path, format!("the model has {} inputs: name each array after its input instead of passing a key", inputs.len())));
        }
        let names = npz.names();
        let mut arrays = vec![];
        let mut count = None;
        for (name, shape) in inputs {
            let k = match key {
                Some(k) => k.to_string(),
                None if names.contains(name) || inputs.len() > 1 => name.clone(),
                None => "x".to_string(),
            };
            if !names.contains(&k) {
                return Err(bad(path, format!("no array named {k:?} for input {name:?} (arrays: {})", names.join(", "))));
            }
            if shape.is_empty() {
                return Err(bad(path, format!("input {name:?} is a scalar (rank 0); a data set holds rows [N, ...] of an input with a batch dimension")));
            }
            let a = npz.read_f32(&k)?;
            let want: Vec<String> = std::iter::once("N".to_string()).chain(shape[1..].iter().map(|d| d.to_string())).collect();
            if shape[0] != 1 || a.shape.len() != shape.len() || a.shape[1..] != shape[1..] {
                return Err(bad(path, format!("array {k:?} has shape {:?}; input {name:?} takes [{}]", a.shape, want.join(", "))));
            }
            if count.is_some_and(|c| c != a.shape[0]) {
                return Err(bad(path, format!("array {k:?} has {} rows, the other inputs' arrays {}", a.shape[0], count.unwrap_or(0))));
            }
            count = Some(a.shape[0]);
            arrays.push(a.data);
        }
        let n = count.unwrap_or(0);
        let rows: Vec<usize> = match index {
            None => (0..n).collect(),
            Some(ix) => {
                let idx = npz.read_i64(ix)?;
                if let Some(&r) = idx.data.iter().find(|&&r| r < 0 || r as usize >= n) {
                    return Err(bad(path, format!("index array {ix:?} holds row {r}, outside 0..{n}")));
                }
                idx.data.iter().map(|&r| r as usize).collect()
            }
        };
        if rows.is_empty() {
            return Err(bad(path, "the data set is empty (no rows selected)".into()));
        }
        Ok(Dataset { path: path.to_path_buf(), inputs: inputs.to_vec(), arrays, rows, count: n })
    }

    /// A data set of `rows` rows made by `value(input, flat index)` for each input of `inputs`
    /// (`[1, ...]` shapes, as [`Dataset::load`] takes them); `path` names it in errors. For
    /// callers without a file: the fuzz targets calibrate whatever model they parse on it.
    pub fn generated(path: &Path, inputs: &[(String, Vec<usize>)], rows: usize, value: impl Fn(usize, usize) -> f32) -> Dataset {
        let arrays = inputs.iter().enumerate().map(|(i, (_, shape))| (0..rows * shape.iter().product::<usize>()).map(|j| value(i, j)).collect()).collect();
        Dataset { path: path.to_path_buf(), inputs: inputs.to_vec(), arrays, rows: (0..rows).collect(), count: rows }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Input `input` of selected row `i`.
    pub fn row(&self, input: usize, i: usize) -> &[f32] {
        let len: usize = self.inputs[input].1.iter().product();
        let r = self.rows[i];
        &self.arrays[input][r * len..(r + 1) * len]
    }
}

pub(crate) fn progress(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64).with_message(what.to_string());
    bar.set_style(ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar
}

/// Runs `work(row, state)` for rows `0..n` on every core, each thread with its own state from
/// `init`; returns the states, in thread order.
pub(crate) fn par_rows<S: Send>(
    n: usize,
    bar: &ProgressBar,
    init: impl Fn() -> Result<S> + Sync,
    work: impl Fn(usize, &mut S) -> Result<()> + Sync,
) -> Result<Vec<S>> {
    let threads = std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1).clamp(1, 8).min(n.max(1));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let (init, work) = (&init, &work);
                scope.spawn(move || -> Result<S> {
                    let mut state = init()?;
                    for row in (k..n).step_by(threads) {
                        work(row, &mut state)?;
                        bar.inc(1);
                    }
                    Ok(state)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(ConvertError::Build("a worker thread panicked".into())))).collect()
    })
}

/// A tensor's bytes as real values into `out`: f32 as is, int8 dequantized, int32 converted.
pub(crate) fn real_values(t: &TensorDesc<'_>, bytes: &[u8], out: &mut Vec<f32>) {
    out.clear();
    let word = |c: &[u8]| [c[0], c[1], c[2], c[3]];
    match (t.dtype, t.qparams()) {
        (DType::I8, Some(q)) => out.extend(bytes.iter().map(|&b| q.dequantize(b as i8))),
        (DType::I32, _) => out.extend(bytes.chunks_exact(4).map(|c| i32::from_le_bytes(word(c)) as f32)),
        _ => out.extend(bytes.chunks_exact(4).map(|c| f32::from_le_bytes(word(c)))),
    }
}
