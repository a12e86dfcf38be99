//! The closed set of operators a Mote model can contain: one module per op family.
//!
//! A family's module holds everything about it: its attributes (the wire types, as the file
//! stores them), `check` (the load-time validation of one op: arity, dtypes, shapes,
//! attributes), `run` (operand decoding and the kernel call), its kernel's scratch need and, where
//! it has one, its in-place rule. This module keeps the closed [`OpKind`] enum and one exhaustive
//! `match` per question, each arm a one-line call into the family (`check`, `run`, [`macs`],
//! [`OpDesc::scratch_bytes`], [`OpDesc::may_alias`], [`OpDesc::overlap_shift`]);
//! a new variant fails to compile until every question has its answer. There are no
//! registration tables: the `match` is the dispatch.
//!
//! Operands are tensor ids; the attributes are everything else an op needs. int8 ops carry the
//! fixed-point parameters the host computed ([`BinaryQuant`]) or take them as constant tensors
//! (Conv2d / FullyConnected requantization, lookup tables), so the device does no float math to
//! prepare an op.
//!
//! | op | family | inputs (f32) | inputs (int8) |
//! |---|---|---|---|
//! | `Conv2d` | [`conv`] | x, w, \[bias\] | x, w, bias (i32 `[oc]`), requant (i32 `[1 or oc, 2]`) |
//! | `FullyConnected` | [`fully_connected`] | x, w, \[bias\] | x, w, bias, requant |
//! | `Binary` | [`binary`] | a, b | a, b |
//! | `Pool2d`, `GlobalAvgPool` | [`pool`] | x | x |
//! | `Unary` | [`unary`] | x | x, lut (i8 `[256]`) |
//! | `Softmax` | [`softmax`] | x | x, exp table (i32 `[256]`) |
//! | `Concat`, `Slice`, `Reshape`, `Transpose`, `Pad` | [`shape`] | x1 … xk / x | x1 … xk / x |
//! | `Resize` | [`resize`] | x | x |
//! | `Quantize`, `Dequantize` | [`quantize`] | x | x |
//!
//! # Cargo features: an op family and dtype per feature
//! Each family's int8 ops are compiled in by the `mote-runtime` feature of its module's name
//! ([`Feature`]: `conv`, `fully_connected`, `binary`, `pool`, `unary`, `softmax`, `shape`,
//! `resize`, `quantize`), its f32 ops by the same name with `_f32` (`softmax_f32`; Quantize and
//! Dequantize, whose float side is their job, need only `quantize`); `f32` enables every `_f32`
//! feature and `all-ops`, the default, every feature. Reshape, which moves no bytes, is in every
//! build. The gate sits here, in `check` and on the arms of `run`, so the families' modules and
//! kernels carry no `cfg`: the loader rejects an op whose feature this build leaves out with
//! [`FormatError::OpNotCompiled`] naming it, and a family with neither feature has its `check`
//! and `run` never referenced, so the linker drops them with their kernels. With one of the two,
//! `Exec::is_i8` is constant, which drops the other dtype's branch of the families that branch
//! on it (all but `binary` and `resize`, whose kernels of both dtypes stay linked when either
//! feature is on). The file format does not change: every op still decodes. [`features`] says
//! what one op needs; `mote inspect` prints the union for a model.
//!
//! # Adding an op
//! A variant of an existing family (a new `UnaryOp`, say) is appended to the family's wire enum
//! and handled in its module and kernel. A new family is a new module here with its attributes,
//! `check` and `run`, a variant appended to [`OpKind`] and [`OpCode`], and one arm in each match
//! of this file. Either is a format change that old readers reject by discriminant (see
//! `FORMAT.md`, "Versioning").

pub mod binary;
pub mod conv;
pub mod fully_connected;
pub(crate) mod operands;
pub mod pool;
pub mod quantize;
pub mod resize;
pub mod shape;
pub mod softmax;
pub mod unary;

use serde::{Deserialize, Serialize};

pub use binary::{BinaryOp, BinaryQuant};
pub use pool::PoolKind;
pub use resize::{CoordTransform, NearestRound, ResizeMode};
pub use unary::UnaryOp;

