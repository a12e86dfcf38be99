//! Typed errors. Every way a model file can be wrong has its own variant, naming the section,
//! op or tensor at fault, so a firmware log or a CI failure says what to fix.

use crate::ops::{Feature, OpCode};
use crate::tensor::TensorId;

/// Sections of a model file (see `FORMAT.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Section {
    Header,
    Meta,
    Tensors,
    Ops,
    Weights,
    Layouts,
}

/// Why [`Model::from_bytes`](crate::Model::from_bytes) rejected a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FormatError {
    /// The buffer is shorter than the header, or than the file length the header states.
    Truncated { needed: usize, available: usize },
    /// The buffer does not start on a 16-byte boundary; weights could not be read in place.
    /// Embed models with [`include_model!`](crate::include_model).
    Misaligned { address: usize },
    /// The first four bytes are not `MOTE`.
    BadMagic { found: [u8; 4] },
    /// The file was written for a format version this reader does not implement.
    UnsupportedVersion { found: u16, supported: u16 },
    /// The CRC-32 stored in the header does not match the file's contents.
    ChecksumMismatch { stored: u32, computed: u32 },
    /// Reserved header bytes or section-table fields are not zero.
    ReservedNotZero,
    /// A section the reader needs is absent (or present twice).
    MissingSection { section: Section },
    /// A section this reader does not know is marked as required.
    UnknownRequiredSection { kind: u16 },
    /// A section lies outside the file or does not start on a 16-byte boundary.
    SectionOutOfBounds { section: Section },
    /// A structured record could not be decoded (bad encoding, out-of-range value).
    Malformed { section: Section, index: u32 },
    /// An op record names an operator this reader does not know.
    UnknownOp { op: u32, code: u32 },
    /// A tensor record names an element type this reader does not know.
    UnknownDType { tensor: TensorId, code: u32 },
    /// An op or the graph refers to a tensor id beyond the tensor table.
    TensorIdOutOfRange { tensor: u32 },
    /// A constant's data, or its per-channel scales, lie outside the weights section, are not
    /// 16-byte aligned, or have the wrong length for its shape and dtype.
    DataOutOfBounds { tensor: TensorId },
    /// An activation lies outside the arena or is not 16-byte aligned.
    ArenaOutOfBounds { tensor: TensorId },
    /// A shape has a zero or overflowing dimension count.
    InvalidShape { tensor: TensorId },
    /// Quantization parameters are missing, not finite, not positive or out of range.
    InvalidQuantization { tensor: TensorId },
    /// An op has the wrong number of inputs.
    Arity { op: u32, code: OpCode, found: u8 },
    /// An operand has a dtype the op does not accept in this position.
    DTypeMismatch { op: u32, tensor: TensorId },
    /// An operand or the output has a shape inconsistent with the op and its attributes.
    ShapeMismatch { op: u32, tensor: TensorId },
    /// An attribute is out of range (zero stride, bad axis, bad permutation, ...).
    InvalidAttribute { op: u32, code: OpCode },
    /// Graph inputs and outputs are missing, repeated, or not activations.
    InvalidGraphIo { tensor: TensorId },
    /// A tensor is written by no op (or by several), read before it is written, or used outside
    /// the lifetime the plan declares for it.
    InvalidLifetime { op: u32, tensor: TensorId },
    /// Two activations share arena bytes while both are live.
    PlanOverlap { a: TensorId, b: TensorId },
    /// An op's scratch is smaller than its kernel needs on this runtime (`needed` bytes; the
    /// file plans `planned`): the file was planned for other kernels. Convert the model again.
    ScratchTooSmall { op: u32, needed: u32, planned: u32 },
    /// An op's scratch lies outside the arena or is not 16-byte aligned.
    ScratchOutOfBounds { op: u32 },
    /// An op's scratch shares arena bytes with a tensor live while the op runs.
    ScratchOverlap { op: u32, tensor: TensorId },
    /// An op of a family (or on f32 data) this build of the runtime leaves out: enable
    /// `mote-runtime`'s Cargo `feature` (`mote inspect` lists every feature a model needs).
    OpNotCompiled { op: u32, code: OpCode, feature: Feature },
    /// The LAYOUTS section names a layout code this reader does not know.
    UnknownLayout { tensor: TensorId, code: u16 },
    /// A known packed layout that this build leaves out: enable `mote-runtime`'s Cargo feature
    /// [`Layout::feature`](crate::format::Layout::feature), or convert the model without it.
    LayoutNotCompiled { tensor: TensorId, layout: crate::format::Layout },
    /// A packed constant's data is not the length its layout gives for its shape.
    LayoutSize { tensor: TensorId, expected: u32, found: u32 },
    /// A packed layout on a tensor that cannot have it (for `fc-q15`: anything but an int8
    /// constant `[n, k]`, `k % 4 == 0`, read only as an int8 FullyConnected's weights).
    LayoutMismatch { tensor: TensorId },
}

