//! Load-time validation: everything the interpreter relies on, checked once.
//!
//! The graph-level checks live here: tensors (shape, quantization, storage), graph inputs and
//! outputs, lifetimes, the memory plan (tensors and each op's scratch). Each op's own checks (arity, dtypes, shapes,
//! attributes) are its family's, through [`ops::check`](crate::ops::check).

use super::{Layout, Model, ALIGN, NORMAL_OPS};
use crate::error::FormatError;
use crate::ops::{self, OpDesc};
use crate::tensor::{DType, Quant, Storage, TensorDesc, TensorId};

/// Validates `m`; returns which of its first [`NORMAL_OPS`] ops have normal requantization
/// entries (see [`Model::requant_is_normal`]).
pub(super) fn validate(m: &Model<'_>) -> Result<[u32; NORMAL_OPS / 32], FormatError> {
    let n_ops = m.op_count();
    if n_ops >= u16::MAX as usize || m.tensor_count() > u16::MAX as usize {
        return Err(FormatError::Malformed { section: crate::error::Section::Ops, index: u32::MAX });
    }
    #[cfg(feature = "fully_connected_q15")]
    check_layouts(m)?;
    for i in 0..m.tensor_count() {
        check_tensor(m, i as TensorId, &m.raw_tensor(i)?)?;
    }
    check_io(m)?;
    let mut normal = [0; NORMAL_OPS / 32];
    for k in 0..n_ops {
        let op = m.raw_op(k)?;
        check_lifetimes(m, k, &op)?;
        #[cfg(feature = "fully_connected_q15")]
        check_packed_reads(m, &op)?;
        if ops::check(m, k as u32, &op)? && k < NORMAL_OPS {
            normal[k / 32] |= 1 << (k % 32);
        }
        check_scratch(m, k, &op)?;
    }
    check_plan(m)?;
    Ok(normal)
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
            #[cfg(feature = "fully_connected_q15")]
            let len = m.layout(id).stored_len(t.dtype, t.shape.numel().unwrap_or(0)).unwrap_or(len);
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

/// The LAYOUTS section: tensors in increasing id order, each a known layout this build runs,
/// on a tensor of the shape and storage the layout is for, its data of the layout's length.
/// (`check_packed_reads` checks, op by op, that only int8 FullyConnected ops read them, as
/// their weights.)
#[cfg(feature = "fully_connected_q15")]
#[inline(never)]
fn check_layouts(m: &Model<'_>) -> Result<(), FormatError> {
    let mut prev = None;
    for (i, (tensor, code)) in m.layout_entries().enumerate() {
        if prev.is_some_and(|p| p >= tensor) {
            return Err(FormatError::Malformed { section: crate::error::Section::Layouts, index: i as u32 });
        }
        prev = Some(tensor);
        let t = m.checked_tensor(tensor)?;
        let layout = Layout::from_code(code).ok_or(FormatError::UnknownLayout { tensor, code })?;
        if !layout.compiled() {
            return Err(FormatError::LayoutNotCompiled { tensor, layout });
        }
        let dims = t.shape.dims();
        let Storage::Const(r) = t.storage else { return Err(FormatError::LayoutMismatch { tensor }) };
        match layout {
            Layout::FcQ15 if t.dtype == DType::I8 && dims.len() == 2 && dims[1] % 4 == 0 => {}
            Layout::FcBiasFolded if t.dtype == DType::I32 && dims.len() == 1 => {}
            _ => return Err(FormatError::LayoutMismatch { tensor }),
        }
        let expected = layout.stored_len(t.dtype, t.shape.numel().ok_or(FormatError::InvalidShape { tensor })?).ok_or(FormatError::InvalidShape { tensor })?;
        if r.len != expected {
            return Err(FormatError::LayoutSize { tensor, expected, found: r.len });
        }
    }
    Ok(())
}

/// Op `k` reads a packed tensor only as an int8 FullyConnected's weights (input 1, `fc-q15`)
/// or bias (input 2, `fc-bias-folded`).
#[cfg(feature = "fully_connected_q15")]
#[inline(never)]
fn check_packed_reads(m: &Model<'_>, op: &OpDesc) -> Result<(), FormatError> {
    for (slot, &id) in op.inputs.iter().enumerate() {
        let fits = match m.layout(id) {
            Layout::Reference => continue,
            Layout::FcQ15 => slot == 1,
            Layout::FcBiasFolded => slot == 2,
        };
        if !(fits && matches!(op.kind, ops::OpKind::FullyConnected { .. }) && m.checked_tensor(op.inputs[0])?.dtype == DType::I8) {
            return Err(FormatError::LayoutMismatch { tensor: id });
        }
    }
    Ok(())
}

/// Why a build without any packed layout's feature rejects a file with a LAYOUTS section (at
/// `offset` of `file`): the first entry's layout is not compiled in, or unknown.
#[cfg(not(feature = "fully_connected_q15"))]
#[cold]
#[inline(never)]
pub(super) fn layouts_not_compiled(file: &[u8], offset: usize) -> FormatError {
    let entry = file.get(offset.saturating_add(4)..offset.saturating_add(8)).map(|e| (u16::from_le_bytes([e[0], e[1]]), u16::from_le_bytes([e[2], e[3]])));
    match entry {
        Some((tensor, code)) => match Layout::from_code(code) {
            Some(layout) => FormatError::LayoutNotCompiled { tensor, layout },
            None => FormatError::UnknownLayout { tensor, code },
        },
        None => FormatError::Malformed { section: crate::error::Section::Layouts, index: u32::MAX },
    }
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
        let t = m.checked_tensor(id)?;
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
    let out = m.checked_tensor(op.output)?;
    match arena_life(&out) {
        Some((_, first, _)) if first as usize == k && !m.inputs().contains(&op.output) => {}
        _ => return Err(bad(op.output)),
    }
    for &id in &op.inputs {
        if id == op.output {
            return Err(bad(id));
        }
        if let Some((_, first, last)) = arena_life(&m.checked_tensor(id)?) {
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
                let allowed = (bf == al && overlaps(m, bf as usize, (a_id, ao), (b_id, bo))?)
                    || (af == bl && overlaps(m, af as usize, (b_id, bo), (a_id, ao))?);
                if !allowed {
                    return Err(FormatError::PlanOverlap { a: a_id, b: b_id });
                }
            }
        }
    }
    Ok(())
}

