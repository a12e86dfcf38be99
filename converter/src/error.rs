//! Converter errors: each names the file, tensor or node at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("cannot read {path}: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{path} is not a valid ONNX model: {reason}")]
    Onnx { path: PathBuf, reason: String },
    #[error("{path} uses operators Mote does not support:\n{list}")]
    Unsupported { path: PathBuf, list: String },
    #[error("node {node} ({op}): {reason}")]
    Node { node: String, op: String, reason: String },
    #[error("--input-shape {0}: no graph input has that name")]
    NoSuchInput(String),
    #[error("tensor {tensor}: shape is not known after fixing the batch dimension to 1; pass --input-shape NAME=d0,d1,...")]
    UnknownShape { tensor: String },
    #[error("--keep-float {name}: no node or tensor has that name (nodes: {known})")]
    NoSuchNode { name: String, known: String },
    #[error("tensor {tensor} has no int8 parameters: the model gives none (QDQ) and no calibration data was given; pass --calib DATA.npz, or --float")]
    NoRange { tensor: String },
    #[error("{path}: {reason}")]
    Data { path: PathBuf, reason: String },
    #[error("writing the model failed: {0}")]
    Build(String),
    #[error("--target: {0}")]
    Target(String),
}

pub type Result<T> = std::result::Result<T, ConvertError>;

pub(crate) fn node_err(node: &str, op: &str, reason: impl Into<String>) -> ConvertError {
    ConvertError::Node { node: node.to_string(), op: op.to_string(), reason: reason.into() }
}

/// A failure while building, running or writing a model (`ConvertError::Build`).
pub(crate) fn build_err(e: impl std::fmt::Display) -> ConvertError {
    ConvertError::Build(e.to_string())
}

/// Runs `f`, turning a panic inside it into an error message instead of a crash: tract trusts
/// parts of its input (a corrupt protobuf, an attribute out of range) and panics on them. The
/// panic message is not printed (the caller reports it as one error line naming the file); panics
/// elsewhere, and on other threads, print as usual.
pub fn catch_panic<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    use std::cell::Cell;
    thread_local!(static QUIET: Cell<u32> = const { Cell::new(0) });
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) == 0 {
                previous(info)
            }
        }));
    });
    QUIET.with(|q| q.set(q.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(q.get() - 1));
    result.map_err(|payload| {
        let message = payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned());
        format!("tract panicked: {}", message.as_deref().unwrap_or("(no message)"))
    })
}