use crate::error::{FormatError, RunError};
use crate::format::Model;
use crate::quant::QParams;
use crate::tensor::{DType, TensorDesc, TensorId, MAX_RANK};
use operands::{Check, Exec};

/// `$then` when this build compiles `$family` in (its int8 or its f32 ops), else
/// `$else(family)`. The condition is a constant, so the functions of a family with neither
/// feature are not referenced and not linked.
macro_rules! compiled {
    ($family:ident, $then:expr, else $else:expr) => {
        if const { Feature::$family.compiled() || Feature::$family.f32().compiled() } {
            $then
        } else {
            $else(Feature::$family)
        }
    };
}

/// Most inputs one op takes (Concat of more is split by the converter).
pub const MAX_OP_INPUTS: usize = 8;

/// A clamp fused into the op that produces a tensor (Relu, Relu6 and Clip folded by the
/// converter), as stored (discriminants in `FORMAT.md`).
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activation {
    #[default]
    None,
    Relu,
    Relu6,
    Clip {
        lo: f32,
        hi: f32,
    },
}

impl Activation {
    /// Real-domain clamp bounds `(lo, hi)`: None `(-inf, inf)`, Relu `(0, inf)`, Relu6 `(0, 6)`,
    /// Clip `(lo, hi)`.
    pub fn bounds(self) -> (f32, f32) {
        match self {
            Activation::None => (f32::NEG_INFINITY, f32::INFINITY),
            Activation::Relu => (0.0, f32::INFINITY),
            Activation::Relu6 => (0.0, 6.0),
            Activation::Clip { lo, hi } => (lo, hi),
        }
    }

    /// Quantized clamp bounds for an int8 output with parameters `out`:
    /// `out.quantize_range(lo, hi)` of [`Activation::bounds`] (infinite sides stay open).
    pub fn bounds_i8(self, out: QParams) -> (i8, i8) {
        let (lo, hi) = self.bounds();
        out.quantize_range(lo, hi)
    }
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

/// The operator type without attributes: for hooks, logs and reports. Same order as [`OpKind`].
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

impl OpCode {
    /// The feature of its family, which compiles this op in (the module that implements it).
    /// `None` for Reshape: it moves no bytes (the planner places its output on its input), so
    /// every build has it.
    pub const fn family(self) -> Option<Feature> {
        Some(match self {
            OpCode::Conv2d => Feature::Conv,
            OpCode::FullyConnected => Feature::FullyConnected,
            OpCode::Binary => Feature::Binary,
            OpCode::Pool2d | OpCode::GlobalAvgPool => Feature::Pool,
            OpCode::Unary => Feature::Unary,
            OpCode::Softmax => Feature::Softmax,
            OpCode::Concat | OpCode::Slice | OpCode::Transpose | OpCode::Pad => Feature::Shape,
            OpCode::Reshape => return None,
            OpCode::Resize => Feature::Resize,
            OpCode::Quantize | OpCode::Dequantize => Feature::Quantize,
        })
    }
}

/// A Cargo feature of `mote-runtime` that selects ops: one per op family (the module of
/// [`ops`](self) of the same name) for its int8 ops, and one per family with float ops for those
/// (`ConvF32`, `conv_f32`). See the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Feature {
    Conv,
    FullyConnected,
    Binary,
    Pool,
    Unary,
    Softmax,
    Shape,
    Resize,
    Quantize,
    ConvF32,
    FullyConnectedF32,
    BinaryF32,
    PoolF32,
    UnaryF32,
    SoftmaxF32,
    ShapeF32,
    ResizeF32,
}

impl Feature {
    pub const ALL: [Feature; 17] = [
        Feature::Conv,
        Feature::FullyConnected,
        Feature::Binary,
        Feature::Pool,
        Feature::Unary,
        Feature::Softmax,
        Feature::Shape,
        Feature::Resize,
        Feature::Quantize,
        Feature::ConvF32,
        Feature::FullyConnectedF32,
        Feature::BinaryF32,
        Feature::PoolF32,
        Feature::UnaryF32,
        Feature::SoftmaxF32,
        Feature::ShapeF32,
        Feature::ResizeF32,
    ];

