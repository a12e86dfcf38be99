//! Load-time validation: everything the interpreter relies on, checked once.

use super::{Model, ALIGN};
use crate::error::FormatError;
use crate::kernels::activation::UnaryOp;
use crate::kernels::resize::ResizeMode;
use crate::ops::{OpDesc, OpKind, MAX_OP_INPUTS};
use crate::quant::Requant;
use crate::tensor::{DType, Quant, Storage, TensorDesc, TensorId};

/// Largest innermost axis an int8 Softmax accepts (its u64 sums stay exact below this).
pub const SOFTMAX_I8_MAX_AXIS: u32 = 1 << 17;

pub(super) fn validate(m: &Model<'_>) -> Result<(), FormatError> {
    let n_ops = m.op_count();
    if n_ops >= u16::MAX as usize || m.tensor_count() > u16::MAX as usize {
        return Err(FormatError::Malformed { section: crate::error::Section::Ops, index: u32::MAX });
    }
    for i in 0..m.tensor_count() {
        check_tensor(m, i as TensorId, &m.raw_tensor(i)?)?;
    }
    check_io(m)?;
    for k in 0..n_ops {
        let op = m.raw_op(k)?;
        check_lifetimes(m, k, &op)?;
        check_op(m, k as u32, &op)?;
    }
    check_plan(m)
}

fn tensor<'a>(m: &Model<'a>, id: TensorId) -> Result<TensorDesc<'a>, FormatError> {
    if id as usize >= m.tensor_count() {
        return Err(FormatError::TensorIdOutOfRange { tensor: id as u32 });
    }
    m.raw_tensor(id as usize)
}

fn check_tensor(m: &Model<'_>, id: TensorId, t: &TensorDesc<'_>) -> Result<(), FormatError> {
    if t.shape.dims().contains(&0) {
        return Err(FormatError::InvalidShape { tensor: id });
    }
    let len = t.byte_len().ok_or(FormatError::InvalidShape { tensor: id })?;
    let bad_q = FormatError::InvalidQuantization { tensor: id };
    match (t.dtype, t.quant) {
        (DType::F32, Quant::None) | (DType::I32, Quant::None | Quant::PerTensor { .. }) => {}
        (DType::I8, Quant::PerTensor { scale, zero_point }) => {
            if !scale.is_finite() || scale <= 0.0 || !(-128..=127).contains(&zero_point) {
                return Err(bad_q);
            }
        }
        (DType::I8, Quant::PerChannel { axis, scales }) => {
            let channels = *t.shape.dims().get(axis as usize).ok_or(bad_q)?;
            if !matches!(t.storage, Storage::Const(_)) || scales.len != channels * 4 || scales.offset as usize % ALIGN != 0 {
                return Err(bad_q);
            }
            let data = m.weights(scales).ok_or(FormatError::DataOutOfBounds { tensor: id })?;
            if data.chunks_exact(4).any(|c| {
                let s = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                !(s.is_finite() && s > 0.0)
            }) {
                return Err(bad_q);
            }
        }
        _ => return Err(bad_q),
    }
    match t.storage {
        Storage::Const(r) => {
            if r.offset as usize % ALIGN != 0 || r.len != len || m.weights(r).is_none() {
                return Err(FormatError::DataOutOfBounds { tensor: id });
            }
        }
        Storage::Arena { offset, first, last } => {
            let end = offset as u64 + len as u64;
            if offset as usize % ALIGN != 0 || end > m.arena_bytes() as u64 {
                return Err(FormatError::ArenaOutOfBounds { tensor: id });
            }
            if first > last || last as usize > m.op_count() {
                return Err(FormatError::InvalidLifetime { op: first as u32, tensor: id });
            }
        }
    }
    Ok(())
}

fn arena_life(t: &TensorDesc<'_>) -> Option<(u32, u32, u32)> {
    match t.storage {
        Storage::Arena { offset, first, last } => Some((offset, first as u32, last as u32)),
        Storage::Const(_) => None,
    }
}

