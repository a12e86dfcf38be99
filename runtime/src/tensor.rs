//! Tensor descriptors as stored in the model file.

use serde::{Deserialize, Serialize};

/// Highest tensor rank the format and every kernel accept.
pub const MAX_RANK: usize = 6;

/// Index of a tensor in the model's tensor table.
pub type TensorId = u16;

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DType {
    F32,
    I8,
    I32,
}

impl DType {
    /// Number of variants; a stored discriminant at or above this is an unknown dtype.
    pub const COUNT: u32 = 3;

    pub const fn size(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::F32 | DType::I32 => 4,
        }
    }
}

/// Dimensions of a tensor, outermost first (row-major), at most [`MAX_RANK`].
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape(pub heapless::Vec<u32, MAX_RANK>);

impl Shape {
    /// A shape from its dimensions; `None` if there are more than [`MAX_RANK`].
    pub fn new(dims: &[u32]) -> Option<Shape> {
        heapless::Vec::from_slice(dims).ok().map(Shape)
    }

    pub fn dims(&self) -> &[u32] {
        &self.0
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements, `None` on overflow of `u32` (the format's size limit).
    pub fn numel(&self) -> Option<u32> {
        self.0.iter().try_fold(1u32, |acc, &d| acc.checked_mul(d))
    }

    /// The dimensions as `usize`, left-padded with 1s to `rank` (which must be >= `self.rank()`).
    pub fn padded(&self, rank: usize) -> [usize; MAX_RANK] {
        let mut out = [1usize; MAX_RANK];
        let skip = rank.saturating_sub(self.rank());
        for (o, &d) in out[skip..rank].iter_mut().zip(self.dims()) {
            *o = d as usize;
        }
        out
    }

    /// The dimensions as a `[usize; 4]`, for 4-D tensors (NHWC).
    pub fn nhwc(&self) -> [usize; 4] {
        let p = self.padded(4);
        [p[0], p[1], p[2], p[3]]
    }
}

/// A byte range inside the weights section. `offset` is a multiple of 16.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Region {
    pub offset: u32,
    pub len: u32,
}

/// Quantization parameters. int8 tensors are quantized per tensor or (weights) per channel;
/// per-channel quantization is symmetric (zero point 0) and its scales are `len` little-endian
/// f32 values stored in the weights section.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Quant {
    None,
    PerTensor { scale: f32, zero_point: i32 },
    PerChannel { axis: u8, scales: Region },
}

/// Where a tensor's bytes live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Storage {
    /// Constant data in the weights section, read in place (from flash on a device).
    Const(Region),
    /// An activation in the caller's arena, at a byte offset (multiple of 16) fixed by the memory
    /// plan. It must stay intact from op `first` to op `last` inclusive: `first` is the op that
    /// writes it (0 for graph inputs), `last` the last op that reads it (the op count for graph
    /// outputs, which the caller reads after the run).
    Arena { offset: u32, first: u16, last: u16 },
}

/// One entry of the tensor table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TensorDesc<'a> {
    pub dtype: DType,
    pub shape: Shape,
    pub quant: Quant,
    pub storage: Storage,
    pub name: &'a str,
}

impl TensorDesc<'_> {
    /// Size of the tensor's data in bytes (`None` on overflow).
    pub fn byte_len(&self) -> Option<u32> {
        self.shape.numel()?.checked_mul(self.dtype.size() as u32)
    }

    /// Per-tensor quantization parameters, if any.
    pub fn qparams(&self) -> Option<crate::quant::QParams> {
        match self.quant {
            Quant::PerTensor { scale, zero_point } => Some(crate::quant::QParams { scale, zero_point }),
            _ => None,
        }
    }
}