/// The descriptors of op `op`'s first two inputs (all that the overlap and scratch rules read;
/// a device's stack is small) and of its output.
fn operands<'a>(m: &Model<'a>, op: &OpDesc) -> Result<(heapless::Vec<TensorDesc<'a>, 2>, TensorDesc<'a>), FormatError> {
    let mut ins = heapless::Vec::new();
    for &id in op.inputs.iter().take(2) {
        let _ = ins.push(m.checked_tensor(id)?);
    }
    Ok((ins, m.checked_tensor(op.output)?))
}

/// Whether op `k` may write `output` (at byte `out_at`) over `input` (at `in_at`): the op's
/// overlap rule, [`OpDesc::may_alias`], at the shift `in_at - out_at`.
#[inline(never)]
fn overlaps(m: &Model<'_>, k: usize, (input, in_at): (TensorId, u32), (output, out_at): (TensorId, u32)) -> Result<bool, FormatError> {
    if k >= m.op_count() || in_at < out_at {
        return Ok(false);
    }
    let op = m.raw_op(k)?;
    let Some(slot) = op.inputs.iter().position(|&i| i == input) else { return Ok(false) };
    if op.output != output {
        return Ok(false);
    }
    let (ins, y) = operands(m, &op)?;
    Ok(op.may_alias(slot, &ins, &y, (in_at - out_at) as u64))
}

/// Op `k`'s scratch: at least what its kernel needs ([`OpDesc::scratch_bytes`]), aligned, inside
/// the arena, and sharing no byte with a tensor live during the op.
#[inline(never)]
fn check_scratch(m: &Model<'_>, k: usize, op: &OpDesc) -> Result<(), FormatError> {
    let (ins, y) = operands(m, op)?;
    let need = op.scratch_bytes(&ins, &y) as u64;
    let (at, len) = (op.scratch.offset as u64, op.scratch.len as u64);
    if len < need {
        return Err(FormatError::ScratchTooSmall { op: k as u32, needed: need as u32, planned: len as u32 });
    }
    if len == 0 {
        return Ok(());
    }
    if at % ALIGN as u64 != 0 || at + len > m.arena_bytes() as u64 {
        return Err(FormatError::ScratchOutOfBounds { op: k as u32 });
    }
    for i in 0..m.tensor_count() {
        let t = m.raw_tensor(i)?;
        let Some((offset, first, last)) = arena_life(&t) else { continue };
        let tlen = t.byte_len().unwrap_or(0) as u64;
        if first as usize <= k && k <= last as usize && (offset as u64) < at + len && at < offset as u64 + tlen {
            return Err(FormatError::ScratchOverlap { op: k as u32, tensor: i as TensorId });
        }
    }
    Ok(())
}
