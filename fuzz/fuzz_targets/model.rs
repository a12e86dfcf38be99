//! Any bytes as a model file: loaded, and invoked when small (`src/runtime.rs`, `model`).
#![no_main]

#[allow(dead_code)]
#[path = "../src/runtime.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::model(data);
});
