//! Writing model files (host only): a low-level [`write()`] of already planned tables, and the
//! [`ModelBuilder`] that the converter and the tests use, which plans memory and validates its
//! own output by loading it back.

use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use super::{checksum, kind, Layout, ModelMeta, ALIGN, HEADER_LEN, MAGIC, SECTION_ENTRY_LEN, SECTION_REQUIRED, VERSION};
use crate::error::FormatError;
use crate::ops::{OpDesc, OpKind, ScratchRegion};
use crate::plan::{self, Buffer, Overlap};
use crate::tensor::{DType, Quant, Region, Shape, Storage, TensorDesc, TensorId};

/// A byte buffer whose start is 16-byte aligned, as [`Model::from_bytes`](super::Model::from_bytes)
/// requires. Use it to hold a model read from disk on the host.
#[derive(Clone, Debug, Default)]
pub struct AlignedBytes {
    words: Vec<u128>,
    len: usize,
}

impl AlignedBytes {
    pub fn new(bytes: &[u8]) -> AlignedBytes {
        let mut words = vec![0u128; bytes.len().div_ceil(16)];
        bytemuck::cast_slice_mut::<u128, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        AlignedBytes { words, len: bytes.len() }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u128, u8>(&self.words)[..self.len]
    }
}

impl core::ops::Deref for AlignedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

fn pad_to_align(buf: &mut Vec<u8>) {
    buf.resize(buf.len().div_ceil(ALIGN) * ALIGN, 0);
}

fn table<T: serde::Serialize>(records: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    let encoded: Vec<Vec<u8>> = records.iter().map(|r| postcard::to_stdvec(r).expect("postcard to Vec")).collect();
    let mut at = 4 + 4 * records.len();
    for e in &encoded {
        out.extend_from_slice(&(at as u32).to_le_bytes());
        at += e.len();
    }
    for e in &encoded {
        out.extend_from_slice(e);
    }
    out
}

/// Serializes a model from its parts exactly as given: no planning and no validation, so tests
/// can also build files that a reader must reject. Sections: META, TENSORS, OPS, WEIGHTS.
pub fn write(meta: &ModelMeta<'_>, tensors: &[TensorDesc<'_>], ops: &[OpDesc], weights: &[u8]) -> Vec<u8> {
    write_with_layouts(meta, tensors, ops, weights, &[])
}

/// The LAYOUTS section's bytes: the count, then per entry the tensor id and the layout's code
/// (u16 each), in the order given.
pub fn layouts_section(layouts: &[(TensorId, u16)]) -> Vec<u8> {
    let mut out = (layouts.len() as u32).to_le_bytes().to_vec();
    for &(t, code) in layouts {
        out.extend_from_slice(&t.to_le_bytes());
        out.extend_from_slice(&code.to_le_bytes());
    }
    out
}

/// [`write`], with a LAYOUTS section (required) after WEIGHTS when `layouts` (tensor id, layout
/// code) is not empty; without entries the file is exactly `write`'s.
pub fn write_with_layouts(meta: &ModelMeta<'_>, tensors: &[TensorDesc<'_>], ops: &[OpDesc], weights: &[u8], layouts: &[(TensorId, u16)]) -> Vec<u8> {
    let (meta, tensors, ops) = (postcard::to_stdvec(meta).expect("postcard to Vec"), table(tensors), table(ops));
    let packed = !layouts.is_empty();
    let layouts = layouts_section(layouts);
    let mut sections: Vec<(u16, u16, &[u8])> = vec![
        (kind::META, SECTION_REQUIRED, &meta),
        (kind::TENSORS, SECTION_REQUIRED, &tensors),
        (kind::OPS, SECTION_REQUIRED, &ops),
        (kind::WEIGHTS, SECTION_REQUIRED, weights),
    ];
    if packed {
        sections.push((kind::LAYOUTS, SECTION_REQUIRED, &layouts));
    }
    assemble(&sections)
}