fn check_io(m: &Model<'_>) -> Result<(), FormatError> {
    let (inputs, outputs) = (m.inputs(), m.outputs());
    if inputs.is_empty() || outputs.is_empty() {
        return Err(FormatError::InvalidGraphIo { tensor: TensorId::MAX });
    }
    let all = || inputs.iter().chain(outputs);
    for (i, &id) in all().enumerate() {
        let t = tensor(m, id)?;
        let life = arena_life(&t).ok_or(FormatError::InvalidGraphIo { tensor: id })?;
        let is_input = i < inputs.len();
        if all().filter(|&&o| o == id).count() != 1
            || (is_input && life.1 != 0)
            || (!is_input && life.2 as usize != m.op_count())
        {
            return Err(FormatError::InvalidGraphIo { tensor: id });
        }
        if !is_input && !produced_by(m, id, life.1 as usize)? {
            return Err(FormatError::InvalidLifetime { op: life.1, tensor: id });
        }
    }
    Ok(())
}

fn produced_by(m: &Model<'_>, id: TensorId, op: usize) -> Result<bool, FormatError> {
    Ok(op < m.op_count() && m.raw_op(op)?.output == id)
}

fn check_lifetimes(m: &Model<'_>, k: usize, op: &OpDesc) -> Result<(), FormatError> {
    let bad = |tensor| FormatError::InvalidLifetime { op: k as u32, tensor };
    let out = tensor(m, op.output)?;
    match arena_life(&out) {
        Some((_, first, _)) if first as usize == k && !m.inputs().contains(&op.output) => {}
        _ => return Err(bad(op.output)),
    }
    for &id in &op.inputs {
        if id == op.output {
            return Err(bad(id));
        }
        if let Some((_, first, last)) = arena_life(&tensor(m, id)?) {
            let (first, last) = (first as usize, last as usize);
            let written_before = if m.inputs().contains(&id) {
                true
            } else {
                first < k && produced_by(m, id, first)?
            };
            if !written_before || k < first || k > last {
                return Err(bad(id));
            }
        }
    }
    Ok(())
}

fn check_plan(m: &Model<'_>) -> Result<(), FormatError> {
    for i in 0..m.tensor_count() {
        let a = m.raw_tensor(i)?;
        let Some((ao, af, al)) = arena_life(&a) else { continue };
        let alen = a.byte_len().unwrap_or(0);
        for j in i + 1..m.tensor_count() {
            let b = m.raw_tensor(j)?;
            let Some((bo, bf, bl)) = arena_life(&b) else { continue };
            let blen = b.byte_len().unwrap_or(0);
            let live_together = af <= bl && bf <= al;
            let share_bytes = (ao as u64) < bo as u64 + blen as u64 && (bo as u64) < ao as u64 + alen as u64;
            if live_together && share_bytes {
                let (a_id, b_id) = (i as TensorId, j as TensorId);
                let in_place = (ao == bo && alen == blen)
                    && ((bf == al && aliases(m, bf as usize, a_id, b_id)?)
                        || (af == bl && aliases(m, af as usize, b_id, a_id)?));
                if !in_place {
                    return Err(FormatError::PlanOverlap { a: a_id, b: b_id });
                }
            }
        }
    }
    Ok(())
}

/// Whether op `k` may write `output` over `input` (same offset and size, checked by the caller).
fn aliases(m: &Model<'_>, k: usize, input: TensorId, output: TensorId) -> Result<bool, FormatError> {
    if k >= m.op_count() {
        return Ok(false);
    }
    let op = m.raw_op(k)?;
    if op.output != output || op.inputs.iter().filter(|&&i| i == input).count() != 1 {
        return Ok(false);
    }
    let slot = op.inputs.iter().position(|&i| i == input).unwrap_or(MAX_OP_INPUTS);
    if !op.kind.may_alias_input(slot) {
        return Ok(false);
    }
    let same_shape = tensor(m, input)?.shape == tensor(m, output)?.shape;
    Ok(!matches!(op.kind, OpKind::Binary { .. }) || same_shape)
}

