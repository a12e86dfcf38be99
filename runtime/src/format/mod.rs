//! The Mote model file: reader and validation (always), writer (`std` feature).
//!
//! The layout is specified in `runtime/FORMAT.md`. In short: a 32-byte header (magic, version,
//! file length, CRC-32), a section table, and 16-byte aligned sections — META, TENSORS and OPS
//! encoded with postcard, WEIGHTS raw so that constants are read in place from flash.
//!
//! [`Model::from_bytes`] validates the whole file once: every offset, length, id, dtype, shape,
//! attribute and the memory plan. A model that passed can be run without further checks; the
//! interpreter's kernels index only inside what was validated here.

mod check;
#[cfg(feature = "std")]
pub mod writer;

use serde::{Deserialize, Serialize};

use crate::error::{FormatError, Section};
use crate::ops::{OpCode, OpDesc};
use crate::tensor::{DType, TensorDesc, TensorId};


/// First four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"MOTE";
/// The format version this reader implements; a file of another version is rejected.
/// Version 2 added each op's scratch region to its record (version 1 had none).
pub const VERSION: u16 = 2;
/// Bytes in the fixed header.
pub const HEADER_LEN: usize = 32;
/// Bytes in one section-table entry.
pub const SECTION_ENTRY_LEN: usize = 16;
/// Alignment of every section, every constant and every activation, in bytes.
pub const ALIGN: usize = 16;
/// Section-table flag: a reader that does not know this section kind must reject the file.
pub const SECTION_REQUIRED: u16 = 1;
/// Most graph inputs or outputs a model may have.
pub const MAX_IO: usize = 16;

/// Section kinds. Kinds from 16 up are reserved for extensions (16: signatures).
pub mod kind {
    pub const META: u16 = 1;
    pub const TENSORS: u16 = 2;
    pub const OPS: u16 = 3;
    pub const WEIGHTS: u16 = 4;
    /// Packed constants: which tensors are stored in a kernel's order instead of row-major
    /// ([`super::Layout`]); a required section, present only when a file has one.
    pub const LAYOUTS: u16 = 17;
}

/// How a constant's bytes are stored. A tensor the LAYOUTS section does not list is in the
/// reference layout: its dtype's values, row-major. Packed layouts hold the same values in the
/// order (and width) a fast kernel reads; every build that has a layout's feature runs it, the
/// reference kernels included, to the same bytes as the reference layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Layout {
    /// Row-major, the tensor's own dtype.
    Reference,
    /// int8 FullyConnected weights `[n, k]` with `k % 4 == 0`, widened to int16: row by row,
    /// each group of four weights `w[4g..4g + 4]` stored as `w[4g], w[4g + 2], w[4g + 1],
    /// w[4g + 3]` (the pair order of the Arm DSP kernels' `SXTB16`; see
    /// [`crate::kernels::fully_connected::q15_index`]). Two bytes a weight.
    FcQ15,
}

impl Layout {
    /// The code the LAYOUTS section stores (0, the reference, is never stored).
    pub const fn code(self) -> u16 {
        match self {
            Layout::Reference => 0,
            Layout::FcQ15 => 1,
        }
    }

    pub const fn from_code(code: u16) -> Option<Layout> {
        match code {
            1 => Some(Layout::FcQ15),
            _ => None,
        }
    }

    /// Its name in `mote inspect` and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Layout::Reference => "reference",
            Layout::FcQ15 => "fc-q15",
        }
    }

    /// The `mote-runtime` Cargo feature that runs it (`None`: every build).
    pub const fn feature(self) -> Option<&'static str> {
        match self {
            Layout::Reference => None,
            Layout::FcQ15 => Some("fully_connected_q15"),
        }
    }

    /// Whether this build runs it.
    pub const fn compiled(self) -> bool {
        match self {
            Layout::Reference => true,
            Layout::FcQ15 => cfg!(feature = "fully_connected_q15"),
        }
    }

    /// Bytes of the stored data of a tensor of `numel` elements of `dtype`.
    pub const fn stored_len(self, dtype: DType, numel: u32) -> Option<u32> {
        match self {
            Layout::Reference => numel.checked_mul(dtype.size() as u32),
            Layout::FcQ15 => numel.checked_mul(2),
        }
    }
}

