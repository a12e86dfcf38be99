//! Running a validated model over a caller-given arena.
//!
//! The interpreter owns no memory: activations live in the arena at the offsets the plan fixed,
//! constants are read in place from the model's bytes. `invoke` walks the ops in order, decodes
//! each one and its operands' descriptors (names skipped), takes disjoint views of its operands (inputs never overlap the output except for
//! the in-place ops the loader allowed) and hands them to the op's family ([`ops::run`](crate::ops)),
//! which calls its reference kernel.

use bytemuck::Pod;

use crate::error::RunError;
use crate::format::{Model, ALIGN};
use crate::kernels;
use crate::ops::operands::{arena_range, cast, cast_mut, Exec};
use crate::ops::{self, OpCode, OpDesc, MAX_OP_INPUTS};
use crate::quant::QParams;
use crate::tensor::{DType, Shape, TensorDesc, TensorId};

/// Called around every op, e.g. to record cycles or instructions per layer on a target.
pub trait OpHook {
    fn before_op(&mut self, _index: usize, _op: OpCode) {}
    fn after_op(&mut self, _index: usize, _op: OpCode) {}
    /// The bytes op `index` just wrote to its output tensor `output` (for calibration and
    /// per-layer error on the host). Called after `after_op`, so timing hooks do not count it.
    fn output(&mut self, _index: usize, _output: TensorId, _bytes: &[u8]) {}
}

/// The hook that does nothing.
impl OpHook for () {}

/// A 16-byte aligned byte array to use as an arena (e.g. in a `static` on a device).
#[repr(C, align(16))]
pub struct Arena<const N: usize>(pub [u8; N]);

impl<const N: usize> Arena<N> {
    pub const fn new() -> Self {
        Arena([0; N])
    }
}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Embeds a model file in the binary at a 16-byte aligned address, as `&'static [u8]`.
///
/// ```ignore
/// static MODEL: &[u8] = mote_runtime::include_model!("../model.mote");
/// ```
#[macro_export]
macro_rules! include_model {
    ($path:expr) => {{
        #[repr(C, align(16))]
        struct Aligned<T: ?Sized>(T);
        static ALIGNED: &Aligned<[u8]> = &Aligned(*include_bytes!($path));
        &ALIGNED.0
    }};
}

/// Name, type, shape and quantization of a graph input or output.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo<'a> {
    pub id: TensorId,
    pub name: &'a str,
    pub dtype: DType,
    pub shape: Shape,
    /// Per-tensor quantization parameters of int8 tensors.
    pub qparams: Option<QParams>,
}

