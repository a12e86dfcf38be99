//! Any bytes as an `.npz` file through the converter's reader (`src/converter.rs`, `npz`).
#![no_main]

#[allow(dead_code)]
#[path = "../src/converter.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = harness::npz(data);
});
