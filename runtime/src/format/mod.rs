//! The Mote model file: reader and validation (always), writer (`std` feature).
//!
//! The layout is specified in `runtime/FORMAT.md`. In short: a 32-byte header (magic, version,
//! file length, CRC-32), a section table, and 16-byte aligned sections — META, TENSORS and OPS
//! encoded with postcard, WEIGHTS raw so that constants are read in place from flash.
//!
//! [`Model::from_bytes`] validates the whole file once: every offset, length, id, dtype, shape,
//! attribute and the memory plan. A model that passed can be run without further checks; the
//! interpreter's kernels index only inside what was validated here.
//!
//! The TENSORS and OPS records are read by hand (`Record`: the encodings `FORMAT.md` lists,
//! postcard's rules, a test holding both readers to the same answers), not through serde: the
//! interpreter reads each op's record and its operands' on every run, and serde's visitors cost
//! flash and copies. The loader also remembers, for each int8 Conv2d and FullyConnected among the
//! first [`NORMAL_OPS`], whether its requantization entries are all normal, so that the kernels
//! skip their own checks of them on every run ([`crate::quant::RequantTable`]). `Model` holds
//! nothing else beyond the file's bytes and its parsed header.

mod check;
#[cfg(feature = "std")]
pub mod writer;

use serde::{Deserialize, Serialize};

use crate::error::{FormatError, Section};
use crate::ops::{Activation, BinaryOp, BinaryQuant, CoordTransform, NearestRound, OpCode, OpDesc, OpKind, PoolKind, ResizeMode, ScratchRegion, UnaryOp};
use crate::tensor::{DType, Quant, Region, Shape, Storage, TensorDesc, TensorId};


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

/// Section kinds. Kinds from 16 up are reserved for extensions (16: signatures, 17: packed
/// weights).
pub mod kind {
    pub const META: u16 = 1;
    pub const TENSORS: u16 = 2;
    pub const OPS: u16 = 3;
    pub const WEIGHTS: u16 = 4;
    /// Optional: an Ed25519 signature over the rest of the file (`crate::signature`).
    pub const SIGNATURE: u16 = 16;
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
    /// The int32 bias `[n]` of an int8 FullyConnected with the input's zero point folded in:
    /// `bias[o] - x_zero_point * sum_k w[o, k]` (wrapping), so the op runs with an input zero
    /// point of 0 ([`crate::kernels::fully_connected::fold_bias`]). Four bytes a value.
    FcBiasFolded,
}

impl Layout {
    /// The code the LAYOUTS section stores (0, the reference, is never stored).
    pub const fn code(self) -> u16 {
        match self {
            Layout::Reference => 0,
            Layout::FcQ15 => 1,
            Layout::FcBiasFolded => 2,
        }
    }

    pub const fn from_code(code: u16) -> Option<Layout> {
        match code {
            1 => Some(Layout::FcQ15),
            2 => Some(Layout::FcBiasFolded),
            _ => None,
        }
    }

    /// Its name in `mote inspect` and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Layout::Reference => "reference",
            Layout::FcQ15 => "fc-q15",
            Layout::FcBiasFolded => "fc-bias-folded",
        }
    }

    /// The `mote-runtime` Cargo feature that runs it (`None`: every build).
    pub const fn feature(self) -> Option<&'static str> {
        match self {
            Layout::Reference => None,
            Layout::FcQ15 | Layout::FcBiasFolded => Some("fully_connected_q15"),
        }
    }

    /// Whether this build runs it.
    pub const fn compiled(self) -> bool {
        match self {
            Layout::Reference => true,
            Layout::FcQ15 | Layout::FcBiasFolded => cfg!(feature = "fully_connected_q15"),
        }
    }

    /// Bytes of the stored data of a tensor of `numel` elements of `dtype`.
    pub const fn stored_len(self, dtype: DType, numel: u32) -> Option<u32> {
        match self {
            Layout::Reference => numel.checked_mul(dtype.size() as u32),
            Layout::FcQ15 => numel.checked_mul(2),
            Layout::FcBiasFolded => numel.checked_mul(4),
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

    fn record(&self, i: usize) -> Option<&'a [u8]> {
        if i >= self.count {
            return None;
        }
        let index = self.section.get(4 + 4 * i..)?;
        let start = read_u32(index, 0)? as usize;
        let end = if i + 1 == self.count { self.section.len() } else { read_u32(index, 4)? as usize };
        self.section.get(start..end)
    }
}

