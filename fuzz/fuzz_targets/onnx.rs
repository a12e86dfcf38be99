//! Any bytes as an ONNX file through the converter, `--float` and int8 (`src/converter.rs`, `onnx`).
#![no_main]

#[allow(dead_code)]
#[path = "../src/converter.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = harness::onnx(data);
});
