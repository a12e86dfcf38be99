//! What an op family sees of one op: [`Check`] at load time, [`Exec`] at run time.
//!
//! Both hold the op's decoded tensor descriptors; `Check` turns every inconsistency into the
//! [`FormatError`] naming the op and tensor at fault, `Exec` hands out the operands' bytes as
//! typed slices (constants in place from the model, activations from the arena).

use bytemuck::Pod;

use super::{Activation, Feature, OpCode, OpDesc};
use crate::error::{FormatError, RunError};
use crate::format::Model;
use crate::quant::{QParams, Requant, RequantTable};
use crate::tensor::{DType, Quant, Storage, TensorDesc, TensorId, MAX_RANK};

/// One op under load-time validation. `x` is its first input, `y` its output.
pub(crate) struct Check<'c, 'm> {
    pub model: &'c Model<'m>,
    pub index: u32,
    pub op: &'c OpDesc,
    code: OpCode,
    x_id: TensorId,
    pub x: TensorDesc<'m>,
    pub y: TensorDesc<'m>,
    /// Set by [`Check::weighted`] for an int8 op whose requantization entries are all normal.
    pub normal_requant: core::cell::Cell<bool>,
}

impl<'c, 'm> Check<'c, 'm> {
    /// Decodes the first input and the output; an op without inputs is an arity error.
    pub fn new(model: &'c Model<'m>, index: u32, op: &'c OpDesc) -> Result<Self, FormatError> {
        let code = op.kind.code();
        let &x_id = op.inputs.first().ok_or(FormatError::Arity { op: index, code, found: 0 })?;
        let x = model.checked_tensor(x_id)?;
        let y = model.checked_tensor(op.output)?;
        Ok(Check { model, index, op, code, x_id, x, y, normal_requant: core::cell::Cell::new(false) })
    }

    pub fn n_in(&self) -> usize {
        self.op.inputs.len()
    }

    pub fn x_id(&self) -> TensorId {
        self.x_id
    }

    pub fn y_id(&self) -> TensorId {
        self.op.output
    }

    pub fn is_i8(&self) -> bool {
        self.x.dtype == DType::I8
    }

    /// [`is_i8`](Self::is_i8) for an op of `family` whose input is f32 or int8: constant when
    /// the build has one of the family's two features (the loader has rejected an op whose
    /// feature is left out), so the other dtype's checks are not linked.
    #[inline(always)]
    pub fn is_i8_in(&self, family: Feature) -> bool {
        !family.f32().compiled() || (family.compiled() && self.is_i8())
    }

    pub fn arity(&self) -> FormatError {
        FormatError::Arity { op: self.index, code: self.code, found: self.n_in() as u8 }
    }

    /// `Ok` when the op has exactly `n` inputs.
    pub fn arity_is(&self, n: usize) -> Result<(), FormatError> {
        if self.n_in() == n { Ok(()) } else { Err(self.arity()) }
    }

    /// The op is left out of this build: it needs `mote-runtime`'s Cargo `feature`.
    pub fn not_compiled(&self, feature: Feature) -> FormatError {
        FormatError::OpNotCompiled { op: self.index, code: self.code, feature }
    }

    pub fn attr(&self) -> FormatError {
        FormatError::InvalidAttribute { op: self.index, code: self.code }
    }

    pub fn dtype_err(&self, tensor: TensorId) -> FormatError {
        FormatError::DTypeMismatch { op: self.index, tensor }
    }

    pub fn shape_err(&self, tensor: TensorId) -> FormatError {
        FormatError::ShapeMismatch { op: self.index, tensor }
    }

    /// The id of input `slot`; an arity error when the op has fewer inputs.
    pub fn id(&self, slot: usize) -> Result<TensorId, FormatError> {
        self.op.inputs.get(slot).copied().ok_or(self.arity())
    }