/// Why an [`Interpreter`](crate::Interpreter) could not be created or run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RunError {
    /// The arena is smaller than the model's plan needs. `required` includes the bytes lost to
    /// aligning the buffer's start to 16.
    ArenaTooSmall { required: usize, provided: usize },
    /// There is no graph input or output with this index or name.
    NoSuchTensor,
    /// The tensor has another element type than the accessor asked for.
    WrongDType { expected: crate::DType, found: crate::DType },
    /// The data given has another element count than the tensor.
    WrongLength { expected: usize, found: usize },
    /// The tensor is not quantized per tensor, so it has no single scale and zero point.
    NotQuantized,
    /// A model that passed validation turned out inconsistent while running. It cannot happen;
    /// it is reported instead of a panic.
    Internal,
}

impl core::fmt::Display for FormatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use FormatError::*;
        match *self {
            Truncated { needed, available } => write!(f, "model file truncated: needs {needed} bytes, {available} available"),
            Misaligned { address } => write!(f, "model buffer at {address:#x} is not 16-byte aligned (embed it with mote_runtime::include_model!)"),
            BadMagic { found } => write!(f, "not a Mote model file: magic {found:?}, expected \"MOTE\""),
            UnsupportedVersion { found, supported } => write!(f, "model format version {found} is not supported (this runtime reads version {supported}); convert the model again with a matching converter"),
            ChecksumMismatch { stored, computed } => write!(f, "model file corrupt: CRC-32 {computed:#010x} does not match stored {stored:#010x}"),
            ReservedNotZero => write!(f, "model file header has non-zero reserved fields"),
            MissingSection { section } => write!(f, "model file lacks exactly one {section:?} section"),
            UnknownRequiredSection { kind } => write!(f, "model file needs section kind {kind}, which this runtime does not know"),
            SectionOutOfBounds { section } => write!(f, "{section:?} section lies outside the file or is not 16-byte aligned"),
            Malformed { section, index } => write!(f, "{section:?} record {index} is malformed"),
            UnknownOp { op, code } => write!(f, "op {op}: unknown operator code {code}"),
            UnknownDType { tensor, code } => write!(f, "tensor {tensor}: unknown dtype code {code}"),
            TensorIdOutOfRange { tensor } => write!(f, "tensor id {tensor} is beyond the tensor table"),
            DataOutOfBounds { tensor } => write!(f, "tensor {tensor}: constant data out of bounds, misaligned or of the wrong length"),
            ArenaOutOfBounds { tensor } => write!(f, "tensor {tensor}: arena placement out of bounds or misaligned"),
            InvalidShape { tensor } => write!(f, "tensor {tensor}: invalid shape"),
            InvalidQuantization { tensor } => write!(f, "tensor {tensor}: invalid or missing quantization parameters"),
            Arity { op, code, found } => write!(f, "op {op} ({code}): wrong number of inputs ({found})"),
            DTypeMismatch { op, tensor } => write!(f, "op {op}: tensor {tensor} has a dtype the op does not accept there"),
            ShapeMismatch { op, tensor } => write!(f, "op {op}: tensor {tensor} has an inconsistent shape"),
            InvalidAttribute { op, code } => write!(f, "op {op} ({code}): attribute out of range"),
            InvalidGraphIo { tensor } => write!(f, "tensor {tensor}: invalid graph input or output"),
            InvalidLifetime { op, tensor } => write!(f, "op {op}: tensor {tensor} is used outside its planned lifetime or never written"),
            PlanOverlap { a, b } => write!(f, "memory plan: tensors {a} and {b} overlap while both are live"),
            ScratchTooSmall { op, needed, planned } => write!(f, "op {op}: its kernel needs {needed} B of scratch, the memory plan has {planned} B; convert the model again"),
            ScratchOutOfBounds { op } => write!(f, "op {op}: scratch out of the arena or misaligned"),
            ScratchOverlap { op, tensor } => write!(f, "memory plan: op {op}'s scratch overlaps tensor {tensor}, live during the op"),
            OpNotCompiled { op, code, feature } => write!(f, "op {op} ({code}) is not compiled in: enable mote-runtime's feature \"{feature}\""),
            UnknownLayout { tensor, code } => write!(f, "tensor {tensor}: unknown weight layout code {code}"),
            LayoutNotCompiled { tensor, layout } => write!(
                f,
                "tensor {tensor}: weight layout {} is not compiled in: enable mote-runtime's feature \"{}\", or convert the model without --target",
                layout.name(),
                layout.feature().unwrap_or("")
            ),
            LayoutSize { tensor, expected, found } => write!(f, "tensor {tensor}: packed data of {found} B, its layout needs {expected} B"),
            LayoutMismatch { tensor } => write!(f, "tensor {tensor}: its weight layout does not fit the tensor or the ops that read it"),
        }
    }
}

impl core::fmt::Display for RunError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use RunError::*;
        match *self {
            ArenaTooSmall { required, provided } => write!(f, "arena too small: the model needs {required} bytes, {provided} given"),
            NoSuchTensor => write!(f, "no graph input or output with that index or name"),
            WrongDType { expected, found } => write!(f, "tensor is {found:?}, not {expected:?}"),
            WrongLength { expected, found } => write!(f, "tensor has {expected} elements, {found} given"),
            NotQuantized => write!(f, "tensor is not quantized per tensor"),
            Internal => write!(f, "internal error: validated model inconsistent at run time"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FormatError {}
#[cfg(feature = "std")]
impl std::error::Error for RunError {}