/// Per-op checks: arity, dtypes, shapes and attributes.
fn check_op(m: &Model<'_>, k: u32, op: &OpDesc) -> Result<(), FormatError> {
    let code = op.kind.code();
    let arity = FormatError::Arity { op: k, code, found: op.inputs.len() as u8 };
    let attr = FormatError::InvalidAttribute { op: k, code };
    let dtype_err = |t| FormatError::DTypeMismatch { op: k, tensor: t };
    let shape_err = |t| FormatError::ShapeMismatch { op: k, tensor: t };
    let n_in = op.inputs.len();
    if n_in == 0 {
        return Err(arity);
    }
    let x_id = op.inputs[0];
    let x = tensor(m, x_id)?;
    let y = tensor(m, op.output)?;
    let (xd, yd) = (x.shape.dims(), y.shape.dims());
    let is_i8 = x.dtype == DType::I8;
    let input = |slot: usize| -> Result<TensorDesc<'_>, FormatError> { tensor(m, op.inputs[slot]) };
    let expect_dtype = |t: &TensorDesc<'_>, id: TensorId, want: DType| -> Result<(), FormatError> {
        if t.dtype == want { Ok(()) } else { Err(dtype_err(id)) }
    };
    // Ops whose output keeps the input's dtype and (for int8) its quantization.
    let same_type = |a: &TensorDesc<'_>, a_id: TensorId| -> Result<(), FormatError> {
        if a.dtype != y.dtype {
            return Err(dtype_err(a_id));
        }
        if a.dtype == DType::I8 && a.qparams() != y.qparams() {
            return Err(FormatError::InvalidQuantization { tensor: op.output });
        }
        Ok(())
    };
    let float_or_i8 = |t: &TensorDesc<'_>, id| match t.dtype {
        DType::F32 | DType::I8 => Ok(()),
        DType::I32 => Err(dtype_err(id)),
    };

    match &op.kind {
        OpKind::Conv2d { stride, dilation, pad, groups, .. } => {
            let w_id = op.inputs.get(1).copied().ok_or(arity)?;
            let w = input(1)?;
            check_weighted(m, k, op, &x, &w, &y, is_i8, arity)?;
            let wd = w.shape.dims();
            if xd.len() != 4 || wd.len() != 4 || yd.len() != 4 {
                return Err(shape_err(if xd.len() != 4 { x_id } else if wd.len() != 4 { w_id } else { op.output }));
            }
            let groups = *groups;
            if stride.contains(&0) || dilation.contains(&0) || groups == 0 || xd[3] % groups != 0 || wd[0] % groups != 0 {
                return Err(attr);
            }
            if wd[3] != xd[3] / groups {
                return Err(shape_err(w_id));
            }
            let oh = window_out(xd[1], wd[1], stride[0], dilation[0], pad[0], pad[2]);
            let ow = window_out(xd[2], wd[2], stride[1], dilation[1], pad[1], pad[3]);
            if yd != [xd[0], oh.ok_or(attr)?, ow.ok_or(attr)?, wd[0]] {
                return Err(shape_err(op.output));
            }
        }
        OpKind::FullyConnected { .. } => {
            let w_id = op.inputs.get(1).copied().ok_or(arity)?;
            let w = input(1)?;
            check_weighted(m, k, op, &x, &w, &y, is_i8, arity)?;
            let wd = w.shape.dims();
            let (Some(&kx), Some(&ky)) = (xd.last(), yd.last()) else { return Err(shape_err(x_id)) };
            if wd.len() != 2 || wd[1] != kx {
                return Err(shape_err(w_id));
            }
            let rows = |d: &[u32]| d[..d.len() - 1].iter().map(|&v| v as u64).product::<u64>();
            if ky != wd[0] || rows(xd) != rows(yd) {
                return Err(shape_err(op.output));
            }
        }
        OpKind::Binary { quant, .. } => {
            if n_in != 2 {
                return Err(arity);
            }
            let b = input(1)?;
            float_or_i8(&x, x_id)?;
            if b.dtype != x.dtype || y.dtype != x.dtype {
                return Err(dtype_err(if b.dtype != x.dtype { op.inputs[1] } else { op.output }));
            }
            if quant.is_some() != is_i8 || quant.is_some_and(|q| !(q.a.is_valid() && q.b.is_valid() && q.out.is_valid())) {
                return Err(attr);
            }
            let r = yd.len();
            for (t, id) in [(&x, x_id), (&b, op.inputs[1])] {
                let d = t.shape.dims();
                if d.len() > r {
                    return Err(shape_err(id));
                }
                let padded = t.shape.padded(r);
                if padded[..r].iter().zip(yd).any(|(&a, &o)| a != 1 && a != o as usize) {
                    return Err(shape_err(id));
                }
            }
            let (pa, pb) = (x.shape.padded(r), b.shape.padded(r));
            if (0..r).any(|i| pa[i].max(pb[i]) != yd[i] as usize) {
                return Err(shape_err(op.output));
            }
        }
        OpKind::Pool2d { kernel, stride, pad, count_include_pad, .. } => {
            if n_in != 1 {
                return Err(arity);
            }
            float_or_i8(&x, x_id)?;
            same_type(&x, x_id)?;
            if xd.len() != 4 || yd.len() != 4 {
                return Err(shape_err(x_id));
            }
            if kernel.contains(&0) || stride.contains(&0) {
                return Err(attr);
            }
            // The int8 kernel pads with a stored 0, which is a real 0 only at zero point 0.
            let counts_padding = *count_include_pad && pad.iter().any(|&p| p != 0);
            if is_i8 && counts_padding && x.qparams().is_some_and(|q| q.zero_point != 0) {
                return Err(attr);
            }
            let oh = window_out(xd[1], kernel[0] as u32, stride[0], 1, pad[0], pad[2]).ok_or(attr)?;
            let ow = window_out(xd[2], kernel[1] as u32, stride[1], 1, pad[1], pad[3]).ok_or(attr)?;
            if yd != [xd[0], oh, ow, xd[3]] {
                return Err(shape_err(op.output));
            }
        }
        OpKind::GlobalAvgPool { .. } => {
            if n_in != 1 {
                return Err(arity);
            }
            float_or_i8(&x, x_id)?;
            same_type(&x, x_id)?;
            if xd.len() != 4 {
                return Err(shape_err(x_id));
            }
            if yd != [xd[0], 1, 1, xd[3]] && yd != [xd[0], xd[3]] {
                return Err(shape_err(op.output));
            }
        }
        OpKind::Unary { op: u } => {
            float_or_i8(&x, x_id)?;
            expect_dtype(&y, op.output, x.dtype)?;
            if is_i8 {
                if n_in != 2 {
                    return Err(arity);
                }
                check_table(m, k, op.inputs[1], DType::I8)?;
            } else if n_in != 1 {
                return Err(arity);
            }
            if let UnaryOp::Clip { lo, hi } = u {
                if lo.is_nan() || hi.is_nan() || lo > hi {
                    return Err(attr);
                }
            }
            if xd != yd {
                return Err(shape_err(op.output));
            }
        }
        OpKind::Softmax { beta, out_inv_q16 } => {
            float_or_i8(&x, x_id)?;
            expect_dtype(&y, op.output, x.dtype)?;
            if is_i8 {
                if n_in != 2 {
                    return Err(arity);
                }
                check_table(m, k, op.inputs[1], DType::I32)?;
                if *out_inv_q16 == 0 || xd.last().is_some_and(|&n| n > SOFTMAX_I8_MAX_AXIS) {
                    return Err(attr);
                }
            } else if n_in != 1 {
                return Err(arity);
            }
            if !beta.is_finite() || xd.is_empty() {
                return Err(attr);
            }
            if xd != yd {
                return Err(shape_err(op.output));
            }
        }
        OpKind::Concat { axis } => {
            let axis = *axis as usize;
            if axis >= yd.len() {
                return Err(attr);
            }
            let mut total = 0u64;
            for (slot, &id) in op.inputs.iter().enumerate() {
                let t = input(slot)?;
                same_type(&t, id)?;
                let d = t.shape.dims();
                if d.len() != yd.len() || (0..d.len()).any(|i| i != axis && d[i] != yd[i]) {
                    return Err(shape_err(id));
                }
                total += d[axis] as u64;
            }
            if total != yd[axis] as u64 {
                return Err(shape_err(op.output));
            }
        }
        OpKind::Slice { begin, step } => {
            if n_in != 1 {
                return Err(arity);
            }
            same_type(&x, x_id)?;
            if begin.len() != xd.len() || step.len() != xd.len() || step.contains(&0) {
                return Err(attr);
            }
            if yd.len() != xd.len() {
                return Err(shape_err(op.output));
            }
            for i in 0..xd.len() {
                let last = begin[i] as u64 + (yd[i] as u64 - 1) * step[i] as u64;
                if last >= xd[i] as u64 {
                    return Err(shape_err(op.output));
                }
            }
        }
        OpKind::Reshape => {
            if n_in != 1 {
                return Err(arity);
            }
            same_type(&x, x_id)?;
            if x.shape.numel() != y.shape.numel() {
                return Err(shape_err(op.output));
            }
        }
        OpKind::Transpose { perm } => {
            if n_in != 1 {
                return Err(arity);
            }
            same_type(&x, x_id)?;
            let r = xd.len();
            let mut seen = [false; crate::kernels::MAX_RANK];
            for &p in perm {
                let p = p as usize;
                if p >= r || seen[p] {
                    return Err(attr);
                }
                seen[p] = true;
            }
            if perm.len() != r {
                return Err(attr);
            }
            if yd.len() != r || perm.iter().enumerate().any(|(i, &p)| yd[i] != xd[p as usize]) {
                return Err(shape_err(op.output));
            }
        }
        OpKind::Pad { before, after, value } => {
            if n_in != 1 {
                return Err(arity);
            }
            same_type(&x, x_id)?;
            if before.len() != xd.len() || after.len() != xd.len() || value.is_nan() && is_i8 {
                return Err(attr);
            }
            if yd.len() != xd.len()
                || (0..xd.len()).any(|i| before[i] as u64 + xd[i] as u64 + after[i] as u64 != yd[i] as u64)
            {
                return Err(shape_err(op.output));
            }
        }
        OpKind::Resize { mode, .. } => {
            if n_in != 1 {
                return Err(arity);
            }
            same_type(&x, x_id)?;
            if matches!(mode, ResizeMode::Bilinear) {
                float_or_i8(&x, x_id)?;
            }
            if xd.len() != 4 || yd.len() != 4 || xd[0] != yd[0] || xd[3] != yd[3] {
                return Err(shape_err(op.output));
            }
        }
        OpKind::Quantize | OpKind::Dequantize => {
            if n_in != 1 {
                return Err(arity);
            }
            let (from, to) = if matches!(op.kind, OpKind::Quantize) { (DType::F32, DType::I8) } else { (DType::I8, DType::F32) };
            expect_dtype(&x, x_id, from)?;
            expect_dtype(&y, op.output, to)?;
            let quantized = if is_i8 { (&x, x_id) } else { (&y, op.output) };
            if quantized.0.qparams().is_none() {
                return Err(FormatError::InvalidQuantization { tensor: quantized.1 });
            }
            if xd != yd {
                return Err(shape_err(op.output));
            }
        }
    }
    Ok(())
}

