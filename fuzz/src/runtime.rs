//! What the runtime targets do with one input, shared by the fuzz targets (`fuzz_targets/`) and
//! the ordinary tests that replay the committed corpora on stable (`runtime/tests/fuzz.rs`,
//! which includes this file by path): one home for the harness.
//!
//! Both fix the CRC of any input of 16 bytes or more, or nearly every input would stop at the
//! checksum.

use mote_runtime::format::writer::{reseal, AlignedBytes};
use mote_runtime::ops::work;
use mote_runtime::signature::{self, public_key};
use mote_runtime::{Interpreter, Model};

/// Larger plans are valid but would only slow the fuzzer down.
pub const MAX_ARENA: usize = 1 << 20;

/// Most work of a model that [`model`] invokes ([`work`]: multiply-accumulates, elements read
/// and written, pooling taps): the shared models' millions of multiply-accumulates per inference
/// would hold the fuzzer at a few hundred executions a second, while the small seeds of
/// `fuzz/seeds/model` (every op family, f32 and int8, the packed layouts) reach every kernel at
/// a cost of a few thousand.
pub const MAX_WORK: u64 = 1 << 16;

/// How far one input got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `Model::from_bytes` refused it.
    Rejected,
    /// It loaded; its arena or its work is over the caps, so it was not invoked.
    TooLarge,
    /// It loaded; `Interpreter::new` or `invoke` returned an error.
    Failed,
    /// It loaded and ran.
    Ran,
}

/// Target `model`: `Model::from_bytes` either rejects the bytes with a `FormatError` or accepts
/// a model that, when small enough, runs (inputs zero) to `Ok` or a `RunError`; its outputs are
/// then read.
pub fn model(data: &[u8]) -> Outcome {
    let mut bytes = data.to_vec();
    if bytes.len() >= 16 {
        reseal(&mut bytes);
    }
    let aligned = AlignedBytes::new(&bytes);
    let Ok(model) = Model::from_bytes(&aligned) else { return Outcome::Rejected };
    if model.arena_bytes() > MAX_ARENA || work(&model) > MAX_WORK {
        return Outcome::TooLarge;
    }
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    let Ok(mut it) = Interpreter::new(&model, &mut arena) else { return Outcome::Failed };
    if it.invoke().is_err() {
        return Outcome::Failed;
    }
    for i in 0..model.outputs().len() {
        let _ = it.output_bytes(i);
    }
    Outcome::Ran
}

/// Target `signature`: checked against the HIL test key (`examples/hil-firmware/test-key`,
/// whose signed files seed the corpus), `signature::read`, `signature::verify` and
/// `Model::from_signed_bytes` return a `VerifyError` or accept, never panic. `true` when the
/// signed model was accepted.
pub fn signature(data: &[u8]) -> bool {
    let mut bytes = data.to_vec();
    if bytes.len() >= 16 {
        reseal(&mut bytes);
    }
    let keys = [public_key(&[0x4d; 32])];
    let _ = signature::read(&bytes);
    let _ = signature::verify(&bytes, &keys, 2);
    let aligned = AlignedBytes::new(&bytes);
    Model::from_signed_bytes(&aligned, &keys, 0).is_ok()
}