/// The META section: what the model is and the size of its memory plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ModelMeta<'a> {
    pub name: &'a str,
    /// SHA-256 of the source model file (e.g. the ONNX file) the converter read.
    pub source_sha256: [u8; 32],
    pub converter_version: &'a str,
    /// Class labels, one per line; empty when the model has none.
    pub labels: &'a str,
    /// Bytes of arena the memory plan needs.
    pub arena_bytes: u32,
    pub inputs: heapless::Vec<TensorId, MAX_IO>,
    pub outputs: heapless::Vec<TensorId, MAX_IO>,
}

/// A TENSORS or OPS section: `count: u32`, `count` record offsets (u32, from the section start),
/// then the postcard records. Record `i` spans from its offset to the next one (or section end).
#[derive(Clone, Copy, Debug)]
struct Table<'a> {
    section: &'a [u8],
    count: usize,
}

impl<'a> Table<'a> {
    fn parse(section: &'a [u8], which: Section) -> Result<Self, FormatError> {
        let bad = FormatError::Malformed { section: which, index: u32::MAX };
        let count = read_u32(section, 0).ok_or(bad)? as usize;
        let body = count.checked_mul(4).and_then(|n| n.checked_add(4)).ok_or(bad)?;
        if body > section.len() {
            return Err(bad);
        }
        let table = Table { section, count };
        let mut prev = body;
        for i in 0..count {
            let off = read_u32(section, 4 + 4 * i).ok_or(bad)? as usize;
            if off < prev || off > section.len() {
                return Err(FormatError::Malformed { section: which, index: i as u32 });
            }
            prev = off;
        }
        Ok(table)
    }

    /// Decodes record `i`, whose leading discriminant must be below `known` (else `unknown`).
    fn decode<T: Deserialize<'a>>(&self, i: usize, which: Section, known: u32, unknown: impl Fn(u32) -> FormatError) -> Result<T, FormatError> {
        let malformed = FormatError::Malformed { section: which, index: i as u32 };
        let rec = self.record(i).ok_or(malformed)?;
        match leading_varint(rec) {
            Some(code) if code >= known => Err(unknown(code)),
            _ => decode_exact(rec).ok_or(malformed),
        }
    }

    fn record(&self, i: usize) -> Option<&'a [u8]> {
        if i >= self.count {
            return None;
        }
        let start = read_u32(self.section, 4 + 4 * i)? as usize;
        let end = if i + 1 == self.count {
            self.section.len()
        } else {
            read_u32(self.section, 8 + 4 * i)? as usize
        };
        self.section.get(start..end)
    }
}

fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Decodes one postcard value that must fill `bytes` exactly.
fn decode_exact<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Option<T> {
    let (v, rest) = postcard::take_from_bytes::<T>(bytes).ok()?;
    rest.is_empty().then_some(v)
}

/// The discriminant postcard wrote first in a record (an enum variant index, as a varint).
fn leading_varint(bytes: &[u8]) -> Option<u32> {
    postcard::take_from_bytes::<u32>(bytes).ok().map(|(v, _)| v)
}

/// CRC-32 (ISO-HDLC, as zlib and PNG) over the file with the CRC field itself skipped.
pub fn checksum(file: &[u8]) -> u32 {
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let mut digest = crc.digest();
    digest.update(&file[..12.min(file.len())]);
    if file.len() > 16 {
        digest.update(&file[16..]);
    }
    digest.finalize()
}

/// A validated model borrowed from its bytes (typically `&'static` in flash).
#[derive(Clone, Debug)]
pub struct Model<'a> {
    bytes: &'a [u8],
    meta: ModelMeta<'a>,
    tensors: Table<'a>,
    ops: Table<'a>,
    weights: &'a [u8],
    /// The LAYOUTS section's entries (4 bytes each: tensor id, layout code), empty without one.
    #[cfg(feature = "fully_connected_q15")]
    layouts: &'a [u8],
}