    /// The descriptor of input `slot`.
    pub fn input(&self, slot: usize) -> Result<TensorDesc<'m>, FormatError> {
        self.model.checked_tensor(self.id(slot)?)
    }

    pub fn expect_dtype(&self, t: &TensorDesc<'_>, id: TensorId, want: DType) -> Result<(), FormatError> {
        if t.dtype == want { Ok(()) } else { Err(self.dtype_err(id)) }
    }

    /// For ops whose output keeps the input's dtype and (int8) its quantization.
    pub fn same_type(&self, t: &TensorDesc<'_>, id: TensorId) -> Result<(), FormatError> {
        if t.dtype != self.y.dtype {
            return Err(self.dtype_err(id));
        }
        if t.dtype == DType::I8 && t.qparams() != self.y.qparams() {
            return Err(FormatError::InvalidQuantization { tensor: self.op.output });
        }
        Ok(())
    }

    pub fn float_or_i8(&self, t: &TensorDesc<'_>, id: TensorId) -> Result<(), FormatError> {
        match t.dtype {
            DType::F32 | DType::I8 => Ok(()),
            DType::I32 => Err(self.dtype_err(id)),
        }
    }

    /// Input `slot` is a constant lookup table of 256 entries of `dtype`.
    pub fn table(&self, slot: usize, dtype: DType) -> Result<(), FormatError> {
        let id = self.id(slot)?;
        let t = self.model.checked_tensor(id)?;
        if t.dtype != dtype {
            return Err(self.dtype_err(id));
        }
        if !matches!(t.storage, Storage::Const(_)) || t.shape.numel() != Some(256) {
            return Err(self.shape_err(id));
        }
        Ok(())
    }

    /// The operands of a weighted op (Conv2d, FullyConnected) whose weights `w` are input 1:
    /// f32 `[x, w, bias?]`, or int8 `[x, w, bias, requant]` with symmetric weights (per tensor, or
    /// per channel on axis 0), an int32 bias of `[out_channels]` and a constant int32 requant of
    /// `[1 or out_channels, 2]` whose pairs are valid [`Requant`]s.
    pub fn weighted(&self, family: Feature, w_id: TensorId, w: &TensorDesc<'_>) -> Result<(), FormatError> {
        let (x, y, op) = (&self.x, &self.y, self.op);
        let out_channels = *w.shape.dims().first().unwrap_or(&0);
        let is_i8 = self.is_i8_in(family);
        let (bias_dtype, n) = match x.dtype {
            DType::F32 => (DType::F32, self.n_in()),
            DType::I8 => (DType::I32, self.n_in()),
            DType::I32 => return Err(self.dtype_err(self.x_id)),
        };
        if (is_i8 && n != 4) || (!is_i8 && !(2..=3).contains(&n)) {
            return Err(self.arity());
        }
        if w.dtype != x.dtype {
            return Err(self.dtype_err(w_id));
        }
        if y.dtype != x.dtype {
            return Err(self.dtype_err(op.output));
        }
        if let Some(&b_id) = op.inputs.get(2) {
            let b = self.model.checked_tensor(b_id)?;
            if b.dtype != bias_dtype {
                return Err(self.dtype_err(b_id));
            }
            if b.shape.dims() != [out_channels] {
                return Err(self.shape_err(b_id));
            }
        }
        if is_i8 {
            match w.quant {
                Quant::PerTensor { zero_point: 0, .. } => {}
                Quant::PerChannel { axis: 0, .. } => {}
                _ => return Err(FormatError::InvalidQuantization { tensor: w_id }),
            }
            let q_id = op.inputs[3];
            let q = self.model.checked_tensor(q_id)?;
            let Storage::Const(region) = q.storage else { return Err(self.dtype_err(q_id)) };
            let rows = q.shape.dims().first().copied().unwrap_or(0);
            if q.dtype != DType::I32 || q.shape.dims().len() != 2 || q.shape.dims()[1] != 2 || (rows != 1 && rows != out_channels) {
                return Err(self.shape_err(q_id));
            }
            let data = self.model.weights(region).ok_or(FormatError::DataOutOfBounds { tensor: q_id })?;
            let (mut valid, mut normal) = (true, true);
            for c in data.chunks_exact(8) {
                let r = Requant { multiplier: i32::from_le_bytes([c[0], c[1], c[2], c[3]]), shift: i32::from_le_bytes([c[4], c[5], c[6], c[7]]) };
                valid &= r.is_valid();
                normal &= r.is_normal();
            }
            if !valid {
                return Err(self.attr());
            }
            self.normal_requant.set(normal);
            if x.qparams().is_none() {
                return Err(FormatError::InvalidQuantization { tensor: self.x_id });
            }
            if y.qparams().is_none() {
                return Err(FormatError::InvalidQuantization { tensor: op.output });
            }
        }
        Ok(())
    }
}

/// `(len + pad_a + pad_b - dilation*(kernel-1) - 1) / stride + 1`, `None` if the window does not fit
/// or the result does not fit a `u32`. The division is on `u32`: a 64-bit one would link a
/// software divide on 32-bit cores.
pub(crate) fn window_out(len: u32, kernel: u32, stride: u16, dilation: u16, pad_a: u16, pad_b: u16) -> Option<u32> {
    let span = (dilation as u64) * (kernel as u64 - 1) + 1;
    let padded = len as u64 + pad_a as u64 + pad_b as u64;
    let room = u32::try_from(padded.checked_sub(span)?).ok()?;
    (room / stride as u32).checked_add(1)
}

