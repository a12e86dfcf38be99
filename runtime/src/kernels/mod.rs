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
//! kernels for Arm cores with the DSP extension, `arm::mve` those for Helium (Cortex-M55),
//! `scalar` blocked ones for RISC-V and ARMv6-M (NEON and x86 variants are still to come). `arm`
//! (with `arm::mve`) is compiled on every target (with portable definitions of the instructions
//! off Arm), since its scratch sizes are part of every model's memory plan.
//!
//! # Scratch
//! A kernel that needs working memory (widened operands, gathered windows) states how much per
//! shape ([`conv2d_i8_scratch_bytes`], [`fully_connected_i8_scratch_bytes`]); the converter
//! plans that many bytes of the arena for the op, overlapping tensors that are dead during it,
//! and the interpreter passes them in. No kernel takes scratch from the stack, so the arena
//! figure a model file states is all the RAM its tensors and kernels use.
//!
//! # Packed weights
//! A constant stored in a packed layout ([`crate::format::Layout`], chosen by the converter for a
//! target) reaches a kernel through the op module, which asks [`crate::format::Model::layout`]
//! once per call and calls that layout's kernel: `fc-q15` FullyConnected weights
//! ([`fully_connected::q15_index`]) run [`fully_connected_q15_i8_with_scratch`], the Arm DSP
//! kernel or the reference [`fully_connected::fully_connected_q15_i8`], whose bytes equal the
//! reference layout's; an `fc-bias-folded` FullyConnected bias ([`fully_connected::fold_bias`])
//! runs the layer's usual kernel with an input zero point of 0.
//!
//! Naming follows CMSIS-NN: `<op>[_<specialisation>]_<dtype>`.

pub mod activation;
pub mod arm;
pub mod conv;
pub mod elementwise;
pub mod fully_connected;
pub mod output;
pub mod pool;
pub mod quantize;
pub mod resize;
#[cfg(any(not(mote_arm_dsp), test))]
pub mod scalar;
pub mod shape;
pub mod softmax;

/// The int8 convolution and fully connected layer the interpreter runs, with the op's planned
/// scratch: the Helium kernels (`arm::mve`) where the target has MVE, the Arm DSP kernels (`arm`)
/// where it has the DSP extension, the blocked scalar kernels (`scalar`, which need no scratch)
/// on the other microcontroller cores (RISC-V, ARMv6-M), the reference kernels (no scratch
/// either) elsewhere: the host, whose outputs the devices are checked against.
#[cfg(mote_arm_mve)]
pub use arm::mve::{conv2d_i8_with_scratch, fully_connected_i8_with_scratch};
#[cfg(all(mote_arm_dsp, not(mote_arm_mve)))]
pub use arm::{conv2d_i8_with_scratch, fully_connected_i8_with_scratch};

/// The target's int8 convolution and fully connected layer with the reference kernels'
/// signature (on DSP and MVE cores taking exactly the planned scratch from the stack): what the
/// conformance suites run on a device (`examples/conformance-firmware`).
#[cfg(mote_arm_mve)]
pub use arm::mve::{conv2d_i8, fully_connected_i8};
#[cfg(all(mote_arm_dsp, not(mote_arm_mve)))]
pub use arm::{conv2d_i8, fully_connected_i8};
#[cfg(all(not(mote_arm_dsp), any(target_arch = "riscv32", target_arch = "arm")))]
pub use scalar::{conv2d_i8, fully_connected_i8};
#[cfg(all(not(mote_arm_dsp), not(any(target_arch = "riscv32", target_arch = "arm"))))]
pub use {conv::conv2d_i8, fully_connected::fully_connected_i8};

/// The int8 fully connected layer on weights in the `fc-q15` layout
/// ([`crate::format::Layout::FcQ15`]), with the op's planned scratch, and with the reference
/// signature (conformance suites): the Arm DSP kernel where the target has the DSP extension
/// (Helium cores included: their int8 kernel reads int8 weights, this one the widened ones), the
/// reference kernel elsewhere.
#[cfg(mote_arm_dsp)]
pub use arm::{fully_connected_q15_i8, fully_connected_q15_i8_with_scratch};
#[cfg(not(mote_arm_dsp))]
pub use fully_connected::fully_connected_q15_i8;

/// [`fully_connected_q15_i8`] (the reference kernel), ignoring the scratch.
#[cfg(not(mote_arm_dsp))]
#[allow(clippy::too_many_arguments)]
pub fn fully_connected_q15_i8_with_scratch(
    p: &fully_connected::FcParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i16],
    bias: Option<&[i32]>,
    requant: crate::quant::RequantTable<'_>,
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
    _scratch: &mut [u8],
) {
    fully_connected_q15_i8(p, x, x_zero_point, w, bias, requant.entries(), out_zero_point, out, act)
}

/// Bytes of scratch the int8 convolution may take for `p`, on any target: the most any variant
/// needs (the Arm DSP kernels' or the Helium kernels'; the scalar and reference kernels need
/// none). It is a property of the shape, so one model file plans the same arena for every
/// target; a new variant must fit within it or raise it (a format-visible change: older files
/// then fail to load with `ScratchTooSmall`).
pub fn conv2d_i8_scratch_bytes(p: &conv::Conv2dParams) -> usize {
    arm::conv2d_i8_scratch_bytes(p).max(arm::mve::conv2d_i8_scratch_bytes(p))
}

/// Bytes of scratch the int8 fully connected layer may take for `p`, on any target (as
/// [`conv2d_i8_scratch_bytes`]).
pub fn fully_connected_i8_scratch_bytes(p: &fully_connected::FcParams) -> usize {
    arm::fully_connected_i8_scratch_bytes(p).max(arm::mve::fully_connected_i8_scratch_bytes(p))
}

/// [`conv2d_i8`] (the scalar or the reference kernel), ignoring the scratch.
#[cfg(not(mote_arm_dsp))]
#[allow(clippy::too_many_arguments)]
pub fn conv2d_i8_with_scratch(
    p: &conv::Conv2dParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    requant: crate::quant::RequantTable<'_>,
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
    _scratch: &mut [u8],
) {
    conv2d_i8(p, x, x_zero_point, w, bias, requant.entries(), out_zero_point, out, act)
}

/// [`fully_connected_i8`] (the scalar or the reference kernel), ignoring the scratch.
#[cfg(not(mote_arm_dsp))]
#[allow(clippy::too_many_arguments)]
pub fn fully_connected_i8_with_scratch(
    p: &fully_connected::FcParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    requant: crate::quant::RequantTable<'_>,
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
    _scratch: &mut [u8],
) {
    fully_connected_i8(p, x, x_zero_point, w, bias, requant.entries(), out_zero_point, out, act)
}

/// The int8 binary ops the interpreter runs: same-shape Add and Sub through tabulated operand
/// terms ([`elementwise::AddSubTerms`], in the op's planned scratch), with the DSP output stage
/// where the target has one; the reference kernels for everything else. `binary_i8` and
/// `binary_inplace_i8` keep the reference signature (tables on the stack) for the conformance
/// suites.
#[cfg(mote_arm_dsp)]
pub use arm::elementwise::{binary_i8, binary_i8_with, binary_inplace_i8, binary_inplace_i8_with};
#[cfg(not(mote_arm_dsp))]
pub use elementwise::{
    binary_inplace_tabled_i8 as binary_inplace_i8, binary_inplace_tabled_i8_with as binary_inplace_i8_with, binary_tabled_i8 as binary_i8,
    binary_tabled_i8_with as binary_i8_with,
};