pub(crate) fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(crate) fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Decodes one postcard value that must fill `bytes` exactly.
fn decode_exact<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Option<T> {
    let (v, rest) = postcard::take_from_bytes::<T>(bytes).ok()?;
    rest.is_empty().then_some(v)
}

/// A postcard record read field by field, as `FORMAT.md` lists the encodings: how the tensor and
/// op records are read. The interpreter reads an op's record and its operands' on every run, so
/// they are decoded here by hand, in place, rather than through serde's visitors and their copies.
struct Record<'a>(&'a [u8]);

impl<'a> Record<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    /// A LEB128 varint of at most `max_bytes` bytes whose last byte is at most `last_max`:
    /// postcard's rule (`u16`: 3 bytes and 3, `u32`: 5 and 15), so that both readers accept the
    /// same records. Most fields of a record are one byte: that case is inline.
    #[inline(always)]
    fn varint(&mut self, max_bytes: u32, last_max: u8) -> Option<u32> {
        match self.0 {
            [b @ 0..0x80, rest @ ..] => {
                self.0 = rest;
                Some(*b as u32)
            }
            _ => self.long_varint(max_bytes, last_max),
        }
    }

    #[inline(never)]
    fn long_varint(&mut self, max_bytes: u32, last_max: u8) -> Option<u32> {
        // Two and three bytes (offsets and lengths below 2 MiB) without the loop; the first byte
        // has its continuation bit, `max_bytes` is 3 or 5.
        match self.0 {
            [b0, b1 @ 0..0x80, rest @ ..] => {
                self.0 = rest;
                return Some((*b0 & 0x7f) as u32 | (*b1 as u32) << 7);
            }
            [b0, b1, b2 @ 0..0x80, rest @ ..] if max_bytes > 3 || *b2 <= last_max => {
                self.0 = rest;
                return Some((*b0 & 0x7f) as u32 | ((*b1 & 0x7f) as u32) << 7 | (*b2 as u32) << 14);
            }
            _ => {}
        }
        let bytes = self.0;
        let mut v = 0u32;
        let mut i = 0;
        loop {
            let b = *bytes.get(i)?;
            v |= ((b & 0x7f) as u32) << (7 * i);
            i += 1;
            if b < 0x80 {
                if i == max_bytes as usize && b > last_max {
                    return None;
                }
                self.0 = &bytes[i..];
                return Some(v);
            }
            if i == max_bytes as usize {
                return None;
            }
        }
    }

    fn u32(&mut self) -> Option<u32> {
        self.varint(5, 15)
    }

    /// [`u32`](Self::u32) inline, for the tensor records the interpreter reads on every run.
    #[inline(always)]
    fn u32_inline(&mut self) -> Option<u32> {
        self.varint(5, 15)
    }

    fn u16(&mut self) -> Option<u16> {
        self.varint(3, 3).map(|v| v as u16)
    }

    /// Zigzag: `0, -1, 1, -2, …` as `0, 1, 2, 3, …`.
    fn i32(&mut self) -> Option<i32> {
        let v = self.u32()?;
        Some((v >> 1) as i32 ^ -((v & 1) as i32))
    }

    fn f32(&mut self) -> Option<f32> {
        Some(f32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn region(&mut self) -> Option<Region> {
        Some(Region { offset: self.u32()?, len: self.u32()? })
    }

    fn bool(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn u16s<const N: usize>(&mut self) -> Option<[u16; N]> {
        let mut a = [0; N];
        for v in &mut a {
            *v = self.u16()?;
        }
        Some(a)
    }

    /// A sequence of at most `N` values.
    fn seq<T, const N: usize>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<heapless::Vec<T, N>> {
        let mut v = heapless::Vec::new();
        for _ in 0..self.u32()? {
            v.push(item(self)?).ok()?;
        }
        Some(v)
    }

    fn requant(&mut self) -> Option<crate::quant::Requant> {
        Some(crate::quant::Requant { multiplier: self.i32()?, shift: self.i32()? })
    }

    fn act(&mut self) -> Option<Activation> {
        Some(match self.u32()? {
            0 => Activation::None,
            1 => Activation::Relu,
            2 => Activation::Relu6,
            3 => Activation::Clip { lo: self.f32()?, hi: self.f32()? },
            _ => return None,
        })
    }

    /// An op record (`OpDesc`, the tables of `FORMAT.md`) that fills the bytes exactly.
    fn op(mut self) -> Option<OpDesc> {
        let r = &mut self;
        let kind = match r.u32()? {
            0 => OpKind::Conv2d { stride: r.u16s()?, dilation: r.u16s()?, pad: r.u16s()?, groups: r.u32()?, act: r.act()? },
            1 => OpKind::FullyConnected { act: r.act()? },
            2 => {
                let op = match r.u32()? {
                    0 => BinaryOp::Add,
                    1 => BinaryOp::Sub,
                    2 => BinaryOp::Mul,
                    3 => BinaryOp::Div,
                    _ => return None,
                };
                let act = r.act()?;
                let quant = match r.bool()? {
                    false => None,
                    true => Some(BinaryQuant {
                        a_zero_point: r.i32()?,
                        b_zero_point: r.i32()?,
                        out_zero_point: r.i32()?,
                        left_shift: r.i32()?,
                        a: r.requant()?,
                        b: r.requant()?,
                        out: r.requant()?,
                    }),
                };
                OpKind::Binary { op, act, quant }
            }
            3 => {
                let kind = match r.u32()? {
                    0 => PoolKind::Avg,
                    1 => PoolKind::Max,
                    _ => return None,
                };
                OpKind::Pool2d { kind, kernel: r.u16s()?, stride: r.u16s()?, pad: r.u16s()?, count_include_pad: r.bool()?, act: r.act()? }
            }
            4 => OpKind::GlobalAvgPool { act: r.act()? },
            5 => OpKind::Unary {
                op: match r.u32()? {
                    0 => UnaryOp::Relu,
                    1 => UnaryOp::Relu6,
                    2 => UnaryOp::Clip { lo: r.f32()?, hi: r.f32()? },
                    3 => UnaryOp::Sigmoid,
                    4 => UnaryOp::Exp,
                    _ => return None,
                },
            },
            6 => OpKind::Softmax { beta: r.f32()?, out_inv_q16: r.u32()? },
            7 => OpKind::Concat { axis: r.byte()? },
            8 => OpKind::Slice { begin: r.seq(Self::u32)?, step: r.seq(Self::u32)? },
            9 => OpKind::Reshape,
            10 => OpKind::Transpose { perm: r.seq(Self::byte)? },
            11 => OpKind::Pad { before: r.seq(Self::u32)?, after: r.seq(Self::u32)?, value: r.f32()? },
            12 => {
                let mode = match r.u32()? {
                    0 => ResizeMode::Nearest(match r.u32()? {
                        0 => NearestRound::RoundPreferFloor,
                        1 => NearestRound::RoundPreferCeil,
                        2 => NearestRound::Floor,
                        3 => NearestRound::Ceil,
                        _ => return None,
                    }),
                    1 => ResizeMode::Bilinear,
                    _ => return None,
                };
                let coord = match r.u32()? {
                    0 => CoordTransform::HalfPixel,
                    1 => CoordTransform::PytorchHalfPixel,
                    2 => CoordTransform::AlignCorners,
                    3 => CoordTransform::Asymmetric,
                    _ => return None,
                };
                OpKind::Resize { mode, coord }
            }
            13 => OpKind::Quantize,
            14 => OpKind::Dequantize,
            _ => return None,
        };
        let inputs = r.seq(Self::u16)?;
        let output = r.u16()?;
        let scratch = ScratchRegion { offset: r.u32()?, len: r.u32()? };
        r.0.is_empty().then_some(OpDesc { kind, inputs, output, scratch })
    }

    /// A tensor record that fills the bytes exactly. Without `named` the name's bytes are
    /// skipped unchecked and the descriptor's name is empty: what the interpreter reads, the
    /// loader having checked every record whole.
    fn tensor(mut self, named: bool) -> Option<TensorDesc<'a>> {
        let dtype = match self.u32_inline()? {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I32,
            _ => return None,
        };
        let mut shape = Shape::default();
        for _ in 0..self.u32_inline()? {
            shape.0.push(self.u32_inline()?).ok()?;
        }
        let quant = match self.u32_inline()? {
            0 => Quant::None,
            1 => Quant::PerTensor { scale: self.f32()?, zero_point: self.i32()? },
            2 => Quant::PerChannel { axis: self.byte()?, scales: self.region()? },
            _ => return None,
        };
        let storage = match self.u32_inline()? {
            0 => Storage::Const(self.region()?),
            1 => Storage::Arena { offset: self.u32_inline()?, first: self.u16()?, last: self.u16()? },
            _ => return None,
        };
        let len = self.u32_inline()? as usize;
        let name = self.take(len)?;
        let name = if named { core::str::from_utf8(name).ok()? } else { "" };
        self.0.is_empty().then_some(TensorDesc { dtype, shape, quant, storage, name })
    }
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
    /// Bit `k`: op `k` (below [`NORMAL_OPS`]) is an int8 Conv2d or FullyConnected whose every
    /// requantization entry is normal ([`crate::quant::Requant::is_normal`]), found at load so
    /// that the kernels need not look at the entries on every run.
    normal_requant: [u32; NORMAL_OPS / 32],
    /// The LAYOUTS section's entries (4 bytes each: tensor id, layout code), empty without one.
    #[cfg(feature = "fully_connected_q15")]
    layouts: &'a [u8],
}

/// How many of a model's first ops [`Model`] remembers the requantization finding of (a later
/// op's kernel checks its entries on every run).
pub const NORMAL_OPS: usize = 128;

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
        let mut model = Model {
            bytes,
            meta,
            tensors: Table::parse(tensors, Section::Tensors)?,
            ops: Table::parse(ops, Section::Ops)?,
            weights,
            normal_requant: [0; NORMAL_OPS / 32],
            #[cfg(feature = "fully_connected_q15")]
            layouts,
        };
        model.normal_requant = check::validate(&model)?;
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
        Record(self.tensors.record(id as usize)?).tensor(true)
    }

    /// The descriptor of tensor `id` with an empty name, `None` if out of range: what the
    /// interpreter reads of its operands on every run.
    pub(crate) fn operand(&self, id: TensorId) -> Option<TensorDesc<'a>> {
        Record(self.tensors.record(id as usize)?).tensor(false)
    }

    /// Op `index` in execution order, `None` if out of range.
    pub fn op(&self, index: usize) -> Option<OpDesc> {
        Record(self.ops.record(index)?).op()
    }

    /// All ops in execution order.
    pub fn ops(&self) -> impl Iterator<Item = OpDesc> + '_ {
        (0..self.ops.count).filter_map(move |i| self.op(i))
    }

    /// Whether op `index` is an int8 Conv2d or FullyConnected whose requantization entries the
    /// loader found all normal.
    pub(crate) fn requant_is_normal(&self, index: usize) -> bool {
        index < NORMAL_OPS && self.normal_requant[index / 32] >> (index % 32) & 1 != 0
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
        let malformed = FormatError::Malformed { section: Section::Tensors, index: index as u32 };
        let rec = self.tensors.record(index).ok_or(malformed)?;
        match Record(rec).u32() {
            Some(code) if code >= DType::COUNT => Err(FormatError::UnknownDType { tensor: index as TensorId, code }),
            _ => Record(rec).tensor(true).ok_or(malformed),
        }
    }

    fn raw_op(&self, index: usize) -> Result<OpDesc, FormatError> {
        let malformed = FormatError::Malformed { section: Section::Ops, index: index as u32 };
        let rec = self.ops.record(index).ok_or(malformed)?;
        match Record(rec).u32() {
            Some(code) if code >= OpCode::COUNT => Err(FormatError::UnknownOp { op: index as u32, code }),
            _ => Record(rec).op().ok_or(malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::writer::AlignedBytes;

    /// The hand-written record readers accept exactly what postcard (serde) accepts, with the
    /// same values: every tensor and op record of the golden model (every op kind), and each of
    /// them with one byte changed to values that hit varint, tag and length edges.
    #[test]
    fn record_readers_agree_with_postcard() {
        let bytes = AlignedBytes::new(include_bytes!("../../tests/golden/v2.mote"));
        let m = Model::from_bytes(&bytes).unwrap();
        let mut checked = 0;
        for (table, ops) in [(m.tensors, false), (m.ops, true)] {
            for i in 0..table.count {
                let rec = table.record(i).unwrap();
                let mut edited = rec.to_vec();
                let mut compare = |r: &[u8]| {
                    // Debug text: a NaN scale or clip bound equals itself there.
                    let (hand, serde) = if ops {
                        (std::format!("{:?}", Record(r).op()), std::format!("{:?}", decode_exact::<OpDesc>(r)))
                    } else {
                        (std::format!("{:?}", Record(r).tensor(true)), std::format!("{:?}", decode_exact::<TensorDesc>(r)))
                    };
                    assert_eq!(hand, serde, "record {r:?}");
                    checked += 1;
                };
                compare(rec);
                for at in 0..rec.len() {
                    let b = rec[at];
                    for v in [0, 1, 2, 3, 4, 5, 6, 0x0f, 0x10, 0x7f, 0x80, 0x81, 0xc0, 0xff, b ^ 1, b.wrapping_add(1), b ^ 0x80] {
                        edited[at] = v;
                        compare(&edited);
                    }
                    edited[at] = b;
                }
                compare(&rec[..rec.len() - 1]);
            }
        }
        assert!(checked > 10_000, "{checked}");
    }
}
