//! The closed set of operators a Mote model can contain, with their attributes.
//!
//! Operands are tensor ids; the attributes here are everything else an op needs. int8 ops carry
//! the fixed-point parameters the host computed ([`BinaryQuant`]) or take them as constant
//! tensors (Conv2d / FullyConnected requantization, lookup tables), so the device does no float
//! math to prepare an op.
//!
//! | op | inputs (f32) | inputs (int8) |
//! |---|---|---|
//! | `Conv2d` | x, w, \[bias\] | x, w, bias (i32 `[oc]`), requant (i32 `[1 or oc, 2]`) |
//! | `FullyConnected` | x, w, \[bias\] | x, w, bias, requant |
//! | `Binary` | a, b | a, b |
//! | `Pool2d`, `GlobalAvgPool` | x | x |
//! | `Unary` | x | x, lut (i8 `[256]`) |
//! | `Softmax` | x | x, exp table (i32 `[256]`) |
//! | `Concat` | x1 … xk | x1 … xk |
//! | `Slice`, `Reshape`, `Transpose`, `Pad`, `Resize`, `Quantize`, `Dequantize` | x | x |

use serde::{Deserialize, Serialize};

pub use crate::kernels::activation::{Activation, UnaryOp};
pub use crate::kernels::elementwise::{BinaryOp, BinaryQuant};
pub use crate::kernels::resize::{CoordTransform, NearestRound, ResizeMode};
use crate::kernels::MAX_RANK;
use crate::tensor::TensorId;

/// Most inputs one op takes (Concat of more is split by the converter).
pub const MAX_OP_INPUTS: usize = 8;

/// Pooling reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PoolKind {
    Avg,
    Max,
}

/// An operator and its attributes. The discriminant order is part of the file format: append
/// new variants at the end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OpKind {
    /// NHWC convolution. `pad` is `[top, left, bottom, right]`; `groups` is 1 (regular), the input
    /// channel count (depthwise) or any divisor of it (grouped).
    Conv2d { stride: [u16; 2], dilation: [u16; 2], pad: [u16; 4], groups: u32, act: Activation },
    /// `x [.., k] · w[n, k]ᵀ + bias` over the innermost axis.
    FullyConnected { act: Activation },
    /// Add, Sub, Mul, Div with broadcasting; `quant` is present exactly for int8.
    Binary { op: BinaryOp, act: Activation, quant: Option<BinaryQuant> },
    /// Average or max pooling. `pad` is `[top, left, bottom, right]`.
    Pool2d { kind: PoolKind, kernel: [u16; 2], stride: [u16; 2], pad: [u16; 4], count_include_pad: bool, act: Activation },
    /// Mean over H and W of an NHWC tensor.
    GlobalAvgPool { act: Activation },
    /// Elementwise function; int8 through a lookup table input.
    Unary { op: UnaryOp },
    /// Softmax over the innermost axis. `out_inv_q16` is `round(65536 / out_scale)` (int8 only).
    Softmax { beta: f32, out_inv_q16: u32 },
    Concat { axis: u8 },
    /// Strided slice with positive steps; the output shape gives the element count per axis.
    Slice { begin: heapless::Vec<u32, MAX_RANK>, step: heapless::Vec<u32, MAX_RANK> },
    /// Reshape or Flatten: the bytes are unchanged; the planner places the output on the input.
    Reshape,
    Transpose { perm: heapless::Vec<u8, MAX_RANK> },
    /// Constant padding with `value` (a real value; int8 pads with its quantized form).
    Pad { before: heapless::Vec<u32, MAX_RANK>, after: heapless::Vec<u32, MAX_RANK>, value: f32 },
    /// Spatial resize of an NHWC tensor to the output's H and W.
    Resize { mode: ResizeMode, coord: CoordTransform },
    Quantize,
    Dequantize,
}

/// The operator type without attributes: for hooks, logs and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OpCode {
    Conv2d,
    FullyConnected,
    Binary,
    Pool2d,
    GlobalAvgPool,
    Unary,
    Softmax,
    Concat,
    Slice,
    Reshape,
    Transpose,
    Pad,
    Resize,
    Quantize,
    Dequantize,
}

impl OpCode {
    /// Number of op codes; a stored discriminant at or above this is an unknown op.
    pub const COUNT: u32 = 15;

    pub const fn name(self) -> &'static str {
        match self {
            OpCode::Conv2d => "Conv2d",
            OpCode::FullyConnected => "FullyConnected",
            OpCode::Binary => "Binary",
            OpCode::Pool2d => "Pool2d",
            OpCode::GlobalAvgPool => "GlobalAvgPool",
            OpCode::Unary => "Unary",
            OpCode::Softmax => "Softmax",
            OpCode::Concat => "Concat",
            OpCode::Slice => "Slice",
            OpCode::Reshape => "Reshape",
            OpCode::Transpose => "Transpose",
            OpCode::Pad => "Pad",
            OpCode::Resize => "Resize",
            OpCode::Quantize => "Quantize",
            OpCode::Dequantize => "Dequantize",
        }
    }
}

impl core::fmt::Display for OpCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl OpKind {
    pub const fn code(&self) -> OpCode {
        match self {
            OpKind::Conv2d { .. } => OpCode::Conv2d,
            OpKind::FullyConnected { .. } => OpCode::FullyConnected,
            OpKind::Binary { .. } => OpCode::Binary,
            OpKind::Pool2d { .. } => OpCode::Pool2d,
            OpKind::GlobalAvgPool { .. } => OpCode::GlobalAvgPool,
            OpKind::Unary { .. } => OpCode::Unary,
            OpKind::Softmax { .. } => OpCode::Softmax,
            OpKind::Concat { .. } => OpCode::Concat,
            OpKind::Slice { .. } => OpCode::Slice,
            OpKind::Reshape => OpCode::Reshape,
            OpKind::Transpose { .. } => OpCode::Transpose,
            OpKind::Pad { .. } => OpCode::Pad,
            OpKind::Resize { .. } => OpCode::Resize,
            OpKind::Quantize => OpCode::Quantize,
            OpKind::Dequantize => OpCode::Dequantize,
        }
    }
}

/// One entry of the op table: the op, its input tensors and its output tensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OpDesc {
    pub kind: OpKind,
    pub inputs: heapless::Vec<TensorId, MAX_OP_INPUTS>,
    pub output: TensorId,
}

impl OpKind {
    /// Whether the output may occupy exactly the bytes of input `slot` (in-place execution),
    /// provided that input is not read after this op and has the output's size. Binary ops also
    /// need that input to have the output's full shape (the loader checks it).
    pub const fn may_alias_input(&self, slot: usize) -> bool {
        match self {
            OpKind::Binary { .. } => slot < 2,
            OpKind::Unary { .. } | OpKind::Reshape => slot == 0,
            _ => false,
        }
    }
}
