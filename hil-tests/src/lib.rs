//! # mote-hil
//!
//! Hardware-in-the-loop checks under QEMU: every model on every emulated board must produce the
//! host's output bytes exactly, and its cost (instructions per inference, flash, RAM) must stay
//! within the budgets in `budgets.toml`.
//!
//! ```text
//!  .onnx ──model_bytes_for(board)──► .mote ──host interpreter──► reference output bytes
//!                           │                                    │ compare, byte for byte
//!                           └──► job (model + input) ──QEMU──► guest output bytes, marks, stack
//!  targets/boards/*.toml ──► examples/hil-firmware, one build per board
//! ```
//!
//! ## Design
//! - **One firmware per board, the model loaded at run time.** [`firmware::build`] compiles
//!   `examples/hil-firmware` once per board; [`job::job`] packs a model and its input, which QEMU's
//!   `-device loader` writes into the board's `MODEL` region. Adding a model costs no build.
//! - **Exact counts from outside the guest.** The `qemu-insncount` plugin counts every executed
//!   instruction and prints the running total whenever the firmware calls `mote_hil_marker`, so
//!   instructions per inference and per op are exact and identical run to run on every core. The
//!   firmware's own counter (SysTick or `minstret`) is checked against them, so what a real board
//!   reports can be trusted too.
//! - **The host is the oracle.** The reference comes from the same `mote-runtime` on the host,
//!   for the first real input row of the model's data set; the guest must match every output byte.
//! - **Budgets are snapshots measured on the target** ([`budget`]): a figure that grows by more
//!   than 2 % fails; `MOTE_BLESS=1` rewrites the file.

pub mod budget;
pub mod elf;
pub mod firmware;
pub mod host;
pub mod job;
pub mod matrix;
pub mod models;
pub mod qemu;

use std::path::{Path, PathBuf};

/// Why a HIL step failed. Each variant says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HilError {
    #[error("`{tool}` is not installed: run `{install}` (bash scripts/test.sh installs it)")]
    Missing { tool: String, install: String },
    #[error("cannot read or write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Target(#[from] mote_targets::TargetError),
    #[error("converting {path}: {source}")]
    Convert { path: PathBuf, source: mote_converter::ConvertError },
    #[error("{what}: {reason}")]
    Host { what: String, reason: String },
    #[error("building the firmware for {board} failed:\n{log}")]
    Build { board: String, log: String },
    #[error("{path} is not a usable firmware ELF: {reason}")]
    Elf { path: PathBuf, reason: String },
    #[error("building the QEMU plugin failed:\n{log}")]
    Plugin { log: String },
    #[error("{board}: {problem}\n--- guest output ---\n{output}")]
    Guest { board: String, problem: String, output: String },
    #[error("{path}: {reason}")]
    Budgets { path: PathBuf, reason: String },
}

pub type Result<T> = std::result::Result<T, HilError>;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> HilError + '_ {
    move |source| HilError::Io { path: path.to_path_buf(), source }
}

/// The repository's root (the workspace this crate belongs to).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("hil-tests sits in the repository root").to_path_buf()
}

/// The shared benchmark suite, `../shared/bench` from the repository root.
pub fn bench_dir() -> PathBuf {
    repo_root().join("../shared/bench")
}