    /// The feature's name in `mote-runtime`'s `Cargo.toml`.
    pub const fn name(self) -> &'static str {
        match self {
            Feature::Conv => "conv",
            Feature::FullyConnected => "fully_connected",
            Feature::Binary => "binary",
            Feature::Pool => "pool",
            Feature::Unary => "unary",
            Feature::Softmax => "softmax",
            Feature::Shape => "shape",
            Feature::Resize => "resize",
            Feature::Quantize => "quantize",
            Feature::ConvF32 => "conv_f32",
            Feature::FullyConnectedF32 => "fully_connected_f32",
            Feature::BinaryF32 => "binary_f32",
            Feature::PoolF32 => "pool_f32",
            Feature::UnaryF32 => "unary_f32",
            Feature::SoftmaxF32 => "softmax_f32",
            Feature::ShapeF32 => "shape_f32",
            Feature::ResizeF32 => "resize_f32",
        }
    }

    /// Whether this build has the feature.
    pub const fn compiled(self) -> bool {
        match self {
            Feature::Conv => cfg!(feature = "conv"),
            Feature::FullyConnected => cfg!(feature = "fully_connected"),
            Feature::Binary => cfg!(feature = "binary"),
            Feature::Pool => cfg!(feature = "pool"),
            Feature::Unary => cfg!(feature = "unary"),
            Feature::Softmax => cfg!(feature = "softmax"),
            Feature::Shape => cfg!(feature = "shape"),
            Feature::Resize => cfg!(feature = "resize"),
            Feature::Quantize => cfg!(feature = "quantize"),
            Feature::ConvF32 => cfg!(feature = "conv_f32"),
            Feature::FullyConnectedF32 => cfg!(feature = "fully_connected_f32"),
            Feature::BinaryF32 => cfg!(feature = "binary_f32"),
            Feature::PoolF32 => cfg!(feature = "pool_f32"),
            Feature::UnaryF32 => cfg!(feature = "unary_f32"),
            Feature::SoftmaxF32 => cfg!(feature = "softmax_f32"),
            Feature::ShapeF32 => cfg!(feature = "shape_f32"),
            Feature::ResizeF32 => cfg!(feature = "resize_f32"),
        }
    }

    /// The feature of the same family's ops on f32 data (`Conv` → `ConvF32`); a float feature
    /// and `Quantize`, whose float side is its job, are their own.
    pub const fn f32(self) -> Feature {
        match self {
            Feature::Conv => Feature::ConvF32,
            Feature::FullyConnected => Feature::FullyConnectedF32,
            Feature::Binary => Feature::BinaryF32,
            Feature::Pool => Feature::PoolF32,
            Feature::Unary => Feature::UnaryF32,
            Feature::Softmax => Feature::SoftmaxF32,
            Feature::Shape => Feature::ShapeF32,
            Feature::Resize => Feature::ResizeF32,
            other => other,
        }
    }
}

impl core::fmt::Display for Feature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
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

/// The arena bytes an op's kernel may use as scratch while the op runs: `len` bytes at `offset`
/// (a multiple of 16). `len` is 0 for an op that needs none (then `offset` is 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ScratchRegion {
    pub offset: u32,
    pub len: u32,
}

/// One entry of the op table: the op, its input tensors, its output tensor and its scratch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OpDesc {
    pub kind: OpKind,
    pub inputs: heapless::Vec<TensorId, MAX_OP_INPUTS>,
    pub output: TensorId,
    /// Planned by the writer from [`OpDesc::scratch_bytes`]; the loader checks it holds at least
    /// that many bytes and overlaps no tensor live during the op.
    pub scratch: ScratchRegion,
}

