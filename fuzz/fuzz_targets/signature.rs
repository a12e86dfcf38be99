//! Any bytes, CRC fixed up, checked against the HIL test key (`examples/hil-firmware/test-key`,
//! whose signed files seed the corpus): `signature::verify` and `Model::from_signed_bytes`
//! return a `VerifyError` or accept, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mote_runtime::format::writer::{reseal, AlignedBytes};
use mote_runtime::signature::{self, public_key};
use mote_runtime::Model;

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    if bytes.len() >= 16 {
        reseal(&mut bytes);
    }
    let keys = [public_key(&[0x4d; 32])];
    let _ = signature::read(&bytes);
    let _ = signature::verify(&bytes, &keys, 2);
    let aligned = AlignedBytes::new(&bytes);
    let _ = Model::from_signed_bytes(&aligned, &keys, 0);
});