/// A file of the given sections `(kind, flags, body)`, in order: header, section table, each body
/// at the next 16-byte boundary, length and CRC filled in.
pub fn assemble(sections: &[(u16, u16, &[u8])]) -> Vec<u8> {
    let mut file = vec![0u8; HEADER_LEN + sections.len() * SECTION_ENTRY_LEN];
    pad_to_align(&mut file);
    for (i, (k, flags, body)) in sections.iter().enumerate() {
        let entry = HEADER_LEN + i * SECTION_ENTRY_LEN;
        let offset = file.len() as u32;
        file[entry..entry + 2].copy_from_slice(&k.to_le_bytes());
        file[entry + 2..entry + 4].copy_from_slice(&flags.to_le_bytes());
        file[entry + 4..entry + 8].copy_from_slice(&offset.to_le_bytes());
        file[entry + 8..entry + 12].copy_from_slice(&(body.len() as u32).to_le_bytes());
        file.extend_from_slice(body);
        pad_to_align(&mut file);
    }
    file[0..4].copy_from_slice(&MAGIC);
    file[4..6].copy_from_slice(&VERSION.to_le_bytes());
    file[6..8].copy_from_slice(&(sections.len() as u16).to_le_bytes());
    let len = file.len() as u32;
    file[8..12].copy_from_slice(&len.to_le_bytes());
    let crc = checksum(&file);
    file[12..16].copy_from_slice(&crc.to_le_bytes());
    file
}

/// Recomputes the CRC of a file in place (tests use it to corrupt one field and keep the rest valid).
pub fn reseal(file: &mut [u8]) {
    let crc = checksum(file);
    file[12..16].copy_from_slice(&crc.to_le_bytes());
}

/// Why a [`ModelBuilder`] could not produce a file.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildError {
    /// A shape has more than `MAX_RANK` dimensions.
    RankTooLarge { tensor: String },
    /// Too many tensors, ops, graph inputs or outputs, or op inputs for the format's limits.
    TooMany { what: &'static str },
    /// The written file did not pass the reader's validation (the builder was given an
    /// inconsistent graph).
    Invalid(FormatError),
}

impl core::fmt::Display for BuildError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BuildError::RankTooLarge { tensor } => write!(f, "tensor {tensor:?} has more than {} dimensions", crate::tensor::MAX_RANK),
            BuildError::TooMany { what } => write!(f, "too many {what} for the Mote format"),
            BuildError::Invalid(e) => write!(f, "the model is inconsistent: {e}"),
        }
    }
}

impl std::error::Error for BuildError {}

#[derive(Clone, Debug)]
struct Pending {
    name: String,
    dtype: DType,
    shape: Shape,
    quant: Quant,
    data: Option<Region>,
}

/// The trailing overlaps to plan with, besides the `fixed` ones, and the plan. Two greedy
/// searches, the smaller arena winning (ties: the first): adding each candidate in op order
/// where it shrinks the arena, and taking all of them, then dropping each one the arena does not
/// need. (A chain of trailing convolutions drifts through memory, one shift per link, so taking
/// them all can be worse than taking none.)
fn choose_trailing(buffers: &[Buffer], fixed: Vec<Overlap>, candidates: &[Overlap]) -> (Vec<Overlap>, plan::Plan) {
    let mut added = fixed.clone();
    let mut best = plan::plan(buffers, &added);
    for &t in candidates {
        added.push(t);
        let tried = plan::plan(buffers, &added);
        if tried.arena_bytes < best.arena_bytes {
            best = tried;
        } else {
            added.pop();
        }
    }
    let mut kept = fixed.clone();
    kept.extend(candidates);
    let mut pruned = plan::plan(buffers, &kept);
    for t in candidates {
        let Some(at) = kept.iter().rposition(|o| o == t) else { continue };
        kept.remove(at);
        let tried = plan::plan(buffers, &kept);
        if tried.arena_bytes <= pruned.arena_bytes {
            pruned = tried;
        } else {
            kept.insert(at, *t);
        }
    }
    if pruned.arena_bytes < best.arena_bytes {
        (kept, pruned)
    } else {
        (added, best)
    }
}

