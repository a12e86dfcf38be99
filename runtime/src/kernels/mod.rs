//! Reference kernels: portable Rust, one file per op family, int8 and f32.
//!
//! # The kernel contract
//! A kernel is a plain function over typed slices and a small parameter struct. It knows nothing
//! of the model file, the graph or the arena (nothing here uses the op or format modules, or
//! serde): the op modules validate every shape and length once, at load, map the
//! file's attributes to the kernel's parameters and call kernels with slices whose lengths match
//! them. Kernels never allocate and never fail. Layout is NHWC for every 4-D activation;
//! convolution weights are `[out_channels, kernel_h, kernel_w, in_channels / groups]` (OHWI).
//!
//! int8 kernels take zero points and [`Requant`](crate::quant::Requant) multipliers that the host
//! computed; all their arithmetic is integer, so every target produces the same bytes. f32
//! kernels use only IEEE-754 operations in a fixed order and `libm` for transcendental functions,
//! so they too are bit-identical across targets (Rust never fuses or reorders float operations).
//!
//! Fused activations arrive as a clamp: `(lo, hi)` in the real domain for f32 kernels, in the
//! quantized domain for int8 kernels. Every kernel ends in the one output stage of [`output`]:
//! int8 requantize-and-clamp, and the f32 clamp through which **NaN passes unchanged**.
//!
//! Faster variants (Arm DSP / Helium, NEON, x86) sit beside these functions with the same
//! signature, selected by `#[cfg(target_feature = ...)]` on whole functions, and must pass the
//! same conformance suites (`mote_runtime::conformance`, feature `conformance`); these reference
//! kernels stay compiled as the specification. `arm` has int8 convolution and fully connected
//! kernels for Arm cores with the DSP extension, `arm::mve` those for Helium (NEON and x86
//! variants are still to come).
//!
//! Naming follows CMSIS-NN: `<op>[_<specialisation>]_<dtype>`.

pub mod activation;
#[cfg(any(mote_arm_dsp, test))]
pub mod arm;
pub mod conv;
pub mod elementwise;
pub mod fully_connected;
pub mod output;
pub mod pool;
pub mod quantize;
pub mod resize;
pub mod shape;
pub mod softmax;

/// The int8 convolution and fully connected layer the interpreter runs: the Helium kernels
/// (`arm::mve`) where the target has MVE, the Arm DSP kernels (`arm`) where it has the DSP
/// extension, the reference kernels elsewhere.
#[cfg(mote_arm_mve)]
pub use arm::mve::{conv2d_i8, fully_connected_i8};
#[cfg(all(mote_arm_dsp, not(mote_arm_mve)))]
pub use arm::{conv2d_i8, fully_connected_i8};
#[cfg(not(mote_arm_dsp))]
pub use {conv::conv2d_i8, fully_connected::fully_connected_i8};