/// One op being run: its decoded tensors and read-only views of everything but its window and
/// scratch.
///
/// The op's *window* is its output's bytes, or for an output that overlaps an input (an
/// in-place op, a convolution trailing its input: what the loader allowed) the union of both.
/// The arena is split around the window and the scratch, so inputs, window and scratch are
/// disjoint borrows; an input inside the window has no separate view ([`Exec::bytes`] gives
/// `None`).
pub(crate) struct Exec<'s, 'm: 's> {
    pub model: &'m Model<'m>,
    /// The op's index in the model.
    pub index: usize,
    /// The ids of the op's inputs, in slot order.
    #[cfg(feature = "fully_connected_q15")]
    pub ids: &'s [TensorId],
    /// The op's inputs, in slot order.
    pub ins: &'s [TensorDesc<'m>],
    /// Its first input, `ins[0]`.
    pub x: &'s TensorDesc<'m>,
    /// The op's output.
    pub y: &'s TensorDesc<'m>,
    /// The arena outside the window and the scratch: up to three views, each with its offset.
    pub views: [(usize, &'s [u8]); 3],
    /// The window's byte range in the arena.
    pub window: (usize, usize),
}

impl<'s, 'm: 's> Exec<'s, 'm> {
    /// Input `slot`.
    pub fn input(&self, slot: usize) -> Result<&'s TensorDesc<'m>, RunError> {
        self.ins.get(slot).ok_or(RunError::Internal)
    }

    /// How input `slot`, a constant, is stored ([`Model::layout`]): the one place a kernel's
    /// caller learns that weights are packed.
    #[cfg(feature = "fully_connected_q15")]
    #[inline(always)]
    pub fn layout(&self, slot: usize) -> crate::format::Layout {
        self.ids.get(slot).map_or(crate::format::Layout::Reference, |&id| self.model.layout(id))
    }

    /// Whether the op, of `family`, computes in int8, else in f32. The loader admits no op whose
    /// feature this build leaves out, so with one of the family's two features this is a
    /// constant and the other dtype's branch is not linked.
    #[inline(always)]
    pub fn is_i8(&self, family: Feature) -> bool {
        !family.f32().compiled() || (family.compiled() && self.y.dtype == DType::I8)
    }

    /// The bytes of an input, or `None` if it lies in the op's window (in-place op).
    pub fn bytes(&self, t: &TensorDesc<'_>) -> Result<Option<&'s [u8]>, RunError> {
        let slice = match t.storage {
            Storage::Const(region) => self.model.weights(region),
            Storage::Arena { .. } => {
                let (start, len) = arena_range(t).ok_or(RunError::Internal)?;
                if start < self.window.1 && self.window.0 < start + len {
                    return Ok(None);
                }
                self.views.iter().find(|(at, v)| *at <= start && start + len <= at + v.len()).and_then(|&(at, v)| v.get(start - at..start - at + len))
            }
        };
        slice.map(Some).ok_or(RunError::Internal)
    }

    /// Where an arena tensor of the window starts, from the window's start.
    pub fn window_offset(&self, t: &TensorDesc<'_>) -> Result<usize, RunError> {
        let (start, _) = arena_range(t).ok_or(RunError::Internal)?;
        start.checked_sub(self.window.0).ok_or(RunError::Internal)
    }

    /// The elements of an input that is not the output's buffer.
    pub fn get<T: Pod>(&self, t: &TensorDesc<'_>) -> Result<&'s [T], RunError> {
        cast(self.bytes(t)?.ok_or(RunError::Internal)?)
    }

    /// The requantization table in input `slot` of an int8 Conv2d or FullyConnected, with what
    /// the loader found of it ([`Model::requant_is_normal`]).
    pub fn requant(&self, slot: usize) -> Result<RequantTable<'s>, RunError> {
        let entries: &[Requant] = self.get(self.input(slot)?)?;
        Ok(if self.model.requant_is_normal(self.index) { RequantTable::known_normal(entries) } else { RequantTable::new(entries) })
    }

    /// The optional input `slot` (e.g. an f32 bias).
    pub fn optional<T: Pod>(&self, slot: usize) -> Result<Option<&'s [T]>, RunError> {
        match self.ins.get(slot) {
            Some(t) => Ok(Some(self.get(t)?)),
            None => Ok(None),
        }
    }

    /// The fused activation as an f32 clamp.
    pub fn act_f32(&self, a: Activation) -> (f32, f32) {
        a.bounds()
    }

    /// The fused activation as an int8 clamp in the output's quantization.
    pub fn act_i8(&self, a: Activation) -> Result<(i8, i8), RunError> {
        Ok(a.bounds_i8(qparams(self.y)?))
    }
}

/// The byte range of an activation in the arena: `(offset, length)`.
pub(crate) fn arena_range(t: &TensorDesc<'_>) -> Option<(usize, usize)> {
    match t.storage {
        Storage::Arena { offset, .. } => Some((offset as usize, t.byte_len()? as usize)),
        Storage::Const(_) => None,
    }
}

pub(crate) fn cast<T: Pod>(b: &[u8]) -> Result<&[T], RunError> {
    bytemuck::try_cast_slice(b).map_err(|_| RunError::Internal)
}

pub(crate) fn cast_mut<T: Pod>(b: &mut [u8]) -> Result<&mut [T], RunError> {
    bytemuck::try_cast_slice_mut(b).map_err(|_| RunError::Internal)
}

pub(crate) fn qparams(t: &TensorDesc<'_>) -> Result<QParams, RunError> {
    t.qparams().ok_or(RunError::Internal)
}

/// The dimensions of `t` as `usize` and its rank.
pub(crate) fn dims(t: &TensorDesc<'_>) -> ([usize; MAX_RANK], usize) {
    let r = t.shape.rank();
    (t.shape.padded(r), r)
}
