//! Running a validated model over a caller-given arena.
//!
//! The interpreter owns no memory: activations live in the arena at the offsets the plan fixed,
//! constants are read in place from the model's bytes. `invoke` walks the ops in order, decodes
//! each one, takes disjoint views of its operands (inputs never overlap the output except for
//! the in-place ops the loader allowed) and calls the op's reference kernel.

use bytemuck::Pod;

use crate::error::RunError;
use crate::format::{Model, ALIGN};
use crate::kernels::{self, MAX_RANK};
use crate::ops::{Activation, OpCode, OpDesc, OpKind, ResizeMode, MAX_OP_INPUTS};
use crate::quant::{QParams, Requant};
use crate::tensor::{DType, Shape, Storage, TensorDesc, TensorId};

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

fn cast<T: Pod>(b: &[u8]) -> Result<&[T], RunError> {
    bytemuck::try_cast_slice(b).map_err(|_| RunError::Internal)
}

fn cast_mut<T: Pod>(b: &mut [u8]) -> Result<&mut [T], RunError> {
    bytemuck::try_cast_slice_mut(b).map_err(|_| RunError::Internal)
}

fn arena_range(t: &TensorDesc<'_>) -> Option<(usize, usize)> {
    match t.storage {
        Storage::Arena { offset, .. } => Some((offset as usize, t.byte_len()? as usize)),
        Storage::Const(_) => None,
    }
}

/// Read-only access to everything but the output of the op being run.
struct Operands<'s> {
    model: &'s Model<'s>,
    below: &'s [u8],
    above: &'s [u8],
    out_start: usize,
    out_end: usize,
}

impl<'s> Operands<'s> {
    /// The bytes of an input, or `None` if it is the output's own buffer (in-place op).
    fn bytes(&self, t: &TensorDesc<'_>) -> Result<Option<&'s [u8]>, RunError> {
        let slice = match t.storage {
            Storage::Const(region) => self.model.weights(region),
            Storage::Arena { .. } => {
                let (start, len) = arena_range(t).ok_or(RunError::Internal)?;
                if start + len <= self.out_start {
                    self.below.get(start..start + len)
                } else if start >= self.out_end {
                    self.above.get(start - self.out_end..start - self.out_end + len)
                } else {
                    return Ok(None);
                }
            }
        };
        slice.map(Some).ok_or(RunError::Internal)
    }

    fn get<T: Pod>(&self, t: &TensorDesc<'_>) -> Result<&'s [T], RunError> {
        cast(self.bytes(t)?.ok_or(RunError::Internal)?)
    }
}

fn qparams(t: &TensorDesc<'_>) -> Result<QParams, RunError> {
    t.qparams().ok_or(RunError::Internal)
}

fn act_f32(a: Activation) -> (f32, f32) {
    a.bounds()
}

fn act_i8(a: Activation, out: &TensorDesc<'_>) -> Result<(i8, i8), RunError> {
    Ok(a.bounds_i8(qparams(out)?))
}

fn dims(t: &TensorDesc<'_>) -> ([usize; MAX_RANK], usize) {
    let r = t.shape.rank();
    (t.shape.padded(r), r)
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
        let t = self.model.tensor(id).ok_or(RunError::Internal)?;
        let (start, len) = arena_range(&t).ok_or(RunError::Internal)?;
        self.arena.get(start..start + len).ok_or(RunError::Internal)
    }

    fn bytes_mut(&mut self, id: TensorId) -> Result<&mut [u8], RunError> {
        let t = self.model.tensor(id).ok_or(RunError::Internal)?;
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
            self.run_op(&op)?;
            hook.after_op(index, code);
            let y = self.model.tensor(op.output).ok_or(RunError::Internal)?;
            let (start, len) = arena_range(&y).ok_or(RunError::Internal)?;
            hook.output(index, op.output, self.arena.get(start..start + len).ok_or(RunError::Internal)?);
        }
        Ok(())
    }