impl<'a> Model<'a> {
    /// Parses and validates a model file. See `FORMAT.md` for everything that is checked.
    /// The buffer must start on a 16-byte boundary; it may be longer than the file.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Model<'a>, FormatError> {
        if bytes.len() < HEADER_LEN {
            return Err(FormatError::Truncated { needed: HEADER_LEN, available: bytes.len() });
        }
        let address = bytes.as_ptr() as usize;
        if address % ALIGN != 0 {
            return Err(FormatError::Misaligned { address });
        }
        let magic: [u8; 4] = [bytes[0], bytes[1], bytes[2], bytes[3]];
        if magic != MAGIC {
            return Err(FormatError::BadMagic { found: magic });
        }
        let header = |at| read_u32(bytes, at).unwrap_or(0);
        let version = read_u16(bytes, 4).unwrap_or(0);
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion { found: version, supported: VERSION });
        }
        let section_count = read_u16(bytes, 6).unwrap_or(0) as usize;
        let file_len = header(8) as usize;
        if file_len > bytes.len() {
            return Err(FormatError::Truncated { needed: file_len, available: bytes.len() });
        }
        let table_end = HEADER_LEN + section_count * SECTION_ENTRY_LEN;
        if file_len < table_end {
            return Err(FormatError::Truncated { needed: table_end, available: file_len });
        }
        let bytes = &bytes[..file_len];
        let stored = header(12);
        let computed = checksum(bytes);
        if stored != computed {
            return Err(FormatError::ChecksumMismatch { stored, computed });
        }
        if bytes[16..HEADER_LEN].iter().any(|&b| b != 0) {
            return Err(FormatError::ReservedNotZero);
        }

        const SLOTS: usize = if cfg!(feature = "fully_connected_q15") { 5 } else { 4 };
        let mut found: [Option<&'a [u8]>; SLOTS] = [None; SLOTS];
        for i in 0..section_count {
            let e = HEADER_LEN + i * SECTION_ENTRY_LEN;
            let kind = read_u16(bytes, e).unwrap_or(0);
            let flags = read_u16(bytes, e + 2).unwrap_or(0);
            let (offset, len, reserved) = (header(e + 4) as usize, header(e + 8) as usize, header(e + 12));
            if reserved != 0 || flags & !SECTION_REQUIRED != 0 {
                return Err(FormatError::ReservedNotZero);
            }
            let section = match kind {
                kind::META => Section::Meta,
                kind::TENSORS => Section::Tensors,
                kind::OPS => Section::Ops,
                kind::WEIGHTS => Section::Weights,
                #[cfg(feature = "fully_connected_q15")]
                kind::LAYOUTS => Section::Layouts,
                #[cfg(not(feature = "fully_connected_q15"))]
                kind::LAYOUTS => return Err(check::layouts_not_compiled(bytes, offset)),
                _ if flags & SECTION_REQUIRED != 0 => {
                    return Err(FormatError::UnknownRequiredSection { kind })
                }
                _ => continue,
            };
            let end = offset.saturating_add(len);
            if offset % ALIGN != 0 || offset < table_end || end > file_len {
                return Err(FormatError::SectionOutOfBounds { section });
            }
            let slot = &mut found[(kind as usize - 1).min(SLOTS - 1)];
            if slot.is_some() {
                return Err(FormatError::MissingSection { section });
            }
            *slot = Some(&bytes[offset..end]);
        }
        let [meta, tensors, ops, weights, _layouts @ ..] = found;
        let meta = meta.ok_or(FormatError::MissingSection { section: Section::Meta })?;
        let tensors = tensors.ok_or(FormatError::MissingSection { section: Section::Tensors })?;
        let ops = ops.ok_or(FormatError::MissingSection { section: Section::Ops })?;
        let weights = weights.ok_or(FormatError::MissingSection { section: Section::Weights })?;

        let meta: ModelMeta<'a> =
            decode_exact(meta).ok_or(FormatError::Malformed { section: Section::Meta, index: 0 })?;
        #[cfg(feature = "fully_connected_q15")]
        let layouts = match _layouts[0] {
            None => &[][..],
            Some(section) => {
                let bad = FormatError::Malformed { section: Section::Layouts, index: u32::MAX };
                let count = read_u32(section, 0).ok_or(bad)? as usize;
                if count.checked_mul(4).and_then(|n| n.checked_add(4)) != Some(section.len()) {
                    return Err(bad);
                }
                &section[4..]
            }
        };
        let model = Model {
            bytes,
            meta,
            tensors: Table::parse(tensors, Section::Tensors)?,
            ops: Table::parse(ops, Section::Ops)?,
            weights,
            #[cfg(feature = "fully_connected_q15")]
            layouts,
        };
        check::validate(&model)?;
        Ok(model)
    }

    /// The file's bytes (without any trailing padding of the buffer it was read from).
    pub fn file_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn meta(&self) -> &ModelMeta<'a> {
        &self.meta
    }

    pub fn name(&self) -> &'a str {
        self.meta.name
    }

    /// Class labels, in output order; empty when the model has none.
    pub fn labels(&self) -> impl Iterator<Item = &'a str> + 'a {
        let labels = self.meta.labels;
        labels.split('\n').filter(move |_| !labels.is_empty())
    }

    /// Bytes of arena the memory plan needs (the interpreter adds at most 15 for alignment).
    pub fn arena_bytes(&self) -> usize {
        self.meta.arena_bytes as usize
    }

    pub fn inputs(&self) -> &[TensorId] {
        &self.meta.inputs
    }

    pub fn outputs(&self) -> &[TensorId] {
        &self.meta.outputs
    }

    pub fn tensor_count(&self) -> usize {
        self.tensors.count
    }

    pub fn op_count(&self) -> usize {
        self.ops.count
    }

    /// The descriptor of tensor `id`, `None` if out of range.
    pub fn tensor(&self, id: TensorId) -> Option<TensorDesc<'a>> {
        decode_exact(self.tensors.record(id as usize)?)
    }

    /// Op `index` in execution order, `None` if out of range.
    pub fn op(&self, index: usize) -> Option<OpDesc> {
        decode_exact(self.ops.record(index)?)
    }

    /// All ops in execution order.
    pub fn ops(&self) -> impl Iterator<Item = OpDesc> + '_ {
        (0..self.ops.count).filter_map(move |i| self.op(i))
    }

    /// The bytes of a region of the weights section.
    pub fn weights(&self, region: crate::tensor::Region) -> Option<&'a [u8]> {
        let start = region.offset as usize;
        self.weights.get(start..start.checked_add(region.len as usize)?)
    }

    /// How constant `id` is stored: the LAYOUTS section's entry for it, else
    /// [`Layout::Reference`] (always, in a build with no packed layout's feature: the loader
    /// rejects a file that lists any).
    #[cfg_attr(feature = "fully_connected_q15", inline(never))]
    pub fn layout(&self, id: TensorId) -> Layout {
        #[cfg(feature = "fully_connected_q15")]
        if let Some((_, code)) = self.layout_entries().find(|&(t, _)| t == id) {
            return Layout::from_code(code).unwrap_or(Layout::Reference);
        }
        let _ = id;
        Layout::Reference
    }

    /// The LAYOUTS section's entries, `(tensor, code)`, in file order.
    #[cfg(feature = "fully_connected_q15")]
    pub(crate) fn layout_entries(&self) -> impl Iterator<Item = (TensorId, u16)> + '_ {
        self.layouts.chunks_exact(4).map(|e| (u16::from_le_bytes([e[0], e[1]]), u16::from_le_bytes([e[2], e[3]])))
    }

    /// Id of the graph input or output tensor called `name`.
    pub fn find_io(&self, name: &str) -> Option<TensorId> {
        self.inputs()
            .iter()
            .chain(self.outputs())
            .copied()
            .find(|&id| self.tensor(id).is_some_and(|t| t.name == name))
    }

    /// Total weight bytes (constants and their quantization parameters).
    pub fn weights_bytes(&self) -> usize {
        self.weights.len()
    }

    /// The descriptor of tensor `id`, or why it cannot be had: an id beyond the table, a
    /// record that does not decode.
    pub(crate) fn checked_tensor(&self, id: TensorId) -> Result<TensorDesc<'a>, FormatError> {
        if id as usize >= self.tensor_count() {
            return Err(FormatError::TensorIdOutOfRange { tensor: id as u32 });
        }
        self.raw_tensor(id as usize)
    }

    fn raw_tensor(&self, index: usize) -> Result<TensorDesc<'a>, FormatError> {
        self.tensors.decode(index, Section::Tensors, DType::COUNT, |code| FormatError::UnknownDType { tensor: index as TensorId, code })
    }

    fn raw_op(&self, index: usize) -> Result<OpDesc, FormatError> {
        self.ops.decode(index, Section::Ops, OpCode::COUNT, |code| FormatError::UnknownOp { op: index as u32, code })
    }
}