/// Builds a model graph, plans its arena and writes the file.
///
/// ```
/// use mote_runtime::format::writer::ModelBuilder;
/// use mote_runtime::ops::{OpKind, UnaryOp};
/// use mote_runtime::tensor::Quant;
/// use mote_runtime::DType;
///
/// let mut b = ModelBuilder::new("relu");
/// let x = b.input("x", DType::F32, &[1, 4], Quant::None).unwrap();
/// let y = b.activation("y", DType::F32, &[1, 4], Quant::None).unwrap();
/// b.op(OpKind::Unary { op: UnaryOp::Relu }, &[x], y).unwrap();
/// b.output(y);
/// let file = b.finish().unwrap();
/// let model = mote_runtime::Model::from_bytes(&file).unwrap();
/// assert_eq!(model.op_count(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ModelBuilder {
    name: String,
    source_sha256: [u8; 32],
    converter_version: String,
    labels: Vec<String>,
    tensors: Vec<Pending>,
    ops: Vec<OpDesc>,
    weights: Vec<u8>,
    inputs: Vec<TensorId>,
    outputs: Vec<TensorId>,
    layouts: Vec<(TensorId, Layout)>,
}

impl ModelBuilder {
    pub fn new(name: &str) -> ModelBuilder {
        ModelBuilder { name: name.to_string(), converter_version: "mote-runtime".to_string(), ..Default::default() }
    }

    pub fn source_sha256(&mut self, sha: [u8; 32]) -> &mut Self {
        self.source_sha256 = sha;
        self
    }

    pub fn converter_version(&mut self, v: &str) -> &mut Self {
        self.converter_version = v.to_string();
        self
    }

    /// Class labels, in the order of the output's last axis. Labels must not contain newlines.
    pub fn labels<S: AsRef<str>>(&mut self, labels: &[S]) -> &mut Self {
        self.labels = labels.iter().map(|s| s.as_ref().replace('\n', " ")).collect();
        self
    }

    fn push(&mut self, name: &str, dtype: DType, dims: &[u32], quant: Quant, data: Option<Region>) -> Result<TensorId, BuildError> {
        let shape = Shape::new(dims).ok_or_else(|| BuildError::RankTooLarge { tensor: name.to_string() })?;
        if self.tensors.len() >= u16::MAX as usize {
            return Err(BuildError::TooMany { what: "tensors" });
        }
        self.tensors.push(Pending { name: name.to_string(), dtype, shape, quant, data });
        Ok((self.tensors.len() - 1) as TensorId)
    }

    /// Appends raw bytes to the weights section at a 16-byte aligned offset.
    pub fn add_weights(&mut self, bytes: &[u8]) -> Region {
        pad_to_align(&mut self.weights);
        let region = Region { offset: self.weights.len() as u32, len: bytes.len() as u32 };
        self.weights.extend_from_slice(bytes);
        region
    }

    /// Stores per-channel scales for a [`Quant::PerChannel`].
    pub fn per_channel_scales(&mut self, scales: &[f32]) -> Region {
        self.add_weights(bytemuck::cast_slice(scales))
    }

    /// A graph input: an activation the caller fills before each run.
    pub fn input(&mut self, name: &str, dtype: DType, dims: &[u32], quant: Quant) -> Result<TensorId, BuildError> {
        let id = self.push(name, dtype, dims, quant, None)?;
        self.inputs.push(id);
        Ok(id)
    }

    /// An intermediate activation (or, after [`output`](Self::output), a graph output).
    pub fn activation(&mut self, name: &str, dtype: DType, dims: &[u32], quant: Quant) -> Result<TensorId, BuildError> {
        self.push(name, dtype, dims, quant, None)
    }

    /// A constant from its raw little-endian bytes.
    pub fn constant(&mut self, name: &str, dtype: DType, dims: &[u32], quant: Quant, bytes: &[u8]) -> Result<TensorId, BuildError> {
        let region = self.add_weights(bytes);
        self.push(name, dtype, dims, quant, Some(region))
    }

    pub fn constant_f32(&mut self, name: &str, dims: &[u32], data: &[f32]) -> Result<TensorId, BuildError> {
        self.constant(name, DType::F32, dims, Quant::None, bytemuck::cast_slice(data))
    }

    pub fn constant_i32(&mut self, name: &str, dims: &[u32], data: &[i32]) -> Result<TensorId, BuildError> {
        self.constant(name, DType::I32, dims, Quant::None, bytemuck::cast_slice(data))
    }

