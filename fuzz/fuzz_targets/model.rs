//! Any bytes, CRC fixed up (else nearly every input stops at the checksum): `Model::from_bytes`
//! either rejects them with a `FormatError` or accepts a model that then runs without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mote_runtime::format::writer::{reseal, AlignedBytes};
use mote_runtime::{Interpreter, Model};

/// Larger plans are valid but would only slow the fuzzer down.
const MAX_ARENA: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    if bytes.len() >= 16 {
        reseal(&mut bytes);
    }
    let aligned = AlignedBytes::new(&bytes);
    let Ok(model) = Model::from_bytes(&aligned) else { return };
    if model.arena_bytes() > MAX_ARENA {
        return;
    }
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    let Ok(mut it) = Interpreter::new(&model, &mut arena) else { return };
    let _ = it.invoke();
    for i in 0..model.outputs().len() {
        let _ = it.output_bytes(i);
    }
});
