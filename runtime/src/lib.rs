//! # mote-runtime
//!
//! The part of Mote that ships in every device's flash: the model file format, the memory plan
//! and an int8 / f32 interpreter with portable reference kernels. `#![no_std]`, no heap.
//!
//! ```text
//!   .mote file (flash, &'static [u8])      caller's arena (&mut [u8])
//!          │                                        │
//!   Model::from_bytes  ── validates once ──►  Interpreter::new ── checks size ──► invoke()
//! ```
//!
//! ## Design
//! - **Validate once, then run blindly.** [`Model::from_bytes`] checks magic, version, CRC,
//!   every offset and length, op arity, dtypes, shapes, attributes and the memory plan. Every
//!   way a file can be wrong has its own [`FormatError`]. The interpreter then indexes only
//!   inside what was validated.
//! - **Zero copy.** Weights are 16-byte aligned in the file and read in place from flash.
//! - **A plan made on the host.** Every activation's offset in the arena, and every kernel's
//!   scratch, is fixed when the model is written ([`plan`], `std` only), so firmware knows its
//!   exact RAM need before it is flashed and the device carries no allocator.
//! - **The same bytes everywhere.** int8 kernels are integer-only with TFLite's requantization
//!   rounding ([`quant`]); f32 kernels use IEEE operations in a fixed order and `libm`. A
//!   Cortex-M0, a RISC-V core and the host produce identical outputs.
//! - **One op, one place** ([`ops`]): a module per op family holds its attributes, load-time
//!   check, run and MAC count; the loader and the interpreter keep only graph-level work and a
//!   one-line `match`.
//! - **One kernel contract** ([`kernels`]): a portable reference for every op, knowing nothing of
//!   the file format, with one output stage; fast variants sit beside them and must pass the
//!   same conformance suites (`conformance`, feature `conformance`), e.g. the Arm DSP int8
//!   kernels (`kernels::arm`, run on cores that have the extension, see `build.rs`; compiled
//!   everywhere, since their scratch sizes are part of every model's plan), the Helium ones
//!   (`kernels::arm::mve`, Cortex-M55) and the blocked scalar ones (`kernels::scalar`, RISC-V
//!   and ARMv6-M).
//!
//! ## Features
//! - `all-ops` (default): every op family below, float included.
//! - One per op family for its int8 ops, named after its module in [`ops`]: `conv` (Conv2d),
//!   `fully_connected`, `binary` (Add, Sub, Mul, Div), `pool` (Pool2d, GlobalAvgPool), `unary`,
//!   `softmax`, `shape` (Concat, Slice, Transpose, Pad), `resize`, `quantize` (Quantize,
//!   Dequantize); one per family for its f32 ops, the same name with `_f32` (`softmax_f32`:
//!   a model whose only float op is its final Softmax links no other float kernel); and `f32`,
//!   every `_f32` feature. Reshape moves no bytes and is in every build. A firmware that runs known models sets
//!   `default-features = false` and lists what they need: `mote inspect MODEL` prints the
//!   Cargo line. A model with an op this build leaves out fails to load with
//!   [`FormatError::OpNotCompiled`], naming the op and the feature; the file format and the
//!   decoder are the same in every build. The gate sits in [`ops`] only (no `cfg` in kernels).
//! - `std`: the model writer ([`format::writer`]), the memory planner ([`plan`]) and
//!   `std::error::Error` on the error types. Host tools only.
//! - `defmt`: `defmt::Format` on public types, for firmware logging.
//! - `conformance`: the kernel conformance suites, `no_std` and without heap, so that a kernel
//!   variant runs them on the host or in firmware.
//! - `verify`: signed models ([`signature`]): a firmware accepts only files signed by a key it
//!   compiles in, at or above a minimum version. `no_std`, no heap.
//!
//! The format is specified in `FORMAT.md` beside this crate.

#![cfg_attr(not(test), no_std)]
#[cfg(all(feature = "std", not(test)))]
extern crate std;

#[cfg(target_endian = "big")]
compile_error!("mote-runtime reads little-endian model files in place and needs a little-endian target");

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod error;
pub mod format;
pub mod interpreter;
pub mod kernels;
pub mod ops;
#[cfg(feature = "std")]
pub mod plan;
pub mod quant;
#[cfg(feature = "verify")]
pub mod signature;
pub mod tensor;

pub use error::{FormatError, RunError};
pub use format::Model;
pub use interpreter::{Arena, Interpreter, OpHook, TensorInfo};
pub use quant::QParams;
pub use tensor::{DType, TensorId};