    pub fn constant_i8(&mut self, name: &str, dims: &[u32], quant: Quant, data: &[i8]) -> Result<TensorId, BuildError> {
        self.constant(name, DType::I8, dims, quant, bytemuck::cast_slice(data))
    }

    /// An int8 constant stored in a packed `layout` ([`Layout`]), from its values in row-major
    /// order: for [`Layout::FcQ15`] the weights `[n, k]` of a FullyConnected, `k % 4 == 0`
    /// (else the loader's `LayoutMismatch` when the file is finished).
    pub fn constant_i8_packed(&mut self, name: &str, dims: &[u32], quant: Quant, data: &[i8], layout: Layout) -> Result<TensorId, BuildError> {
        let id = match layout {
            Layout::FcQ15 => {
                let k = dims.last().copied().unwrap_or(1).max(1) as usize;
                let mut packed = vec![0i16; data.len()];
                if k % 4 == 0 {
                    crate::kernels::fully_connected::pack_q15(data, k, &mut packed);
                }
                self.constant(name, DType::I8, dims, quant, bytemuck::cast_slice(&packed))?
            }
            _ => return self.constant_i8(name, dims, quant, data),
        };
        self.layouts.push((id, layout));
        Ok(id)
    }

    /// The int32 bias `[n]` of an int8 FullyConnected with weights `w` (`[n, k]`, row-major,
    /// int8 values) in the `fc-bias-folded` layout ([`Layout::FcBiasFolded`]): `bias` (`None`:
    /// zeros) with the input's zero point folded in.
    pub fn constant_bias_folded(&mut self, name: &str, bias: Option<&[i32]>, w: &[i8], k: usize, x_zero_point: i32) -> Result<TensorId, BuildError> {
        let mut folded = vec![0i32; w.len() / k.max(1)];
        crate::kernels::fully_connected::fold_bias(w, k, bias, x_zero_point, &mut folded);
        let id = self.constant_i32(name, &[folded.len() as u32], &folded)?;
        self.layouts.push((id, Layout::FcBiasFolded));
        Ok(id)
    }

    /// Appends an op; ops run in the order they are added.
    pub fn op(&mut self, kind: OpKind, inputs: &[TensorId], output: TensorId) -> Result<(), BuildError> {
        let inputs = heapless::Vec::from_slice(inputs).map_err(|_| BuildError::TooMany { what: "op inputs" })?;
        self.ops.push(OpDesc { kind, inputs, output, scratch: ScratchRegion::default() });
        Ok(())
    }

    /// Marks an activation as a graph output.
    pub fn output(&mut self, id: TensorId) -> &mut Self {
        self.outputs.push(id);
        self
    }

