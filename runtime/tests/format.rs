//! The model format: round trips, and a malicious-input suite in which every way a file can be
//! wrong returns its own typed error.

use mote_runtime::error::Section;
use mote_runtime::format::writer::{reseal, write, AlignedBytes, ModelBuilder};
use mote_runtime::format::{kind, ModelMeta, HEADER_LEN, SECTION_ENTRY_LEN};
use mote_runtime::ops::{Activation, BinaryOp, OpDesc, OpKind, ScratchRegion, UnaryOp};
use mote_runtime::tensor::{DType, Quant, Region, Shape, Storage, TensorDesc};
use mote_runtime::{FormatError, Interpreter, Model, RunError};
use proptest::prelude::*;

/// `y = relu(x + c)` over `[2, 4]`, written by hand so each field can be broken on purpose.
struct Parts {
    meta: ModelMeta<'static>,
    tensors: Vec<TensorDesc<'static>>,
    ops: Vec<OpDesc>,
    weights: Vec<u8>,
}

fn arena(offset: u32, first: u16, last: u16) -> Storage {
    Storage::Arena { offset, first, last }
}

fn t(dtype: DType, dims: &[u32], storage: Storage, name: &'static str) -> TensorDesc<'static> {
    TensorDesc { dtype, shape: Shape::new(dims).unwrap(), quant: Quant::None, storage, name }
}

fn parts() -> Parts {
    let weights: Vec<u8> = [1.0f32, -2.0, 3.0, -4.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    Parts {
        meta: ModelMeta {
            name: "add-relu",
            source_sha256: [7; 32],
            converter_version: "test",
            labels: "a\nb\nc\nd",
            arena_bytes: 64,
            inputs: heapless::Vec::from_slice(&[0]).unwrap(),
            outputs: heapless::Vec::from_slice(&[3]).unwrap(),
        },
        tensors: vec![
            t(DType::F32, &[2, 4], arena(0, 0, 0), "x"),
            t(DType::F32, &[4], Storage::Const(Region { offset: 0, len: 16 }), "c"),
            t(DType::F32, &[2, 4], arena(32, 0, 1), "h"),
            t(DType::F32, &[2, 4], arena(0, 1, 2), "y"),
        ],
        ops: vec![
            OpDesc {
                kind: OpKind::Binary { op: BinaryOp::Add, act: Activation::None, quant: None },
                inputs: heapless::Vec::from_slice(&[0, 1]).unwrap(),
                output: 2,
                scratch: ScratchRegion::default(),
            },
            OpDesc { kind: OpKind::Unary { op: UnaryOp::Relu }, inputs: heapless::Vec::from_slice(&[2]).unwrap(), output: 3, scratch: ScratchRegion::default() },
        ],
        weights,
    }
}

impl Parts {
    fn file(&self) -> Vec<u8> {
        write(&self.meta, &self.tensors, &self.ops, &self.weights)
    }
}

fn load(file: &[u8]) -> Result<(), FormatError> {
    Model::from_bytes(&AlignedBytes::new(file)).map(|_| ())
}

fn load_parts(p: &Parts) -> Result<(), FormatError> {
    load(&p.file())
}

/// (offset, len) of the first section of `k`, read from the section table.
fn section(file: &[u8], k: u16) -> (usize, usize) {
    let count = u16::from_le_bytes([file[6], file[7]]) as usize;
    (0..count)
        .map(|i| HEADER_LEN + i * SECTION_ENTRY_LEN)
        .find(|&e| u16::from_le_bytes([file[e], file[e + 1]]) == k)
        .map(|e| {
            let r = |a: usize| u32::from_le_bytes(file[a..a + 4].try_into().unwrap()) as usize;
            (r(e + 4), r(e + 8))
        })
        .unwrap()
}

/// File offset of record `i` of an indexed table section.
fn record(file: &[u8], k: u16, i: usize) -> usize {
    let (off, _) = section(file, k);
    let at = off + 4 + 4 * i;
    off + u32::from_le_bytes(file[at..at + 4].try_into().unwrap()) as usize
}

#[test]
fn hand_written_model_loads_and_runs() {
    let file = AlignedBytes::new(&parts().file());
    let model = Model::from_bytes(&file).unwrap();
    assert_eq!(model.name(), "add-relu");
    assert_eq!(model.meta().source_sha256, [7; 32]);
    assert_eq!(model.labels().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
    assert_eq!(model.arena_bytes(), 64);
    assert_eq!(model.tensor(1).unwrap(), parts().tensors[1]);
    assert_eq!(model.op(1).unwrap(), parts().ops[1]);
    assert_eq!(model.find_io("y"), Some(3));

    let mut mem = [0u8; 80];
    let mut it = Interpreter::new(&model, &mut mem).unwrap();
    it.set_input_f32(0, &[0.0, 1.0, -5.0, 2.0, -1.0, 3.0, 1.0, 5.0]).unwrap();
    it.invoke().unwrap();
    assert_eq!(it.output_f32(0).unwrap(), &[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 4.0, 1.0]);
}

#[test]
fn builder_round_trips_every_field() {
    let mut b = ModelBuilder::new("round-trip");
    b.source_sha256([0xAB; 32]).converter_version("mote 9.9").labels(&["cat", "dog"]);
    let x = b.input("in", DType::I8, &[1, 2], Quant::PerTensor { scale: 0.5, zero_point: -3 }).unwrap();
    let scales = b.per_channel_scales(&[0.1, 0.2]);
    let w = b.constant_i8("w", &[2, 2], Quant::PerChannel { axis: 0, scales }, &[1, -2, 3, -4]).unwrap();
    let bias = b.constant_i32("b", &[2], &[5, -6]).unwrap();
    let rq = mote_runtime::quant::quantize_multiplier(0.25);
    let requant = b.constant_i32("rq", &[1, 2], &[rq.multiplier, rq.shift]).unwrap();
    let y = b.activation("out", DType::I8, &[1, 2], Quant::PerTensor { scale: 0.25, zero_point: 1 }).unwrap();
    b.op(OpKind::FullyConnected { act: Activation::Relu }, &[x, w, bias, requant], y).unwrap();
    b.output(y);
    let file = AlignedBytes::new(&b.finish().unwrap());
    let m = Model::from_bytes(&file).unwrap();
    assert_eq!((m.name(), m.meta().converter_version, m.meta().source_sha256), ("round-trip", "mote 9.9", [0xAB; 32]));
    assert_eq!(m.labels().collect::<Vec<_>>(), ["cat", "dog"]);
    assert_eq!((m.inputs(), m.outputs()), (&[x][..], &[y][..]));
    let wt = m.tensor(w).unwrap();
    assert_eq!(wt.quant, Quant::PerChannel { axis: 0, scales });
    let Storage::Const(region) = wt.storage else { panic!("weights must be constant") };
    assert_eq!(m.weights(region).unwrap(), &[1u8, 0xFE, 3, 0xFC]);
    assert_eq!(m.weights(scales).unwrap(), bytemuck::cast_slice::<f32, u8>(&[0.1, 0.2]));
    assert_eq!(region.offset % 16, 0);
    assert_eq!(m.tensor(y).unwrap().qparams(), Some(mote_runtime::QParams { scale: 0.25, zero_point: 1 }));
    assert_eq!(m.op(0).unwrap().kind, OpKind::FullyConnected { act: Activation::Relu });
    // Writing the decoded parts again gives the same bytes.
    let tensors: Vec<_> = (0..m.tensor_count()).map(|i| m.tensor(i as u16).unwrap()).collect();
    let ops: Vec<_> = m.ops().collect();
    let (woff, wlen) = section(&file, kind::WEIGHTS);
    assert_eq!(write(m.meta(), &tensors, &ops, &file[woff..woff + wlen]), file.as_bytes());
}

#[test]
fn truncated() {
    let file = parts().file();
    assert_eq!(load(&file[..20]), Err(FormatError::Truncated { needed: 32, available: 20 }));
    assert_eq!(load(&file[..file.len() - 1]), Err(FormatError::Truncated { needed: file.len(), available: file.len() - 1 }));
    let mut longer = file.clone();
    longer.extend_from_slice(&[0xFF; 7]);
    assert_eq!(load(&longer), Ok(()), "flash padding after file_len is ignored");
}

#[test]
fn misaligned_buffer() {
    let file = parts().file();
    let mut shifted = AlignedBytes::new(&[&[0u8][..], &file].concat());
    let buf = &shifted[1..];
    assert!(matches!(Model::from_bytes(buf), Err(FormatError::Misaligned { .. })));
    shifted = AlignedBytes::new(&file);
    assert!(Model::from_bytes(&shifted).is_ok());
}

#[test]
fn bad_magic() {
    let mut file = parts().file();
    file[0] = b'X';
    assert_eq!(load(&file), Err(FormatError::BadMagic { found: *b"XOTE" }));
}

#[test]
fn wrong_version() {
    let mut file = parts().file();
    // A version 1 file (written before ops had a scratch region) gets a clear error.
    file[4] = 1;
    reseal(&mut file);
    assert_eq!(load(&file), Err(FormatError::UnsupportedVersion { found: 1, supported: 2 }));
    file[4] = 3;
    reseal(&mut file);
    assert_eq!(load(&file), Err(FormatError::UnsupportedVersion { found: 3, supported: 2 }));
}

#[test]
fn bad_crc() {
    let mut file = parts().file();
    let (woff, _) = section(&file, kind::WEIGHTS);
    file[woff] ^= 1;
    assert!(matches!(load(&file), Err(FormatError::ChecksumMismatch { .. })));
}

#[test]
fn reserved_bytes() {
    let mut file = parts().file();
    file[20] = 1;
    reseal(&mut file);
    assert_eq!(load(&file), Err(FormatError::ReservedNotZero));
}

#[test]
fn sections_out_of_bounds_missing_or_unknown() {
    let base = parts().file();
    let entry = |i: usize| HEADER_LEN + i * SECTION_ENTRY_LEN;
    let mut f = base.clone();
    let e = entry(3);
    f[e + 8..e + 12].copy_from_slice(&(base.len() as u32).to_le_bytes());
    reseal(&mut f);
    assert_eq!(load(&f), Err(FormatError::SectionOutOfBounds { section: Section::Weights }));

    let mut f = base.clone();
    f[entry(1) + 4] += 8;
    reseal(&mut f);
    assert_eq!(load(&f), Err(FormatError::SectionOutOfBounds { section: Section::Tensors }));

    let mut f = base.clone();
    f[entry(3)] = 99;
    reseal(&mut f);
    assert_eq!(load(&f), Err(FormatError::UnknownRequiredSection { kind: 99 }));

    let mut f = base.clone();
    f[entry(3)] = 99;
    f[entry(3) + 2] = 0;
    reseal(&mut f);
    assert_eq!(load(&f), Err(FormatError::MissingSection { section: Section::Weights }), "an optional unknown section is skipped");

    let mut f = base;
    f[entry(2)] = kind::TENSORS as u8;
    reseal(&mut f);
    assert_eq!(load(&f), Err(FormatError::MissingSection { section: Section::Tensors }), "a repeated section");
}

#[test]
fn malformed_records() {
    let mut f = parts().file();
    let (toff, _) = section(&f, kind::TENSORS);
    f[toff + 8] = 0xFF; // record 1 starts far beyond the section
    reseal(&mut f);
    assert_eq!(load(&f), Err(FormatError::Malformed { section: Section::Tensors, index: 1 }));

    let mut f = parts().file();
    let (moff, _) = section(&f, kind::META);
    f[moff] = 0xFF; // name length varint runs past the section
    reseal(&mut f);
    assert_eq!(load(&f), Err(FormatError::Malformed { section: Section::Meta, index: 0 }));
}

#[test]
fn unknown_op() {
    let mut f = parts().file();
    let at = record(&f, kind::OPS, 1);
    f[at] = 0x7F;
    reseal(&mut f);
    assert_eq!(load(&f), Err(FormatError::UnknownOp { op: 1, code: 0x7F }));
}

#[test]
fn unknown_dtype() {
    let mut f = parts().file();
    let at = record(&f, kind::TENSORS, 2);
    f[at] = 9;
    reseal(&mut f);
    assert_eq!(load(&f), Err(FormatError::UnknownDType { tensor: 2, code: 9 }));
}

#[test]
fn constant_data_out_of_bounds_or_misaligned() {
    let mut p = parts();
    p.tensors[1].storage = Storage::Const(Region { offset: 16, len: 16 });
    assert_eq!(load_parts(&p), Err(FormatError::DataOutOfBounds { tensor: 1 }));
    let mut p = parts();
    p.weights.resize(64, 0);
    p.tensors[1].storage = Storage::Const(Region { offset: 4, len: 16 });
    assert_eq!(load_parts(&p), Err(FormatError::DataOutOfBounds { tensor: 1 }));
    let mut p = parts();
    p.tensors[1].storage = Storage::Const(Region { offset: 0, len: 12 });
    assert_eq!(load_parts(&p), Err(FormatError::DataOutOfBounds { tensor: 1 }), "length must match the shape");
}

#[test]
fn activation_out_of_arena_or_misaligned() {
    let mut p = parts();
    p.tensors[3].storage = arena(48, 1, 2);
    assert_eq!(load_parts(&p), Err(FormatError::ArenaOutOfBounds { tensor: 3 }));
    let mut p = parts();
    p.tensors[3].storage = arena(8, 1, 2);
    assert_eq!(load_parts(&p), Err(FormatError::ArenaOutOfBounds { tensor: 3 }));
}

#[test]
fn tensor_id_out_of_range() {
    let mut p = parts();
    p.ops[1].inputs[0] = 9;
    assert_eq!(load_parts(&p), Err(FormatError::TensorIdOutOfRange { tensor: 9 }));
    let mut p = parts();
    p.meta.outputs[0] = 200;
    assert_eq!(load_parts(&p), Err(FormatError::TensorIdOutOfRange { tensor: 200 }));
}

#[test]
fn dtype_mismatch() {
    let mut p = parts();
    p.tensors[1].dtype = DType::I32;
    assert_eq!(load_parts(&p), Err(FormatError::DTypeMismatch { op: 0, tensor: 1 }));
}

#[test]
fn shape_mismatch() {
    let mut p = parts();
    p.tensors[1].shape = Shape::new(&[1]).unwrap();
    p.tensors[1].storage = Storage::Const(Region { offset: 0, len: 4 });
    p.tensors[0].shape = Shape::new(&[2, 3]).unwrap();
    assert_eq!(load_parts(&p), Err(FormatError::ShapeMismatch { op: 0, tensor: 0 }));
    let mut p = parts();
    p.tensors[3].shape = Shape::new(&[4, 2]).unwrap();
    assert_eq!(load_parts(&p), Err(FormatError::ShapeMismatch { op: 1, tensor: 3 }));
}

#[test]
fn zero_dimension_is_invalid_shape() {
    let mut p = parts();
    p.tensors[2].shape = Shape::new(&[2, 0]).unwrap();
    assert_eq!(load_parts(&p), Err(FormatError::InvalidShape { tensor: 2 }));
}

#[test]
fn wrong_arity() {
    let mut p = parts();
    p.ops[0].inputs.pop();
    assert!(matches!(load_parts(&p), Err(FormatError::Arity { op: 0, found: 1, .. })));
}

#[test]
fn invalid_attribute() {
    let mut p = parts();
    p.ops[1].kind = OpKind::Concat { axis: 7 };
    assert!(matches!(load_parts(&p), Err(FormatError::InvalidAttribute { op: 1, .. })));
    let mut p = parts();
    p.ops[1].kind = OpKind::Unary { op: UnaryOp::Clip { lo: 2.0, hi: 1.0 } };
    assert!(matches!(load_parts(&p), Err(FormatError::InvalidAttribute { op: 1, .. })));
}

#[test]
fn invalid_quantization() {
    let mut p = parts();
    p.tensors[2].quant = Quant::PerTensor { scale: 1.0, zero_point: 0 };
    assert_eq!(load_parts(&p), Err(FormatError::InvalidQuantization { tensor: 2 }), "f32 with parameters");
    let mut p = parts();
    for t in &mut p.tensors {
        t.dtype = DType::I8;
        t.quant = Quant::PerTensor { scale: 0.0, zero_point: 0 };
    }
    assert_eq!(load_parts(&p), Err(FormatError::InvalidQuantization { tensor: 0 }), "zero scale");
}

#[test]
fn invalid_graph_io() {
    let mut p = parts();
    p.meta.outputs[0] = 1;
    assert_eq!(load_parts(&p), Err(FormatError::InvalidGraphIo { tensor: 1 }), "a constant output");
    let mut p = parts();
    p.meta.inputs.clear();
    assert!(matches!(load_parts(&p), Err(FormatError::InvalidGraphIo { .. })));
}

#[test]
fn invalid_lifetime() {
    let mut p = parts();
    p.tensors[2].storage = arena(32, 0, 0); // h is read by op 1 after its lifetime ends
    assert_eq!(load_parts(&p), Err(FormatError::InvalidLifetime { op: 1, tensor: 2 }));
    let mut p = parts();
    p.ops[1].inputs[0] = 3; // y reads itself
    assert_eq!(load_parts(&p), Err(FormatError::InvalidLifetime { op: 1, tensor: 3 }));
}

#[test]
fn overlapping_plan() {
    let mut p = parts();
    p.tensors[2].storage = arena(16, 0, 1); // h overlaps x while op 0 reads x and writes h
    assert_eq!(load_parts(&p), Err(FormatError::PlanOverlap { a: 0, b: 2 }));
    // Exactly in place is allowed for Relu: y over h (h dies at op 1).
    let mut p = parts();
    p.tensors[3].storage = arena(32, 1, 2);
    assert_eq!(load_parts(&p), Ok(()));
    // ...but not shifted by 16 bytes.
    let mut p = parts();
    p.meta.arena_bytes = 80;
    p.tensors[3].storage = arena(48, 1, 2);
    assert_eq!(load_parts(&p), Err(FormatError::PlanOverlap { a: 2, b: 3 }));
}

#[test]
fn arena_too_small() {
    let file = AlignedBytes::new(&parts().file());
    let model = Model::from_bytes(&file).unwrap();
    let mut mem = mote_runtime::Arena::<64>::new();
    assert!(Interpreter::new(&model, &mut mem.0[..63]).is_err_and(|e| e == RunError::ArenaTooSmall { required: 64, provided: 63 }));
    assert!(Interpreter::new(&model, &mut mem.0).is_ok());
    // A buffer that starts off alignment needs the skipped bytes too.
    let mut big = mote_runtime::Arena::<96>::new();
    let required = 64 + 15;
    assert_eq!(Interpreter::new(&model, &mut big.0[1..required]).err(), Some(RunError::ArenaTooSmall { required, provided: required - 1 }));
    assert!(Interpreter::new(&model, &mut big.0[1..1 + required]).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// Any corruption of a valid file, with the CRC fixed up so the structure checks are reached,
    /// is either rejected or loads and runs without panicking.
    #[test]
    fn corrupted_files_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
                                   cut in any::<prop::sample::Index>(), truncate in any::<bool>()) {
        let mut f = parts().file();
        for (at, v) in edits {
            let i = at.index(f.len() - 16) + 16;
            f[i] = v;
        }
        if truncate {
            f.truncate(cut.index(f.len()));
        }
        if f.len() >= 16 {
            reseal(&mut f);
        }
        let bytes = AlignedBytes::new(&f);
        if let Ok(model) = Model::from_bytes(&bytes) {
            let mut mem = vec![0u8; model.arena_bytes() + 16];
            let mut it = Interpreter::new(&model, &mut mem).unwrap();
            prop_assert_eq!(it.invoke(), Ok(()));
        }
    }
}

/// An int8 fully connected layer over 64 inputs, whose kernel needs 128 B of scratch, built and
/// planned by the writer.
fn fc_i8_file() -> Vec<u8> {
    let mut b = ModelBuilder::new("fc-i8");
    let q = |scale| Quant::PerTensor { scale, zero_point: 3 };
    let x = b.input("x", DType::I8, &[1, 64], q(0.05)).unwrap();
    let w: Vec<i8> = (0..8 * 64).map(|i| ((i * 37) % 255 - 127) as i8).collect();
    let w = b.constant_i8("w", &[8, 64], Quant::PerTensor { scale: 0.01, zero_point: 0 }, &w).unwrap();
    let bias = b.constant_i32("b", &[8], &[100, -200, 300, -400, 500, -600, 700, -800]).unwrap();
    let rq = mote_runtime::quant::quantize_multiplier(0.05 * 0.01 / 0.1);
    let rq = b.constant_i32("rq", &[1, 2], &[rq.multiplier, rq.shift]).unwrap();
    let y = b.activation("y", DType::I8, &[1, 8], q(0.1)).unwrap();
    b.op(OpKind::FullyConnected { act: Activation::None }, &[x, w, bias, rq], y).unwrap();
    b.output(y);
    b.finish().unwrap()
}

/// `file` written again with op 0's scratch changed by `f`.
fn with_scratch(file: &[u8], f: impl Fn(&mut ScratchRegion)) -> Vec<u8> {
    rewritten(file, |_, ops| f(&mut ops[0].scratch))
}

/// `file` written again with its tensor and op records changed by `f`.
fn rewritten(file: &[u8], f: impl Fn(&mut Vec<TensorDesc<'_>>, &mut Vec<OpDesc>)) -> Vec<u8> {
    let aligned = AlignedBytes::new(file);
    let model = Model::from_bytes(&aligned).unwrap();
    let mut tensors: Vec<TensorDesc<'_>> = (0..model.tensor_count()).map(|i| model.tensor(i as u16).unwrap()).collect();
    let mut ops: Vec<OpDesc> = model.ops().collect();
    f(&mut tensors, &mut ops);
    let entry = HEADER_LEN + 3 * SECTION_ENTRY_LEN;
    let word = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(u16::from_le_bytes([file[entry], file[entry + 1]]), kind::WEIGHTS);
    let (offset, len) = (word(entry + 4), word(entry + 8));
    write(model.meta(), &tensors, &ops, &file[offset..offset + len])
}

#[test]
fn an_int8_kernels_scratch_is_planned_and_checked() {
    let file = fc_i8_file();
    let aligned = AlignedBytes::new(&file);
    let model = Model::from_bytes(&aligned).unwrap();
    let op = model.op(0).unwrap();
    // The scratch is the kernel's need (a widened column of 64 int16), beside x and y, which
    // are live during the op: the arena holds all three.
    assert_eq!(op.scratch.len, 128);
    assert_eq!(model.arena_bytes(), 128 + 64 + 16);
    assert_eq!(with_scratch(&file, |_| {}), file, "rewriting unchanged gives the same file");
    assert_eq!(load(&with_scratch(&file, |s| s.len = 124)), Err(FormatError::ScratchTooSmall { op: 0, needed: 128, planned: 124 }));
    assert_eq!(load(&with_scratch(&file, |s| *s = ScratchRegion::default())), Err(FormatError::ScratchTooSmall { op: 0, needed: 128, planned: 0 }));
    assert_eq!(load(&with_scratch(&file, |s| s.offset += 8)), Err(FormatError::ScratchOutOfBounds { op: 0 }));
    assert_eq!(load(&with_scratch(&file, |s| s.offset = 208)), Err(FormatError::ScratchOutOfBounds { op: 0 }));
    let x_at = match model.tensor(model.inputs()[0]).unwrap().storage {
        Storage::Arena { offset, .. } => offset,
        Storage::Const(_) => unreachable!(),
    };
    assert_eq!(x_at, 128);
    assert_eq!(load(&with_scratch(&file, |s| s.offset = x_at - 64)), Err(FormatError::ScratchOverlap { op: 0, tensor: 0 }));
    // It runs, giving the reference kernel's bytes.
    let x: Vec<i8> = (0..64).map(|i| (i as i8).wrapping_mul(7)).collect();
    let mut it_arena = vec![0u8; model.arena_bytes() + 16];
    let mut it = Interpreter::new(&model, &mut it_arena).unwrap();
    it.input_i8_mut(0).unwrap().copy_from_slice(&x);
    it.invoke().unwrap();
    let w: Vec<i8> = (0..8 * 64).map(|i| ((i * 37) % 255 - 127) as i8).collect();
    let rq = [mote_runtime::quant::quantize_multiplier(0.05 * 0.01 / 0.1)];
    let bias = [100, -200, 300, -400, 500, -600, 700, -800];
    let p = mote_runtime::kernels::fully_connected::FcParams { rows: 1, inputs: 64, outputs: 8 };
    let mut want = [0i8; 8];
    mote_runtime::kernels::fully_connected::fully_connected_i8(&p, &x, 3, &w, Some(&bias), &rq, 3, &mut want, (-128, 127));
    assert_eq!(it.output_i8(0).unwrap(), want);
}

/// Two int8 3×3 convolutions and a residual Add: the second convolution's output trails its
/// input. The loader accepts the writer's shift and refuses ones the bands cannot run with.
#[test]
fn a_trailing_convolution_needs_a_shift_its_bands_can_run_with() {
    let mut b = ModelBuilder::new("trail");
    let q = Quant::PerTensor { scale: 0.05, zero_point: 0 };
    let dims = [1, 6, 4, 8];
    let x = b.input("x", DType::I8, &dims, q).unwrap();
    let w: Vec<i8> = (0..8 * 9 * 8).map(|i| ((i * 37) % 255 - 127) as i8).collect();
    let w = b.constant_i8("w", &[8, 3, 3, 8], Quant::PerTensor { scale: 0.01, zero_point: 0 }, &w).unwrap();
    let bias = b.constant_i32("b", &[8], &[0; 8]).unwrap();
    let rq = mote_runtime::quant::quantize_multiplier(0.01);
    let rq = b.constant_i32("rq", &[1, 2], &[rq.multiplier, rq.shift]).unwrap();
    let conv = OpKind::Conv2d { stride: [1, 1], dilation: [1, 1], pad: [1, 1, 1, 1], groups: 1, act: Activation::None };
    let a = b.activation("a", DType::I8, &dims, q).unwrap();
    b.op(conv.clone(), &[x, w, bias, rq], a).unwrap();
    let c = b.activation("c", DType::I8, &dims, q).unwrap();
    b.op(conv, &[a, w, bias, rq], c).unwrap();
    let y = b.activation("y", DType::I8, &dims, q).unwrap();
    let qp = mote_runtime::quant::QParams { scale: 0.05, zero_point: 0 };
    let add = mote_runtime::ops::BinaryQuant::new(BinaryOp::Add, qp, qp, qp);
    b.op(OpKind::Binary { op: BinaryOp::Add, act: Activation::None, quant: Some(add) }, &[x, c], y).unwrap();
    b.output(y);
    let file = b.finish().unwrap();
    let aligned = AlignedBytes::new(&file);
    let model = Model::from_bytes(&aligned).unwrap();
    let offset = |id: u16| match model.tensor(id).unwrap().storage {
        Storage::Arena { offset, .. } => offset,
        Storage::Const(_) => unreachable!(),
    };
    let shift = offset(a) - offset(c);
    // Rows of 32 B: at 64 B the bands are rows 0-1, 2, 3, 4, 5; at 48 B the second band, which
    // reads from row 0, could not end after row 1.
    assert_eq!(shift, 64);
    let move_c = |to: u32| {
        rewritten(&file, |t, _| {
            if let Storage::Arena { first, last, .. } = t[c as usize].storage {
                t[c as usize].storage = Storage::Arena { offset: to, first, last };
            }
        })
    };
    assert_eq!(load(&move_c(offset(c))), Ok(()));
    // In place, or trailing by less than a band needs: refused.
    assert_eq!(load(&move_c(offset(a))), Err(FormatError::PlanOverlap { a, b: c }));
    assert_eq!(load(&move_c(offset(a) - 48)), Err(FormatError::PlanOverlap { a, b: c }));
}

/// An int8 FullyConnected `[1, k] → [1, 4]` with its weights (tensor 1) in `layout`; bias 2,
/// requant 3.
fn fc_model(k: u32, layout: mote_runtime::format::Layout) -> Vec<u8> {
    fc_model_with(k, layout, false)
}

/// [`fc_model`], its bias in `fc-bias-folded` when `folded`.
fn fc_model_with(k: u32, layout: mote_runtime::format::Layout, folded: bool) -> Vec<u8> {
    let mut b = ModelBuilder::new("fc");
    let q = |scale, zero_point| Quant::PerTensor { scale, zero_point };
    let x = b.input("x", DType::I8, &[1, k], q(0.1, 3)).unwrap();
    let values: Vec<i8> = (0..4 * k as i32).map(|i| (i * 37 % 255 - 127) as i8).collect();
    let w = b.constant_i8_packed("w", &[4, k], q(0.01, 0), &values, layout).unwrap();
    let bias = if folded {
        b.constant_bias_folded("b", Some(&[100, -200, 300, -400]), &values, k as usize, 3).unwrap()
    } else {
        b.constant_i32("b", &[4], &[100, -200, 300, -400]).unwrap()
    };
    let m = mote_runtime::quant::quantize_multiplier(0.1 * 0.01 / 0.05);
    let rq = b.constant_i32("rq", &[1, 2], &[m.multiplier, m.shift]).unwrap();
    assert_eq!((w, bias, rq), (1, 2, 3));
    let y = b.activation("y", DType::I8, &[1, 4], q(0.05, -2)).unwrap();
    b.op(OpKind::FullyConnected { act: Activation::None }, &[x, w, bias, rq], y).unwrap();
    b.output(y);
    b.finish().unwrap()
}

/// `file` rewritten with a LAYOUTS section of `entries` (tensor, code), its other sections kept.
fn with_layouts(file: &[u8], entries: &[(u16, u16)]) -> Vec<u8> {
    let aligned = AlignedBytes::new(file);
    let m = Model::from_bytes(&aligned).unwrap();
    let tensors: Vec<TensorDesc<'_>> = (0..m.tensor_count() as u16).map(|i| m.tensor(i).unwrap()).collect();
    let ops: Vec<OpDesc> = m.ops().collect();
    let (woff, wlen) = section(file, kind::WEIGHTS);
    mote_runtime::format::writer::write_with_layouts(m.meta(), &tensors, &ops, &file[woff..woff + wlen], entries)
}

#[test]
fn packed_weights_load_and_each_fault_has_its_error() {
    use mote_runtime::format::Layout;
    let reference = fc_model(8, Layout::Reference);
    if !Layout::FcQ15.compiled() {
        assert_eq!(load(&with_layouts(&reference, &[(1, 1)])), Err(FormatError::LayoutNotCompiled { tensor: 1, layout: Layout::FcQ15 }));
        return;
    }
    let packed = fc_model(8, Layout::FcQ15);
    let aligned = AlignedBytes::new(&packed);
    let m = Model::from_bytes(&aligned).unwrap();
    assert_eq!((m.layout(0), m.layout(1), m.layout(2)), (Layout::Reference, Layout::FcQ15, Layout::Reference));
    let (off, len) = section(&packed, kind::LAYOUTS);
    assert_eq!(&packed[off..off + len], &[1, 0, 0, 0, 1, 0, 1, 0]);
    // The section is required: the table entry's flag.
    let entry = (0..5).map(|i| HEADER_LEN + i * SECTION_ENTRY_LEN).find(|&e| packed[e] == kind::LAYOUTS as u8).unwrap();
    assert_eq!(u16::from_le_bytes([packed[entry + 2], packed[entry + 3]]), mote_runtime::format::SECTION_REQUIRED);

    let mut bad = packed.clone();
    bad[off + 6] = 9;
    reseal(&mut bad);
    assert_eq!(load(&bad), Err(FormatError::UnknownLayout { tensor: 1, code: 9 }));
    let mut bad = packed.clone();
    bad[off + 6] = 0;
    reseal(&mut bad);
    assert_eq!(load(&bad), Err(FormatError::UnknownLayout { tensor: 1, code: 0 }));
    let mut bad = packed.clone();
    bad[off] = 2;
    reseal(&mut bad);
    assert_eq!(load(&bad), Err(FormatError::Malformed { section: Section::Layouts, index: u32::MAX }));

    // Reference-sized data under a packed layout; a layout on the bias, on the input, on
    // weights whose k is not a multiple of 4; entries out of order.
    assert_eq!(load(&with_layouts(&reference, &[(1, 1)])), Err(FormatError::LayoutSize { tensor: 1, expected: 64, found: 32 }));
    assert_eq!(load(&with_layouts(&packed, &[(1, 1), (2, 1)])), Err(FormatError::LayoutMismatch { tensor: 2 }));
    assert_eq!(load(&with_layouts(&packed, &[(0, 1), (1, 1)])), Err(FormatError::LayoutMismatch { tensor: 0 }));
    assert_eq!(load(&with_layouts(&fc_model(6, Layout::Reference), &[(1, 1)])), Err(FormatError::LayoutMismatch { tensor: 1 }));
    assert_eq!(load(&with_layouts(&packed, &[(1, 1), (1, 1)])), Err(FormatError::Malformed { section: Section::Layouts, index: 1 }));
    assert_eq!(load(&with_layouts(&packed, &[(7, 1)])), Err(FormatError::TensorIdOutOfRange { tensor: 7 }));
    // Without entries the writer leaves the section out: the reference file, byte for byte.
    assert_eq!(with_layouts(&reference, &[]), reference);
}

/// A packed tensor read by any op but as an int8 FullyConnected's weights is refused.
#[test]
fn packed_weights_only_as_fully_connected_weights() {
    use mote_runtime::format::Layout;
    if !Layout::FcQ15.compiled() {
        return;
    }
    // The packed weights of tensor 1 also fed, as the input, to a Reshape.
    let packed = fc_model(8, Layout::FcQ15);
    let aligned = AlignedBytes::new(&packed);
    let m = Model::from_bytes(&aligned).unwrap();
    let mut tensors: Vec<TensorDesc<'_>> = (0..m.tensor_count() as u16).map(|i| m.tensor(i).unwrap()).collect();
    let mut ops: Vec<OpDesc> = m.ops().collect();
    let mut meta = m.meta().clone();
    let y = tensors[4].clone();
    let Storage::Arena { offset, .. } = y.storage else { panic!() };
    tensors[4].storage = Storage::Arena { offset, first: 0, last: 1 };
    let mut flat = t(DType::I8, &[32], Storage::Arena { offset: offset + 16, first: 1, last: 2 }, "flat");
    flat.quant = y.quant;
    tensors.push(flat);
    meta.arena_bytes = offset + 48;
    meta.outputs = heapless::Vec::from_slice(&[5]).unwrap();
    ops.push(OpDesc { kind: OpKind::Reshape, inputs: heapless::Vec::from_slice(&[1]).unwrap(), output: 5, scratch: ScratchRegion::default() });
    let (woff, wlen) = section(&packed, kind::WEIGHTS);
    let file = mote_runtime::format::writer::write_with_layouts(&meta, &tensors, &ops, &packed[woff..woff + wlen], &[(1, 1)]);
    assert_eq!(load(&file), Err(FormatError::LayoutMismatch { tensor: 1 }));
}

/// The packed file runs to the reference file's bytes.
#[test]
fn packed_weights_run_to_the_reference_bytes() {
    use mote_runtime::format::Layout;
    if !Layout::FcQ15.compiled() {
        return;
    }
    let run = |file: &[u8]| {
        let aligned = AlignedBytes::new(file);
        let m = Model::from_bytes(&aligned).unwrap();
        let mut arena = vec![0u8; m.arena_bytes() + 16];
        let mut it = Interpreter::new(&m, &mut arena).unwrap();
        it.input_i8_mut(0).unwrap().copy_from_slice(&[-128, -5, 0, 3, 17, 90, 127, -64]);
        it.invoke().unwrap();
        it.output_bytes(0).unwrap().to_vec()
    };
    let got = run(&fc_model(8, Layout::FcQ15));
    assert_eq!(got, run(&fc_model(8, Layout::Reference)));
    assert!(got.iter().any(|&b| b != got[0]), "{got:?}");
}

/// A folded bias (`fc-bias-folded`, code 2) loads on an int8 FullyConnected's bias alone, with
/// int8 or `fc-q15` weights, and runs to the reference file's bytes; anywhere else it is refused.
#[test]
fn folded_bias_loads_runs_to_the_reference_bytes_and_each_fault_has_its_error() {
    use mote_runtime::format::Layout;
    let reference = fc_model(8, Layout::Reference);
    if !Layout::FcBiasFolded.compiled() {
        assert_eq!(load(&with_layouts(&reference, &[(2, 2)])), Err(FormatError::LayoutNotCompiled { tensor: 2, layout: Layout::FcBiasFolded }));
        return;
    }
    let folded = fc_model_with(8, Layout::Reference, true);
    let both = fc_model_with(8, Layout::FcQ15, true);
    let aligned = AlignedBytes::new(&both);
    let m = Model::from_bytes(&aligned).unwrap();
    assert_eq!((m.layout(1), m.layout(2), m.layout(3)), (Layout::FcQ15, Layout::FcBiasFolded, Layout::Reference));
    let (off, len) = section(&folded, kind::LAYOUTS);
    assert_eq!(&folded[off..off + len], &[1, 0, 0, 0, 2, 0, 2, 0]);
    // The stored bias is not the reference's (x's zero point is 3).
    let bias = |file: &[u8]| {
        let aligned = AlignedBytes::new(file);
        let m = Model::from_bytes(&aligned).unwrap();
        let Storage::Const(r) = m.tensor(2).unwrap().storage else { panic!() };
        m.weights(r).unwrap().to_vec()
    };
    assert_ne!(bias(&folded), bias(&reference));

    let run = |file: &[u8]| {
        let aligned = AlignedBytes::new(file);
        let m = Model::from_bytes(&aligned).unwrap();
        let mut arena = vec![0u8; m.arena_bytes() + 16];
        let mut it = Interpreter::new(&m, &mut arena).unwrap();
        it.input_i8_mut(0).unwrap().copy_from_slice(&[-128, -5, 0, 3, 17, 90, 127, -64]);
        it.invoke().unwrap();
        it.output_bytes(0).unwrap().to_vec()
    };
    let want = run(&reference);
    assert!(want.iter().any(|&b| b != want[0]), "{want:?}");
    assert_eq!(run(&folded), want);
    assert_eq!(run(&both), want);

    // On the weights (int8), on the requant entries (`[1, 2]`), on the input.
    assert_eq!(load(&with_layouts(&reference, &[(1, 2)])), Err(FormatError::LayoutMismatch { tensor: 1 }));
    assert_eq!(load(&with_layouts(&reference, &[(3, 2)])), Err(FormatError::LayoutMismatch { tensor: 3 }));
    assert_eq!(load(&with_layouts(&reference, &[(0, 2)])), Err(FormatError::LayoutMismatch { tensor: 0 }));
    // Data of another length than four bytes a value.
    let aligned = AlignedBytes::new(&folded);
    let m = Model::from_bytes(&aligned).unwrap();
    let mut tensors: Vec<TensorDesc<'_>> = (0..m.tensor_count() as u16).map(|i| m.tensor(i).unwrap()).collect();
    let Storage::Const(r) = tensors[2].storage else { panic!() };
    tensors[2].storage = Storage::Const(mote_runtime::tensor::Region { offset: r.offset, len: 8 });
    let ops: Vec<OpDesc> = m.ops().collect();
    let (woff, wlen) = section(&folded, kind::WEIGHTS);
    let file = mote_runtime::format::writer::write_with_layouts(m.meta(), &tensors, &ops, &folded[woff..woff + wlen], &[(2, 2)]);
    assert_eq!(load(&file), Err(FormatError::LayoutSize { tensor: 2, expected: 16, found: 8 }));
    // A folded bias also read by another op (a Reshape of it): refused.
    let mut tensors: Vec<TensorDesc<'_>> = (0..m.tensor_count() as u16).map(|i| m.tensor(i).unwrap()).collect();
    let mut ops: Vec<OpDesc> = m.ops().collect();
    let mut meta = m.meta().clone();
    let Storage::Arena { offset, .. } = tensors[4].storage else { panic!() };
    tensors[4].storage = Storage::Arena { offset, first: 0, last: 1 };
    tensors.push(t(DType::I32, &[4], Storage::Arena { offset: offset + 16, first: 1, last: 2 }, "flat"));
    meta.arena_bytes = offset + 32;
    meta.outputs = heapless::Vec::from_slice(&[5]).unwrap();
    ops.push(OpDesc { kind: OpKind::Reshape, inputs: heapless::Vec::from_slice(&[2]).unwrap(), output: 5, scratch: ScratchRegion::default() });
    let file = mote_runtime::format::writer::write_with_layouts(&meta, &tensors, &ops, &folded[woff..woff + wlen], &[(2, 2)]);
    assert_eq!(load(&file), Err(FormatError::LayoutMismatch { tensor: 2 }));
}