impl TensorInfo<'_> {
    pub fn len(&self) -> usize {
        self.shape.numel().unwrap_or(0) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Runs one model over one arena.
pub struct Interpreter<'m, 'a> {
    model: &'m Model<'m>,
    arena: &'a mut [u8],
}

impl<'m, 'a> Interpreter<'m, 'a> {
    /// Prepares to run `model` in `arena`. The arena must hold `model.arena_bytes()` bytes from
    /// its first 16-byte aligned address; a smaller one is [`RunError::ArenaTooSmall`] stating
    /// the size needed.
    pub fn new(model: &'m Model<'m>, arena: &'a mut [u8]) -> Result<Self, RunError> {
        let skip = arena.as_ptr().align_offset(ALIGN);
        let required = model.arena_bytes() + skip;
        if arena.len() < required {
            return Err(RunError::ArenaTooSmall { required, provided: arena.len() });
        }
        let arena = &mut arena[skip..required];
        Ok(Interpreter { model, arena })
    }

    pub fn model(&self) -> &'m Model<'m> {
        self.model
    }

    fn info(&self, id: Option<&TensorId>) -> Result<TensorInfo<'m>, RunError> {
        let &id = id.ok_or(RunError::NoSuchTensor)?;
        let t = self.model.tensor(id).ok_or(RunError::Internal)?;
        Ok(TensorInfo { id, name: t.name, dtype: t.dtype, qparams: t.qparams(), shape: t.shape })
    }

    /// Graph input `index`.
    pub fn input(&self, index: usize) -> Result<TensorInfo<'m>, RunError> {
        self.info(self.model.inputs().get(index))
    }

    /// Graph output `index`.
    pub fn output(&self, index: usize) -> Result<TensorInfo<'m>, RunError> {
        self.info(self.model.outputs().get(index))
    }

    fn bytes(&self, id: TensorId) -> Result<&[u8], RunError> {
        let t = self.model.operand(id).ok_or(RunError::Internal)?;
        let (start, len) = arena_range(&t).ok_or(RunError::Internal)?;
        self.arena.get(start..start + len).ok_or(RunError::Internal)
    }

    fn bytes_mut(&mut self, id: TensorId) -> Result<&mut [u8], RunError> {
        let t = self.model.operand(id).ok_or(RunError::Internal)?;
        let (start, len) = arena_range(&t).ok_or(RunError::Internal)?;
        self.arena.get_mut(start..start + len).ok_or(RunError::Internal)
    }

    fn typed<T: Pod>(&self, info: &TensorInfo<'_>, want: DType) -> Result<&[T], RunError> {
        if info.dtype != want {
            return Err(RunError::WrongDType { expected: want, found: info.dtype });
        }
        cast(self.bytes(info.id)?)
    }

    fn typed_mut<T: Pod>(&mut self, info: &TensorInfo<'_>, want: DType) -> Result<&mut [T], RunError> {
        if info.dtype != want {
            return Err(RunError::WrongDType { expected: want, found: info.dtype });
        }
        cast_mut(self.bytes_mut(info.id)?)
    }

    /// The f32 data of graph input `index`, to fill before [`invoke`](Self::invoke).
    pub fn input_f32_mut(&mut self, index: usize) -> Result<&mut [f32], RunError> {
        let info = self.input(index)?;
        self.typed_mut(&info, DType::F32)
    }

    /// The int8 data of graph input `index`.
    pub fn input_i8_mut(&mut self, index: usize) -> Result<&mut [i8], RunError> {
        let info = self.input(index)?;
        self.typed_mut(&info, DType::I8)
    }

    /// Sets graph input `index` from real values, quantizing them if the input is int8.
    pub fn set_input_f32(&mut self, index: usize, data: &[f32]) -> Result<(), RunError> {
        let info = self.input(index)?;
        if data.len() != info.len() {
            return Err(RunError::WrongLength { expected: info.len(), found: data.len() });
        }
        match info.dtype {
            DType::F32 => self.typed_mut::<f32>(&info, DType::F32)?.copy_from_slice(data),
            DType::I8 => {
                let q = info.qparams.ok_or(RunError::NotQuantized)?;
                kernels::quantize::quantize_f32_i8(q, data, self.typed_mut(&info, DType::I8)?);
            }
            DType::I32 => return Err(RunError::WrongDType { expected: DType::F32, found: DType::I32 }),
        }
        Ok(())
    }

    /// The f32 data of graph output `index`.
    pub fn output_f32(&self, index: usize) -> Result<&[f32], RunError> {
        let info = self.output(index)?;
        self.typed(&info, DType::F32)
    }

    /// The int8 data of graph output `index`.
    pub fn output_i8(&self, index: usize) -> Result<&[i8], RunError> {
        let info = self.output(index)?;
        self.typed(&info, DType::I8)
    }

    /// The raw bytes of graph output `index` (for bit-exact comparisons across targets).
    pub fn output_bytes(&self, index: usize) -> Result<&[u8], RunError> {
        let info = self.output(index)?;
        self.bytes(info.id)
    }

    /// Graph output `index` as real values, dequantizing an int8 output.
    pub fn output_to_f32(&self, index: usize, out: &mut [f32]) -> Result<(), RunError> {
        let info = self.output(index)?;
        if out.len() != info.len() {
            return Err(RunError::WrongLength { expected: info.len(), found: out.len() });
        }
        match info.dtype {
            DType::F32 => out.copy_from_slice(self.typed(&info, DType::F32)?),
            DType::I8 => {
                let q = info.qparams.ok_or(RunError::NotQuantized)?;
                kernels::quantize::dequantize_i8_f32(q, self.typed(&info, DType::I8)?, out);
            }
            DType::I32 => {
                for (o, &v) in out.iter_mut().zip(self.typed::<i32>(&info, DType::I32)?) {
                    *o = v as f32;
                }
            }
        }
        Ok(())
    }

    /// Runs every op once.
    pub fn invoke(&mut self) -> Result<(), RunError> {
        self.invoke_with(&mut ())
    }

    /// Runs every op once, calling `hook` around each.
    pub fn invoke_with<H: OpHook + ?Sized>(&mut self, hook: &mut H) -> Result<(), RunError> {
        for index in 0..self.model.op_count() {
            let op = self.model.op(index).ok_or(RunError::Internal)?;
            let code = op.kind.code();
            hook.before_op(index, code);
            let (start, len) = self.run_op(index, &op)?;
            hook.after_op(index, code);
            hook.output(index, op.output, self.arena.get(start..start + len).ok_or(RunError::Internal)?);
        }
        Ok(())
    }

    /// Runs one op; returns where its output lies in the arena.
    fn run_op(&mut self, index: usize, op: &OpDesc) -> Result<(usize, usize), RunError> {
        let model = self.model;
        let y = model.operand(op.output).ok_or(RunError::Internal)?;
        let mut ins: heapless::Vec<TensorDesc<'m>, MAX_OP_INPUTS> = heapless::Vec::new();
        for &id in &op.inputs {
            ins.push(model.operand(id).ok_or(RunError::Internal)?).map_err(|_| RunError::Internal)?;
        }
        let (out_start, out_len) = arena_range(&y).ok_or(RunError::Internal)?;
        // The window: the output and every input it overlaps (as the loader allowed).
        let (mut w0, mut w1) = (out_start, out_start + out_len);
        for t in &ins {
            if let Some((start, len)) = arena_range(t) {
                if start < out_start + out_len && out_start < start + len {
                    (w0, w1) = (w0.min(start), w1.max(start + len));
                }
            }
        }
        let (s0, s1) = match op.scratch.len {
            0 => (0, 0),
            len => (op.scratch.offset as usize, op.scratch.offset as usize + len as usize),
        };
        let arena = &mut *self.arena;
        if s1 > arena.len() || w1 > arena.len() || (s0 < w1 && w0 < s1) {
            return Err(RunError::Internal);
        }
        let (window, scratch, views) = if s1 <= w0 {
            let (below, rest) = arena.split_at_mut(w0);
            let (window, above) = rest.split_at_mut(w1 - w0);
            let (below, rest) = below.split_at_mut(s0);
            let (scratch, between) = rest.split_at_mut(s1 - s0);
            (window, scratch, [(0, &*below), (s1, &*between), (w1, &*above)])
        } else {
            let (below, rest) = arena.split_at_mut(w0);
            let (window, above) = rest.split_at_mut(w1 - w0);
            let (between, rest) = above.split_at_mut(s0 - w1);
            let (scratch, above) = rest.split_at_mut(s1 - s0);
            (window, scratch, [(0, &*below), (w1, &*between), (s1, &*above)])
        };
        let x = ins.first().ok_or(RunError::Internal)?;
        let exec = Exec {
            model,
            index,
            #[cfg(feature = "fully_connected_q15")]
            ids: &op.inputs,
            ins: &ins,
            x,
            y: &y,
            views,
            window: (w0, w1),
        };
        ops::run(&op.kind, &exec, window, scratch)?;
        Ok((out_start, out_len))
    }
}