    /// The descriptor of tensor `i` as far as its type and shape go (storage left empty).
    fn desc(&self, i: TensorId) -> TensorDesc<'_> {
        let t = &self.tensors[i as usize];
        TensorDesc { dtype: t.dtype, shape: t.shape.clone(), quant: t.quant, storage: Storage::Arena { offset: 0, first: 0, last: 0 }, name: &t.name }
    }

    /// Plans the arena and writes the file, then loads it back to validate it.
    ///
    /// The plan holds every activation and every op's scratch ([`OpDesc::scratch_bytes`]). Every
    /// in-place overlap the ops allow is taken; a convolution's output trailing its input
    /// ([`OpDesc::overlap_shift`]) costs kernel calls and is taken only where it shrinks the
    /// arena (see `choose_trailing`).
    pub fn finish(&self) -> Result<Vec<u8>, BuildError> {
        let n_ops = self.ops.len();
        let size = |t: &Pending| t.shape.numel().unwrap_or(0) as usize * t.dtype.size();
        // Lifetimes of activations: (first, last) per tensor, None for constants.
        let mut life: Vec<Option<(usize, usize)>> =
            self.tensors.iter().map(|t| if t.data.is_some() { None } else { Some((0, 0)) }).collect();
        for (k, op) in self.ops.iter().enumerate() {
            if let Some(l) = life.get_mut(op.output as usize).and_then(|l| l.as_mut()) {
                *l = (k, k);
            }
        }
        for (k, op) in self.ops.iter().enumerate() {
            for &i in &op.inputs {
                if let Some(Some(l)) = life.get_mut(i as usize) {
                    l.1 = l.1.max(k);
                }
            }
        }
        for &o in &self.outputs {
            if let Some(Some(l)) = life.get_mut(o as usize) {
                l.1 = n_ops;
            }
        }
        let ids: Vec<usize> = (0..self.tensors.len()).filter(|&i| life[i].is_some()).collect();
        let buffer_of = |t: usize| ids.iter().position(|&i| i == t);
        let mut buffers: Vec<Buffer> = ids
            .iter()
            .map(|&i| {
                let (first, last) = life[i].unwrap_or((0, 0));
                Buffer { size: size(&self.tensors[i]), first, last }
            })
            .collect();
        // Scratch buffers follow the tensors': (op, buffer).
        let mut scratch_of: Vec<(usize, usize)> = Vec::new();
        for (k, op) in self.ops.iter().enumerate() {
            let ins: Vec<TensorDesc<'_>> = op.inputs.iter().map(|&i| self.desc(i)).collect();
            let need = op.scratch_bytes(&ins, &self.desc(op.output));
            if need > 0 {
                scratch_of.push((k, buffers.len()));
                buffers.push(Buffer { size: need, first: k, last: k });
            }
        }

        let mut overlaps = Vec::new();
        let mut trailing = Vec::new();
        let mut aliased_from = vec![false; self.tensors.len()];
        for (k, op) in self.ops.iter().enumerate() {
            let ins: Vec<TensorDesc<'_>> = op.inputs.iter().map(|&i| self.desc(i)).collect();
            let y = self.desc(op.output);
            for (slot, &i) in op.inputs.iter().enumerate() {
                let dies_here = life[i as usize].is_some_and(|l| l.1 == k)
                    && !self.inputs.contains(&i)
                    && !self.outputs.contains(&i)
                    && !aliased_from[i as usize];
                let (Some(a), Some(b), true) = (buffer_of(i as usize), buffer_of(op.output as usize), dies_here) else { continue };
                if op.may_alias(slot, &ins, &y, 0) {
                    overlaps.push(Overlap { input: a, output: b, shift: 0 });
                    aliased_from[i as usize] = true;
                    break;
                }
                if let Some(shift) = op.overlap_shift(slot, &ins, &y).filter(|&s| op.may_alias(slot, &ins, &y, s)) {
                    trailing.push(Overlap { input: a, output: b, shift: shift as usize });
                    aliased_from[i as usize] = true;
                    break;
                }
            }
        }
        let (_, planned) = choose_trailing(&buffers, overlaps, &trailing);
        let mut ops = self.ops.clone();
        for &(k, b) in &scratch_of {
            ops[k].scratch = ScratchRegion { offset: planned.offsets[b] as u32, len: buffers[b].size as u32 };
        }

        let tensors: Vec<TensorDesc<'_>> = self
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| TensorDesc {
                dtype: t.dtype,
                shape: t.shape.clone(),
                quant: t.quant,
                storage: match (t.data, buffer_of(i)) {
                    (Some(region), _) => Storage::Const(region),
                    (None, Some(b)) => Storage::Arena {
                        offset: planned.offsets[b] as u32,
                        first: buffers[b].first as u16,
                        last: buffers[b].last as u16,
                    },
                    (None, None) => Storage::Arena { offset: 0, first: 0, last: 0 },
                },
                name: &t.name,
            })
            .collect();
        let labels = self.labels.join("\n");
        let io = |v: &[TensorId], what| heapless::Vec::from_slice(v).map_err(|_| BuildError::TooMany { what });
        let meta = ModelMeta {
            name: &self.name,
            source_sha256: self.source_sha256,
            converter_version: &self.converter_version,
            labels: &labels,
            arena_bytes: planned.arena_bytes as u32,
            inputs: io(&self.inputs, "graph inputs")?,
            outputs: io(&self.outputs, "graph outputs")?,
        };
        let layouts: Vec<(TensorId, u16)> = self.layouts.iter().map(|&(t, l)| (t, l.code())).collect();
        let file = write_with_layouts(&meta, &tensors, &ops, &self.weights, &layouts);
        let aligned = AlignedBytes::new(&file);
        super::Model::from_bytes(&aligned).map_err(BuildError::Invalid)?;
        Ok(file)
    }
}