    fn run_op(&mut self, op: &OpDesc) -> Result<(), RunError> {
        let model = self.model;
        let y = model.tensor(op.output).ok_or(RunError::Internal)?;
        let mut ins: heapless::Vec<TensorDesc<'m>, MAX_OP_INPUTS> = heapless::Vec::new();
        for &id in &op.inputs {
            ins.push(model.tensor(id).ok_or(RunError::Internal)?).map_err(|_| RunError::Internal)?;
        }
        let (out_start, out_len) = arena_range(&y).ok_or(RunError::Internal)?;
        let (below, rest) = self.arena.split_at_mut(out_start);
        let (out, above) = rest.split_at_mut(out_len);
        let src = Operands { model, below, above, out_start, out_end: out_start + out_len };
        execute(&op.kind, &ins, &y, &src, out)
    }
}

/// Calls a data-movement kernel for the element size of `dtype`: f32 and i32 both move as u32,
/// so each kernel is instantiated twice, not three times.
macro_rules! by_dtype {
    ($dtype:expr, $f:ident ( $($arg:expr),* )) => {
        match $dtype {
            DType::I8 => $f::<i8>($($arg),*),
            DType::F32 | DType::I32 => $f::<u32>($($arg),*),
        }
    };
}

fn execute(kind: &OpKind, ins: &[TensorDesc<'_>], y: &TensorDesc<'_>, src: &Operands<'_>, out: &mut [u8]) -> Result<(), RunError> {
    use kernels::*;
    let x = ins.first().ok_or(RunError::Internal)?;
    let input = |slot: usize| ins.get(slot).ok_or(RunError::Internal);
    let is_i8 = y.dtype == DType::I8;
    match *kind {
        OpKind::Conv2d { stride, dilation, pad, groups, act } => {
            let w = input(1)?;
            let wd = w.shape.nhwc();
            let p = conv::Conv2dParams {
                input: x.shape.nhwc(),
                output: y.shape.nhwc(),
                kernel: [wd[1], wd[2]],
                stride: [stride[0] as usize, stride[1] as usize],
                dilation: [dilation[0] as usize, dilation[1] as usize],
                pad: [pad[0] as usize, pad[1] as usize],
                groups: groups as usize,
            };
            if is_i8 {
                let (xq, yq) = (qparams(x)?, qparams(y)?);
                let requant: &[Requant] = src.get(input(3)?)?;
                let bias = Some(src.get::<i32>(input(2)?)?);
                conv2d_i8(&p, src.get(x)?, xq.zero_point, src.get(w)?, bias, requant, yq.zero_point, cast_mut(out)?, act_i8(act, y)?);
            } else {
                let bias = match ins.get(2) { Some(b) => Some(src.get::<f32>(b)?), None => None };
                conv::conv2d_f32(&p, src.get(x)?, src.get(w)?, bias, cast_mut(out)?, act_f32(act));
            }
        }
        OpKind::FullyConnected { act } => {
            let w = input(1)?;
            let wd = w.shape.dims();
            let (outputs, inputs) = (wd[0] as usize, wd[1] as usize);
            let rows = x.shape.numel().unwrap_or(0) as usize / inputs.max(1);
            let p = fully_connected::FcParams { rows, inputs, outputs };
            if is_i8 {
                let (xq, yq) = (qparams(x)?, qparams(y)?);
                let requant: &[Requant] = src.get(input(3)?)?;
                let bias = Some(src.get::<i32>(input(2)?)?);
                fully_connected_i8(&p, src.get(x)?, xq.zero_point, src.get(w)?, bias, requant, yq.zero_point, cast_mut(out)?, act_i8(act, y)?);
            } else {
                let bias = match ins.get(2) { Some(b) => Some(src.get::<f32>(b)?), None => None };
                fully_connected::fully_connected_f32(&p, src.get(x)?, src.get(w)?, bias, cast_mut(out)?, act_f32(act));
            }
        }
        OpKind::Binary { op, act, quant } => {
            let b = input(1)?;
            let r = y.shape.rank();
            let (sa, sb, so) = (x.shape.padded(r), b.shape.padded(r), y.shape.padded(r));
            let (sa, sb, so) = (&sa[..r], &sb[..r], &so[..r]);
            let (a_bytes, b_bytes) = (src.bytes(x)?, src.bytes(b)?);
            match (quant, a_bytes, b_bytes) {
                (None, Some(a), Some(bb)) => elementwise::binary_f32(op, sa, cast(a)?, sb, cast(bb)?, so, cast_mut(out)?, act_f32(act)),
                (None, None, Some(bb)) => elementwise::binary_inplace_f32(op, true, cast_mut(out)?, sb, cast(bb)?, so, act_f32(act)),
                (None, Some(a), None) => elementwise::binary_inplace_f32(op, false, cast_mut(out)?, sa, cast(a)?, so, act_f32(act)),
                (Some(q), Some(a), Some(bb)) => elementwise::binary_i8(op, &q, sa, cast(a)?, sb, cast(bb)?, so, cast_mut(out)?, act_i8(act, y)?),
                (Some(q), None, Some(bb)) => elementwise::binary_inplace_i8(op, &q, true, cast_mut(out)?, sb, cast(bb)?, so, act_i8(act, y)?),
                (Some(q), Some(a), None) => elementwise::binary_inplace_i8(op, &q, false, cast_mut(out)?, sa, cast(a)?, so, act_i8(act, y)?),
                (_, None, None) => return Err(RunError::Internal),
            }
        }
        OpKind::Pool2d { kind, kernel, stride, pad, count_include_pad, act } => {
            let p = pool::Pool2dParams {
                input: x.shape.nhwc(),
                output: y.shape.nhwc(),
                kernel: [kernel[0] as usize, kernel[1] as usize],
                stride: [stride[0] as usize, stride[1] as usize],
                pad: [pad[0] as usize, pad[1] as usize],
                count_include_pad,
            };
            match (kind, is_i8) {
                (crate::ops::PoolKind::Avg, false) => pool::avg_pool2d_f32(&p, src.get(x)?, cast_mut(out)?, act_f32(act)),
                (crate::ops::PoolKind::Avg, true) => pool::avg_pool2d_i8(&p, src.get(x)?, cast_mut(out)?, act_i8(act, y)?),
                (crate::ops::PoolKind::Max, false) => pool::max_pool2d_f32(&p, src.get(x)?, cast_mut(out)?, act_f32(act)),
                (crate::ops::PoolKind::Max, true) => pool::max_pool2d_i8(&p, src.get(x)?, cast_mut(out)?, act_i8(act, y)?),
            }
        }
        OpKind::GlobalAvgPool { act } => {
            let [n, h, w, c] = x.shape.nhwc();
            if is_i8 {
                pool::global_avg_pool_i8(n, h * w, c, src.get(x)?, cast_mut(out)?, act_i8(act, y)?);
            } else {
                pool::global_avg_pool_f32(n, h * w, c, src.get(x)?, cast_mut(out)?, act_f32(act));
            }
        }
        OpKind::Unary { op } => {
            let data = src.bytes(x)?;
            if is_i8 {
                let lut: &[i8; 256] = src.get::<i8>(input(1)?)?.try_into().map_err(|_| RunError::Internal)?;
                match data {
                    Some(d) => activation::lut_i8(lut, cast(d)?, cast_mut(out)?),
                    None => activation::lut_inplace_i8(lut, cast_mut(out)?),
                }
            } else {
                match data {
                    Some(d) => activation::unary_f32(op, cast(d)?, cast_mut(out)?),
                    None => activation::unary_inplace_f32(op, cast_mut(out)?),
                }
            }
        }
        OpKind::Softmax { beta, out_inv_q16 } => {
            let n = *x.shape.dims().last().ok_or(RunError::Internal)? as usize;
            let rows = x.shape.numel().unwrap_or(0) as usize / n.max(1);
            if is_i8 {
                let table: &[i32; 256] = src.get::<i32>(input(1)?)?.try_into().map_err(|_| RunError::Internal)?;
                let zp = qparams(y)?.zero_point;
                softmax::softmax_i8(rows, n, table, zp, out_inv_q16, src.get(x)?, cast_mut(out)?);
            } else {
                softmax::softmax_f32(rows, n, beta, src.get(x)?, cast_mut(out)?);
            }
        }
        OpKind::Concat { axis } => by_dtype!(y.dtype, run_concat(axis as usize, ins, y, src, out))?,
        OpKind::Slice { ref begin, ref step } => {
            let (sx, r) = dims(x);
            let (sy, _) = dims(y);
            let mut b = [0usize; MAX_RANK];
            let mut s = [1usize; MAX_RANK];
            for i in 0..r {
                b[i] = begin[i] as usize;
                s[i] = step[i] as usize;
            }
            by_dtype!(y.dtype, run_slice(&sx[..r], src.bytes(x)?, &b[..r], &s[..r], &sy[..r], out))?;
        }
        OpKind::Reshape => {
            if let Some(data) = src.bytes(x)? {
                out.copy_from_slice(data);
            }
        }
        OpKind::Transpose { ref perm } => {
            let (sx, r) = dims(x);
            let mut p = [0usize; MAX_RANK];
            for (d, &s) in p.iter_mut().zip(perm) {
                *d = s as usize;
            }
            by_dtype!(y.dtype, run_transpose(&sx[..r], src.bytes(x)?, &p[..r], out))?;
        }
        OpKind::Pad { ref before, value, .. } => {
            let (sx, r) = dims(x);
            let (sy, _) = dims(y);
            let mut b = [0usize; MAX_RANK];
            for (d, &s) in b.iter_mut().zip(before) {
                *d = s as usize;
            }
            let data = src.bytes(x)?.ok_or(RunError::Internal)?;
            match y.dtype {
                DType::I8 => shape::pad(&sx[..r], cast(data)?, &b[..r], &sy[..r], qparams(y)?.quantize(value), cast_mut(out)?),
                DType::F32 => shape::pad(&sx[..r], cast(data)?, &b[..r], &sy[..r], value.to_bits(), cast_mut(out)?),
                DType::I32 => shape::pad(&sx[..r], cast(data)?, &b[..r], &sy[..r], value as i32 as u32, cast_mut(out)?),
            }
        }
        OpKind::Resize { mode, coord } => {
            let p = resize::ResizeParams { input: x.shape.nhwc(), output: y.shape.nhwc(), coord };
            let data = src.bytes(x)?.ok_or(RunError::Internal)?;
            match (mode, y.dtype) {
                (ResizeMode::Nearest(r), DType::I8) => resize::resize_nearest(&p, r, cast::<i8>(data)?, cast_mut(out)?),
                (ResizeMode::Nearest(r), _) => resize::resize_nearest(&p, r, cast::<u32>(data)?, cast_mut(out)?),
                (ResizeMode::Bilinear, DType::F32) => resize::resize_bilinear_f32(&p, cast(data)?, cast_mut(out)?),
                (ResizeMode::Bilinear, DType::I8) => resize::resize_bilinear_i8(&p, cast(data)?, cast_mut(out)?),
                (ResizeMode::Bilinear, DType::I32) => return Err(RunError::Internal),
            }
        }
        OpKind::Quantize => quantize::quantize_f32_i8(qparams(y)?, src.get(x)?, cast_mut(out)?),
        OpKind::Dequantize => quantize::dequantize_i8_f32(qparams(x)?, src.get(x)?, cast_mut(out)?),
    }
    Ok(())
}

fn run_concat<T: Pod>(axis: usize, ins: &[TensorDesc<'_>], y: &TensorDesc<'_>, src: &Operands<'_>, out: &mut [u8]) -> Result<(), RunError> {
    let r = y.shape.rank();
    let mut shapes = [[1usize; MAX_RANK]; MAX_OP_INPUTS];
    for (s, t) in shapes.iter_mut().zip(ins) {
        *s = t.shape.padded(r);
    }
    let mut parts: heapless::Vec<(&[usize], &[T]), MAX_OP_INPUTS> = heapless::Vec::new();
    for (s, t) in shapes.iter().zip(ins) {
        parts.push((&s[..r], src.get::<T>(t)?)).map_err(|_| RunError::Internal)?;
    }
    kernels::shape::concat(axis, &parts, cast_mut(out)?);
    Ok(())
}

fn run_slice<T: Pod>(sx: &[usize], x: Option<&[u8]>, begin: &[usize], step: &[usize], sy: &[usize], out: &mut [u8]) -> Result<(), RunError> {
    kernels::shape::slice::<T>(sx, cast(x.ok_or(RunError::Internal)?)?, begin, step, sy, cast_mut(out)?);
    Ok(())
}

fn run_transpose<T: Pod>(sx: &[usize], x: Option<&[u8]>, perm: &[usize], out: &mut [u8]) -> Result<(), RunError> {
    kernels::shape::transpose::<T>(sx, cast(x.ok_or(RunError::Internal)?)?, perm, cast_mut(out)?);
    Ok(())
}