impl OpDesc {
    /// Bytes of scratch this op's kernel needs, on any target, given its inputs' descriptors (in
    /// slot order; the first two suffice) and its output's: the int8 Conv2d and FullyConnected
    /// kernels' need for the shape ([`crate::kernels::conv2d_i8_scratch_bytes`]), the operand
    /// tables of a same-shape int8 Add or Sub ([`crate::kernels::elementwise::AddSubTerms`]), 0
    /// for every other op, and for an op of a family this build leaves out (the loader rejects it
    /// before asking).
    pub fn scratch_bytes(&self, ins: &[TensorDesc<'_>], y: &TensorDesc<'_>) -> usize {
        let none = |_| 0;
        match self.kind {
            OpKind::Conv2d { stride, dilation, pad, groups, .. } => compiled!(Conv, conv::scratch_bytes(ins, y, stride, dilation, pad, groups), else none),
            OpKind::FullyConnected { .. } => compiled!(FullyConnected, fully_connected::scratch_bytes(ins), else none),
            OpKind::Binary { op, ref quant, .. } => compiled!(Binary, binary::scratch_bytes(ins, y, op, quant), else none),
            OpKind::Pool2d { .. }
            | OpKind::GlobalAvgPool { .. }
            | OpKind::Unary { .. }
            | OpKind::Softmax { .. }
            | OpKind::Concat { .. }
            | OpKind::Slice { .. }
            | OpKind::Reshape
            | OpKind::Transpose { .. }
            | OpKind::Pad { .. }
            | OpKind::Resize { .. }
            | OpKind::Quantize
            | OpKind::Dequantize => 0,
        }
    }

    /// The overlap rule: whether the output may start `shift` bytes before the start of the input
    /// in `slot` and share bytes with it, given the descriptors of the inputs (slot order; the
    /// first two suffice, no op overlaps a later one) and of the output. The input must appear
    /// once among the op's inputs.
    ///
    /// - `shift` 0 with equal byte sizes is the in-place rule of the elementwise families: Binary
    ///   either operand of the output's full shape, Unary and Reshape their input.
    /// - Conv2d (a batch of one) allows any `shift` at which it can run in bands of output rows,
    ///   each band's output ending before the first input row it or a later band reads (see
    ///   `ops::conv`): the output trails the input through memory.
    ///
    /// The writer's planner overlaps an output with an input only where this holds (and the
    /// input dies at this op and is no graph input or output); the loader accepts two live tensors
    /// sharing bytes only where this holds. The lifetimes are the graph's business, checked by
    /// the loader for every file. An op of a family this build leaves out overlaps nothing (the
    /// loader rejects it before asking).
    pub fn may_alias(&self, slot: usize, ins: &[TensorDesc<'_>], y: &TensorDesc<'_>, shift: u64) -> bool {
        let (Some(&id), Some(input)) = (self.inputs.get(slot), ins.get(slot)) else { return false };
        let bytes = |t: &TensorDesc<'_>| t.byte_len();
        let in_place = shift == 0 && bytes(input) == bytes(y);
        let no = |_| false;
        let family = match &self.kind {
            OpKind::Binary { .. } => in_place && compiled!(Binary, binary::may_alias(slot, &input.shape, &y.shape), else no),
            OpKind::Unary { .. } => in_place && compiled!(Unary, unary::may_alias(slot), else no),
            OpKind::Reshape => in_place && shape::reshape_may_alias(slot),
            &OpKind::Conv2d { stride, dilation, pad, groups, .. } => compiled!(Conv, conv::may_overlap(slot, ins, y, stride, dilation, pad, groups, shift), else no),
            OpKind::FullyConnected { .. }
            | OpKind::Pool2d { .. }
            | OpKind::GlobalAvgPool { .. }
            | OpKind::Softmax { .. }
            | OpKind::Concat { .. }
            | OpKind::Slice { .. }
            | OpKind::Transpose { .. }
            | OpKind::Pad { .. }
            | OpKind::Resize { .. }
            | OpKind::Quantize
            | OpKind::Dequantize => false,
        };
        family && self.inputs.iter().filter(|&&i| i == id).count() == 1
    }

    /// The smallest non-zero `shift` (a multiple of 16) that [`may_alias`](Self::may_alias)
    /// allows for input `slot` and that runs the op in at most a few bands: what the planner
    /// tries for an op whose output may trail its input (Conv2d), `None` for other ops.
    pub fn overlap_shift(&self, slot: usize, ins: &[TensorDesc<'_>], y: &TensorDesc<'_>) -> Option<u64> {
        match self.kind {
            OpKind::Conv2d { stride, dilation, pad, groups, .. } if slot == 0 => compiled!(Conv, conv::overlap_shift(ins, y, stride, dilation, pad, groups), else |_| None),
            _ => None,
        }
    }
}

/// The Cargo feature of this crate that op `op` of `model` needs: its family's (none for
/// Reshape), or that family's float twin ([`Feature::f32`]) when the op computes on f32 data
/// ([`computes_f32`]).
pub fn features(model: &Model<'_>, op: &OpDesc) -> Option<Feature> {
    let family = op.kind.code().family()?;
    Some(if computes_f32(model, op) { family.f32() } else { family })
}

/// Whether op `op` of `model` computes on f32 data: any of its operands or its output is f32,
/// except for Quantize and Dequantize, whose float side is their job (they need only
/// `quantize`). A tensor id outside `model` counts as not f32 (the loader rejects it anyway).
pub fn computes_f32(model: &Model<'_>, op: &OpDesc) -> bool {
    !matches!(op.kind, OpKind::Quantize | OpKind::Dequantize)
        && op.inputs.iter().chain([&op.output]).any(|&id| matches!(model.tensor(id), Some(t) if t.dtype == DType::F32))
}

/// Load-time validation of op `index`: that this build compiles it in (its family's feature for
/// its dtype: see [`features`]), arity, dtypes, shapes and attributes. The graph-level checks
/// (ids, lifetimes, memory plan) are the loader's. `Ok(true)` for an int8 Conv2d or
/// FullyConnected whose every requantization entry is normal ([`crate::quant::Requant::is_normal`]).
pub(crate) fn check(model: &Model<'_>, index: u32, op: &OpDesc) -> Result<bool, FormatError> {
    let c = &Check::new(model, index, op)?;
    check_op(c, model, op)?;
    Ok(c.normal_requant.get())
}

fn check_op(c: &Check<'_, '_>, model: &Model<'_>, op: &OpDesc) -> Result<(), FormatError> {
    if let Some(feature) = features(model, op).filter(|f| !f.compiled()) {
        return Err(c.not_compiled(feature));
    }
    let off = |family| Err(c.not_compiled(family));
    match op.kind {
        OpKind::Conv2d { stride, dilation, pad, groups, .. } => compiled!(Conv, conv::check(c, stride, dilation, pad, groups), else off),
        OpKind::FullyConnected { .. } => compiled!(FullyConnected, fully_connected::check(c), else off),
        OpKind::Binary { ref quant, .. } => compiled!(Binary, binary::check(c, quant), else off),
        OpKind::Pool2d { kernel, stride, pad, count_include_pad, .. } => compiled!(Pool, pool::check_pool2d(c, kernel, stride, pad, count_include_pad), else off),
        OpKind::GlobalAvgPool { .. } => compiled!(Pool, pool::check_global(c), else off),
        OpKind::Unary { op } => compiled!(Unary, unary::check(c, op), else off),
        OpKind::Softmax { beta, out_inv_q16 } => compiled!(Softmax, softmax::check(c, beta, out_inv_q16), else off),
        OpKind::Concat { axis } => compiled!(Shape, shape::check_concat(c, axis), else off),
        OpKind::Slice { ref begin, ref step } => compiled!(Shape, shape::check_slice(c, begin, step), else off),
        OpKind::Reshape => shape::check_reshape(c),
        OpKind::Transpose { ref perm } => compiled!(Shape, shape::check_transpose(c, perm), else off),
        OpKind::Pad { ref before, ref after, value } => compiled!(Shape, shape::check_pad(c, before, after, value), else off),
        OpKind::Resize { mode, .. } => compiled!(Resize, resize::check(c, mode), else off),
        OpKind::Quantize => compiled!(Quantize, quantize::check(c, DType::F32, DType::I8), else off),
        OpKind::Dequantize => compiled!(Quantize, quantize::check(c, DType::I8, DType::F32), else off),
    }
}

/// Runs one validated op, writing its output in the arena.
/// `out` is the op's window: its output's bytes, and for a Conv2d whose output trails its input
/// the union of both; `scratch` its planned scratch. An op of a family this build leaves out did
/// not pass `check`: it is [`RunError::Internal`] here.
pub(crate) fn run(kind: &OpKind, e: &Exec<'_, '_>, out: &mut [u8], scratch: &mut [u8]) -> Result<(), RunError> {
    let off = |_| Err(RunError::Internal);
    match *kind {
        OpKind::Conv2d { stride, dilation, pad, groups, act } => compiled!(Conv, conv::run(e, out, scratch, stride, dilation, pad, groups, act), else off),
        OpKind::FullyConnected { act } => compiled!(FullyConnected, fully_connected::run(e, out, scratch, act), else off),
        OpKind::Binary { op, act, quant } => compiled!(Binary, binary::run(e, out, scratch, op, act, quant), else off),
        OpKind::Pool2d { kind, kernel, stride, pad, count_include_pad, act } => {
            compiled!(Pool, pool::run_pool2d(e, out, kind, kernel, stride, pad, count_include_pad, act), else off)
        }
        OpKind::GlobalAvgPool { act } => compiled!(Pool, pool::run_global(e, out, act), else off),
        OpKind::Unary { op } => compiled!(Unary, unary::run(e, out, op), else off),
        OpKind::Softmax { beta, out_inv_q16 } => compiled!(Softmax, softmax::run(e, out, beta, out_inv_q16), else off),
        OpKind::Concat { axis } => compiled!(Shape, shape::run_concat(e, out, axis), else off),
        OpKind::Slice { ref begin, ref step } => compiled!(Shape, shape::run_slice(e, out, begin, step), else off),
        OpKind::Reshape => shape::run_reshape(e, out),
        OpKind::Transpose { ref perm } => compiled!(Shape, shape::run_transpose(e, out, perm), else off),
        OpKind::Pad { ref before, value, .. } => compiled!(Shape, shape::run_pad(e, out, before, value), else off),
        OpKind::Resize { mode, coord } => compiled!(Resize, resize::run(e, out, mode, coord), else off),
        OpKind::Quantize => compiled!(Quantize, quantize::run_quantize(e, out), else off),
        OpKind::Dequantize => compiled!(Quantize, quantize::run_dequantize(e, out), else off),
    }
}

/// Multiply-accumulates of one op of a validated model, as model cards and MLPerf count them:
/// Conv2d `n·oh·ow·oc·kh·kw·(c/groups)` (padded taps included), FullyConnected `rows·k·n`, and
/// 0 for every other op (elementwise, pooling, data movement: no multiply-accumulate). For host
/// tools (`mote inspect`); 0 for an op that does not belong to `model`.
pub fn macs(model: &Model<'_>, op: &OpDesc) -> u64 {
    let mut ins: heapless::Vec<TensorDesc<'_>, MAX_OP_INPUTS> = heapless::Vec::new();
    for &id in &op.inputs {
        let Some(t) = model.tensor(id) else { return 0 };
        let _ = ins.push(t);
    }
    let Some(y) = model.tensor(op.output) else { return 0 };
    match op.kind {
        OpKind::Conv2d { stride, dilation, pad, groups, .. } => conv::macs(&ins, &y, stride, dilation, pad, groups),
        OpKind::FullyConnected { .. } => fully_connected::macs(&ins),
        OpKind::Binary { .. }
        | OpKind::Pool2d { .. }
        | OpKind::GlobalAvgPool { .. }
        | OpKind::Unary { .. }
        | OpKind::Softmax { .. }
        | OpKind::Concat { .. }
        | OpKind::Slice { .. }
        | OpKind::Reshape
        | OpKind::Transpose { .. }
        | OpKind::Pad { .. }
        | OpKind::Resize { .. }
        | OpKind::Quantize
        | OpKind::Dequantize => 0,
    }
}

/// An upper estimate of one inference's work, for host tools that must decide whether running a
/// model is worth it (the fuzz harnesses skip models above a cap): per op its multiply-accumulates
/// ([`macs`]), the elements it reads and writes, and for a pooling window each output's taps.
pub fn work(model: &Model<'_>) -> u64 {
    let elements = |id| model.tensor(id).and_then(|t| t.shape.numel()).map_or(0, u64::from);
    model
        .ops()
        .map(|op| {
            let io = op.inputs.iter().map(|&i| elements(i)).sum::<u64>() + elements(op.output);
            let taps = match op.kind {
                OpKind::Pool2d { kernel, .. } => u64::from(kernel[0]) * u64::from(kernel[1]) * elements(op.output),
                _ => 0,
            };
            macs(model, &op).saturating_add(io).saturating_add(taps)
        })
        .fold(0, u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::writer::{AlignedBytes, ModelBuilder};
    use crate::tensor::Quant;

    /// f32 input → Quantize → int8 Conv2d → Dequantize → f32 Sigmoid; `Err` from the writer's
    /// own load in a build without one of `quantize`, `conv`, `unary_f32`.
    fn mixed_model() -> Result<Vec<u8>, crate::format::writer::BuildError> {
        let q = Quant::PerTensor { scale: 0.05, zero_point: 0 };
        let mut b = ModelBuilder::new("mixed");
        let x = b.input("x", DType::F32, &[1, 4, 4, 2], Quant::None).unwrap();
        let xq = b.activation("xq", DType::I8, &[1, 4, 4, 2], q).unwrap();
        b.op(OpKind::Quantize, &[x], xq).unwrap();
        let w = b.constant_i8("w", &[2, 3, 3, 2], Quant::PerTensor { scale: 0.01, zero_point: 0 }, &[1; 36]).unwrap();
        let bias = b.constant_i32("b", &[2], &[0, 0]).unwrap();
        let rq = crate::quant::quantize_multiplier(0.01);
        let r = b.constant_i32("rq", &[1, 2], &[rq.multiplier, rq.shift]).unwrap();
        let c = b.activation("c", DType::I8, &[1, 4, 4, 2], q).unwrap();
        let conv = OpKind::Conv2d { stride: [1, 1], dilation: [1, 1], pad: [1, 1, 1, 1], groups: 1, act: Activation::Relu };
        b.op(conv, &[xq, w, bias, r], c).unwrap();
        let f = b.activation("f", DType::F32, &[1, 4, 4, 2], Quant::None).unwrap();
        b.op(OpKind::Dequantize, &[c], f).unwrap();
        let y = b.activation("y", DType::F32, &[1, 4, 4, 2], Quant::None).unwrap();
        b.op(OpKind::Unary { op: UnaryOp::Sigmoid }, &[f], y).unwrap();
        b.output(y);
        b.finish()
    }

    /// The loader remembers which int8 convolutions and fully connected layers have only normal
    /// requantization entries; a dead channel (multiplier 0) or a scale of 0.5 or more does not.
    #[test]
    fn the_loader_finds_normal_requantization() {
        let build = |rq: [crate::quant::Requant; 2]| {
            let q = Quant::PerTensor { scale: 0.05, zero_point: 0 };
            let mut b = ModelBuilder::new("fc");
            let x = b.input("x", DType::I8, &[1, 4], q).unwrap();
            let w = b.constant_i8("w", &[2, 4], Quant::PerTensor { scale: 0.01, zero_point: 0 }, &[1; 8]).unwrap();
            let bias = b.constant_i32("b", &[2], &[0, 0]).unwrap();
            let r = b.constant_i32("rq", &[2, 2], &[rq[0].multiplier, rq[0].shift, rq[1].multiplier, rq[1].shift]).unwrap();
            let h = b.activation("h", DType::I8, &[1, 2], q).unwrap();
            b.op(OpKind::FullyConnected { act: Activation::None }, &[x, w, bias, r], h).unwrap();
            let y = b.activation("y", DType::I8, &[1, 2], q).unwrap();
            b.op(OpKind::Reshape, &[h], y).unwrap();
            b.output(y);
            b.finish()
        };
        let m = crate::quant::quantize_multiplier;
        for (rq, normal) in [([m(0.01), m(0.2)], true), ([m(0.01), m(0.0)], false), ([m(0.7), m(0.2)], false)] {
            let Ok(bytes) = build(rq) else { return assert!(!Feature::FullyConnected.compiled()) };
            let bytes = AlignedBytes::new(&bytes);
            let model = Model::from_bytes(&bytes).unwrap();
            assert_eq!([model.requant_is_normal(0), model.requant_is_normal(1)], [normal, false], "{rq:?}");
        }
    }

    /// Quantize and Dequantize and Sigmoid read and write 32 elements each; the convolution reads
    /// 32 + 36 + 2 + 2, writes 32 and does 4·4·2·3·3·2 multiply-accumulates.
    #[test]
    fn work_counts_macs_and_elements() {
        let Ok(bytes) = mixed_model() else { return };
        let bytes = AlignedBytes::new(&bytes);
        let m = Model::from_bytes(&bytes).unwrap();
        assert_eq!(work(&m), 3 * 64 + (32 + 36 + 2 + 2 + 32) + 4 * 4 * 2 * 3 * 3 * 2);
    }

    #[test]
    fn features_name_the_family_and_f32_data() {
        let full = Feature::Quantize.compiled() && Feature::Conv.compiled() && Feature::UnaryF32.compiled();
        let Ok(bytes) = mixed_model() else {
            // A reduced build rejects the model: the next test checks how.
            return assert!(!full);
        };
        let bytes = AlignedBytes::new(&bytes);
        let m = Model::from_bytes(&bytes).unwrap();
        let got: Vec<_> = m.ops().map(|op| features(&m, &op)).collect();
        // Quantize and Dequantize touch f32 by definition and need only `quantize`.
        assert_eq!(got, [Some(Feature::Quantize), Some(Feature::Conv), Some(Feature::Quantize), Some(Feature::UnaryF32)]);
        assert_eq!(OpCode::Reshape.family(), None, "Reshape moves no bytes: every build has it");
        let names: Vec<_> = Feature::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            [
                "conv",
                "fully_connected",
                "binary",
                "pool",
                "unary",
                "softmax",
                "shape",
                "resize",
                "quantize",
                "conv_f32",
                "fully_connected_f32",
                "binary_f32",
                "pool_f32",
                "unary_f32",
                "softmax_f32",
                "shape_f32",
                "resize_f32"
            ]
        );
        let twins: Vec<_> = Feature::ALL.iter().map(|f| f.f32().name()).collect();
        assert_eq!(twins[..9], ["conv_f32", "fully_connected_f32", "binary_f32", "pool_f32", "unary_f32", "softmax_f32", "shape_f32", "resize_f32", "quantize"]);
        assert_eq!(twins[9..], names[9..], "a float feature is its own twin");
    }

    /// The loader accepts the frozen golden model (`tests/golden/v2.mote`: every op, f32 from op 0
    /// to 36, int8 from 37) only in a build with every feature; a build without one
    /// rejects the first op that needs it, naming the op and the feature. `scripts/test.sh` runs
    /// this test in reduced builds too.
    #[test]
    fn the_loader_rejects_an_op_left_out_naming_its_feature() {
        let bytes = AlignedBytes::new(include_bytes!("../../tests/golden/v2.mote"));
        // The first op needing each feature: f32 ops up to 36, int8 ops from 37.
        let first_op_of = [
            (0, OpCode::Conv2d, Feature::ConvF32),
            (3, OpCode::Pool2d, Feature::PoolF32),
            (7, OpCode::FullyConnected, Feature::FullyConnectedF32),
            (8, OpCode::Softmax, Feature::SoftmaxF32),
            (9, OpCode::Binary, Feature::BinaryF32),
            (14, OpCode::Unary, Feature::UnaryF32),
            (19, OpCode::Slice, Feature::ShapeF32),
            (24, OpCode::Resize, Feature::ResizeF32),
            (37, OpCode::Quantize, Feature::Quantize),
            (38, OpCode::Conv2d, Feature::Conv),
            (40, OpCode::Pool2d, Feature::Pool),
            (44, OpCode::FullyConnected, Feature::FullyConnected),
            (45, OpCode::Softmax, Feature::Softmax),
            (46, OpCode::Binary, Feature::Binary),
            (50, OpCode::Unary, Feature::Unary),
            (52, OpCode::Slice, Feature::Shape),
            (58, OpCode::Resize, Feature::Resize),
        ];
        let expected = match first_op_of.iter().find(|(_, _, feature)| !feature.compiled()) {
            Some(&(op, code, feature)) => Err(FormatError::OpNotCompiled { op, code, feature }),
            None => Ok(()),
        };
        assert_eq!(Model::from_bytes(&bytes).map(|_| ()), expected);
        assert_eq!(
            FormatError::OpNotCompiled { op: 1, code: OpCode::Conv2d, feature: Feature::Conv }.to_string(),
            "op 1 (Conv2d) is not compiled in: enable mote-runtime's feature \"conv\""
        );
    }
}
