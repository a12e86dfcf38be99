//! mote-converter: ONNX → optimized graph → calibrated int8 → `.mote`, with evaluation and
//! inspection. The runtime crate is the single source of numerics: the converter writes its
//! format with its planner, calibrates with its f32 kernels, measures with its int8 kernels and
//! takes every quantization number (activation parameters, weight scales, biases, requant
//! multipliers) from `mote_runtime::quant`, so what the host reports is what the device
//! computes.
//!
//! # Module map
//! Each module uses only those above it (no cycles):
//!
//! | module | what it is | uses |
//! |---|---|---|
//! | [`error`], [`ir`], [`data`] | typed errors; the logical graph; `.npz` data sets and a row runner | – |
//! | [`import`] | ONNX → [`ir::Graph`]: one function per ONNX op, in one table | `ir`, `error` |
//! | [`passes`] | BatchNorm folding, MatMul → FullyConnected, activation fusion | `ir` |
//! | [`calib`] | calibration statistics: histograms and range [`calib::Method`]s | `data` |
//! | [`quantize`] | the int8 plan: float islands, shared parameters, per-tensor qparams | `calib`, `ir` |
//! | [`target`] | `--target`: a board's or core's kernels and flash, the weight layouts chosen for them | – |
//! | [`lower`] | layout assignment and emission of the `.mote` file, f32 or per the plan | `quantize`, `ir` |
//! | [`calibrate`] | the calibration driver: the f32 model over the data set, into statistics | `lower`, `calib`, `data` |
//! | [`pipeline`] | [`convert`]: all of the above in order | all of the above |
//! | [`reference`](mod@reference), [`eval`], [`inspect`] | tract as the float reference; `mote eval`; `mote inspect` | `import`; `pipeline`, `data` |
//! | [`sign`] | `mote keygen`, `mote sign`, `mote verify`: key files; the format and crypto are `mote_runtime::signature`'s | – |
//! | [`serve`], [`hybrid`] | `mote serve` (an OIP v2 server, axum); `mote hybrid` (accuracy vs escalation rate) | `reference`, `data`, mote-cloud |

pub mod calib;
pub mod calibrate;
pub mod data;
pub mod error;
pub mod eval;
pub mod hybrid;
pub mod import;
pub mod inspect;
pub mod ir;
pub mod lower;
pub mod passes;
pub mod pipeline;
pub mod quantize;
pub mod reference;
pub mod serve;
pub mod sign;
pub mod target;

pub use error::{ConvertError, Result};
pub use pipeline::{convert, convert_bytes, convert_float, Calibration, Converted, Options};
