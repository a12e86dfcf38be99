//! Any bytes as a signed model file (`src/runtime.rs`, `signature`).
#![no_main]

#[allow(dead_code)]
#[path = "../src/runtime.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::signature(data);
});