/// `(len + pad_a + pad_b - dilation*(kernel-1) - 1) / stride + 1`, `None` if the window does not fit.
fn window_out(len: u32, kernel: u32, stride: u16, dilation: u16, pad_a: u16, pad_b: u16) -> Option<u32> {
    let span = (dilation as u64) * (kernel as u64 - 1) + 1;
    let padded = len as u64 + pad_a as u64 + pad_b as u64;
    if padded < span {
        return None;
    }
    Some(((padded - span) / stride as u64 + 1) as u32)
}

/// Conv2d / FullyConnected operand types: f32 `[x, w, bias?]`, or int8 `[x, w, bias, requant]`
/// with symmetric weights (per tensor, or per channel on axis 0) and int32 bias and requant.
#[allow(clippy::too_many_arguments)]
fn check_weighted(
    m: &Model<'_>,
    k: u32,
    op: &OpDesc,
    x: &TensorDesc<'_>,
    w: &TensorDesc<'_>,
    y: &TensorDesc<'_>,
    is_i8: bool,
    arity: FormatError,
) -> Result<(), FormatError> {
    let dtype_err = |t| FormatError::DTypeMismatch { op: k, tensor: t };
    let out_channels = *w.shape.dims().first().unwrap_or(&0);
    let (bias_dtype, n) = match x.dtype {
        DType::F32 => (DType::F32, op.inputs.len()),
        DType::I8 => (DType::I32, op.inputs.len()),
        DType::I32 => return Err(dtype_err(op.inputs[0])),
    };
    if (is_i8 && n != 4) || (!is_i8 && !(2..=3).contains(&n)) {
        return Err(arity);
    }
    if w.dtype != x.dtype {
        return Err(dtype_err(op.inputs[1]));
    }
    if y.dtype != x.dtype {
        return Err(dtype_err(op.output));
    }
    if let Some(&b_id) = op.inputs.get(2) {
        let b = tensor(m, b_id)?;
        if b.dtype != bias_dtype {
            return Err(dtype_err(b_id));
        }
        if b.shape.dims() != [out_channels] {
            return Err(FormatError::ShapeMismatch { op: k, tensor: b_id });
        }
    }
    if is_i8 {
        match w.quant {
            Quant::PerTensor { zero_point: 0, .. } => {}
            Quant::PerChannel { axis: 0, .. } => {}
            _ => return Err(FormatError::InvalidQuantization { tensor: op.inputs[1] }),
        }
        let q_id = op.inputs[3];
        let q = tensor(m, q_id)?;
        let Storage::Const(region) = q.storage else { return Err(dtype_err(q_id)) };
        let rows = q.shape.dims().first().copied().unwrap_or(0);
        if q.dtype != DType::I32 || q.shape.dims().len() != 2 || q.shape.dims()[1] != 2 || (rows != 1 && rows != out_channels) {
            return Err(FormatError::ShapeMismatch { op: k, tensor: q_id });
        }
        let data = m.weights(region).ok_or(FormatError::DataOutOfBounds { tensor: q_id })?;
        let valid = data.chunks_exact(8).all(|c| {
            Requant {
                multiplier: i32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                shift: i32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            }
            .is_valid()
        });
        if !valid {
            return Err(FormatError::InvalidAttribute { op: k, code: op.kind.code() });
        }
        if x.qparams().is_none() {
            return Err(FormatError::InvalidQuantization { tensor: op.inputs[0] });
        }
        if y.qparams().is_none() {
            return Err(FormatError::InvalidQuantization { tensor: op.output });
        }
    }
    Ok(())
}

/// A constant lookup table of 256 entries.
fn check_table(m: &Model<'_>, k: u32, id: TensorId, dtype: DType) -> Result<(), FormatError> {
    let t = tensor(m, id)?;
    if t.dtype != dtype {
        return Err(FormatError::DTypeMismatch { op: k, tensor: id });
    }
    if !matches!(t.storage, Storage::Const(_)) || t.shape.numel() != Some(256) {
        return Err(FormatError::ShapeMismatch { op: k, tensor: id });
    }
    Ok(())
}
