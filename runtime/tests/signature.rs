//! Signed models: sign → verify, every rejection class with its own error, and the section's
//! exact layout.

use std::path::PathBuf;

use mote_runtime::format::writer::{reseal, AlignedBytes};
use mote_runtime::format::{kind, HEADER_LEN, SECTION_ENTRY_LEN};
use mote_runtime::signature::{self, key_id, public_key, public_key_from_hex, sign, verify, Verified, VerifyError, SECTION_LEN};
use mote_runtime::{FormatError, Model};

const SEED: [u8; 32] = [7; 32];
const OTHER: [u8; 32] = [9; 32];

fn golden() -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v2.mote")).unwrap()
}

fn check(file: &[u8], keys: &[[u8; 32]], min_version: u32) -> Result<Verified, VerifyError> {
    let aligned = AlignedBytes::new(file);
    Model::from_signed_bytes(&aligned, keys, min_version).map(|(_, v)| v)
}

fn sig_offset(file: &[u8]) -> usize {
    file.len() - SECTION_LEN
}

#[test]
fn sign_then_verify() {
    let signed = sign(&golden(), &SEED, 5).unwrap();
    let pk = public_key(&SEED);
    assert_eq!(check(&signed, &[pk], 0), Ok(Verified { model_version: 5, key_id: key_id(&pk) }));
    assert_eq!(check(&signed, &[pk], 5), Ok(Verified { model_version: 5, key_id: key_id(&pk) }));
    // With several trusted keys (a rotation), the one the file names is used.
    assert!(check(&signed, &[public_key(&OTHER), pk], 5).is_ok());
    // Deterministic, and signing again replaces the section.
    assert_eq!(sign(&golden(), &SEED, 5).unwrap(), signed);
    let resigned = sign(&signed, &OTHER, 6).unwrap();
    assert_eq!(resigned.len(), signed.len());
    assert_eq!(check(&resigned, &[public_key(&OTHER)], 6).unwrap().model_version, 6);
}

#[test]
fn the_section_layout_is_the_documented_one() {
    let file = golden();
    let signed = sign(&file, &SEED, 0x0102_0304).unwrap();
    let count = u16::from_le_bytes([signed[6], signed[7]]) as usize;
    let e = HEADER_LEN + (count - 1) * SECTION_ENTRY_LEN;
    let field = |at: usize| u32::from_le_bytes(signed[at..at + 4].try_into().unwrap());
    assert_eq!(u16::from_le_bytes([signed[e], signed[e + 1]]), kind::SIGNATURE);
    assert_eq!(u16::from_le_bytes([signed[e + 2], signed[e + 3]]), 0, "optional");
    assert_eq!(field(e + 4) as usize, sig_offset(&signed));
    assert_eq!(field(e + 8) as usize, SECTION_LEN);
    assert_eq!(field(8) as usize, signed.len());
    let s = &signed[sig_offset(&signed)..];
    assert_eq!(&s[0..4], &[1, 0, 0, 0], "scheme 1, reserved 0");
    assert_eq!(&s[4..8], &0x0102_0304u32.to_le_bytes());
    assert_eq!(&s[8..16], &key_id(&public_key(&SEED)));
    let mut h = signed[..12].to_vec();
    h.extend_from_slice(&signed[16..sig_offset(&signed)]);
    assert_eq!(&s[16..48], &sha256(&h));
    // Every section of the unsigned file is kept byte for byte.
    let (a, b) = (Model::from_bytes(&AlignedBytes::new(&file)).unwrap().weights_bytes(), Model::from_bytes(&AlignedBytes::new(&signed)).unwrap().weights_bytes());
    assert_eq!(a, b);
}

/// SHA-256 written out here (FIPS 180-4), independent of the crate the runtime uses.
fn sha256(msg: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
        0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
        0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ];
    let mut h: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut m = msg.to_vec();
    m.push(0x80);
    while m.len() % 64 != 56 {
        m.push(0);
    }
    m.extend_from_slice(&((msg.len() as u64) * 8).to_be_bytes());
    for block in m.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes(block[4 * i..4 * i + 4].try_into().unwrap());
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7].wrapping_add(s1).wrapping_add(ch).wrapping_add(K[i]).wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [t1.wrapping_add(t2), v[0], v[1], v[2], v[3].wrapping_add(t1), v[4], v[5], v[6]];
        }
        for i in 0..8 {
            h[i] = h[i].wrapping_add(v[i]);
        }
    }
    let mut out = [0u8; 32];
    for i in 0..8 {
        out[4 * i..4 * i + 4].copy_from_slice(&h[i].to_be_bytes());
    }
    out
}

#[test]
fn an_unsigned_file_is_refused_but_loads_without_verification() {
    let file = golden();
    assert_eq!(check(&file, &[public_key(&SEED)], 0), Err(VerifyError::Unsigned));
    assert!(Model::from_bytes(&AlignedBytes::new(&file)).is_ok());
}

#[test]
fn a_changed_byte_is_tampering() {
    let signed = sign(&golden(), &SEED, 1).unwrap();
    let keys = [public_key(&SEED)];
    let weights_byte = sig_offset(&signed) - 40;
    for at in [0usize, 9, 20, HEADER_LEN + 2, weights_byte, sig_offset(&signed) - 1] {
        let mut bad = signed.clone();
        bad[at] ^= 0x10;
        reseal(&mut bad);
        let got = check(&bad, &keys, 0);
        assert!(matches!(got, Err(VerifyError::Tampered | VerifyError::Format(_) | VerifyError::MalformedSignature { .. })), "byte {at}: {got:?}");
    }
    let mut bad = signed.clone();
    bad[weights_byte] ^= 1;
    assert_eq!(check(&bad, &keys, 0), Err(VerifyError::Tampered), "verified before the CRC is read");
    reseal(&mut bad);
    assert_eq!(check(&bad, &keys, 0), Err(VerifyError::Tampered));
}

#[test]
fn a_forged_section_is_a_bad_signature() {
    let signed = sign(&golden(), &SEED, 1).unwrap();
    let keys = [public_key(&SEED)];
    let s = sig_offset(&signed);
    // A raised version (the hash still matches): the signature no longer does.
    let mut bad = signed.clone();
    bad[s + 4] = 9;
    reseal(&mut bad);
    assert_eq!(check(&bad, &keys, 0), Err(VerifyError::BadSignature));
    let mut bad = signed.clone();
    bad[s + 100] ^= 1;
    reseal(&mut bad);
    assert_eq!(check(&bad, &keys, 0), Err(VerifyError::BadSignature));
}

#[test]
fn another_key_is_the_wrong_key() {
    let signed = sign(&golden(), &OTHER, 1).unwrap();
    let got = check(&signed, &[public_key(&SEED)], 0);
    assert_eq!(got, Err(VerifyError::WrongKey { key_id: key_id(&public_key(&OTHER)) }));
    assert_eq!(check(&signed, &[], 0), got);
}

#[test]
fn an_invalid_trusted_key_is_reported_as_such() {
    // y = 2 is not the y-coordinate of a curve point.
    let mut invalid = [0u8; 32];
    invalid[0] = 2;
    let mut signed = sign(&golden(), &SEED, 1).unwrap();
    let s = sig_offset(&signed);
    signed[s + 8..s + 16].copy_from_slice(&key_id(&invalid));
    reseal(&mut signed);
    assert_eq!(check(&signed, &[invalid], 0), Err(VerifyError::InvalidKey { key_id: key_id(&invalid) }));
}

#[test]
fn an_older_version_is_a_rollback() {
    let signed = sign(&golden(), &SEED, 3).unwrap();
    assert_eq!(check(&signed, &[public_key(&SEED)], 4), Err(VerifyError::RolledBack { version: 3, minimum: 4 }));
}

#[test]
fn a_malformed_section_is_refused() {
    let signed = sign(&golden(), &SEED, 1).unwrap();
    let keys = [public_key(&SEED)];
    let count = u16::from_le_bytes([signed[6], signed[7]]) as usize;
    let e = HEADER_LEN + (count - 1) * SECTION_ENTRY_LEN;
    let s = sig_offset(&signed);
    let edit = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut bad = signed.clone();
        f(&mut bad);
        reseal(&mut bad);
        check(&bad, &keys, 0)
    };
    let malformed = |r: Result<Verified, VerifyError>| matches!(r, Err(VerifyError::MalformedSignature { .. }));
    assert!(malformed(edit(&|b| b[e + 2] = 1)), "marked required");
    assert!(malformed(edit(&|b| b[e + 8] = 96)), "short");
    assert!(malformed(edit(&|b| b[e + 4] -= 16)), "not at the end");
    assert!(malformed(edit(&|b| b[s] = 2)), "unknown scheme");
    assert!(malformed(edit(&|b| b[s + 2] = 1)), "reserved");
    // Two SIGNATURE entries: the first section entry renamed.
    assert!(malformed(edit(&|b| b[HEADER_LEN..HEADER_LEN + 2].copy_from_slice(&kind::SIGNATURE.to_le_bytes()))));
}

#[test]
fn a_broken_header_is_a_format_error() {
    let signed = sign(&golden(), &SEED, 1).unwrap();
    let keys = [public_key(&SEED)];
    assert!(matches!(check(&signed[..20], &keys, 0), Err(VerifyError::Format(FormatError::Truncated { .. }))));
    assert!(matches!(check(&signed[..signed.len() - 1], &keys, 0), Err(VerifyError::Format(FormatError::Truncated { .. }))));
    let mut bad = signed.clone();
    bad[0] = b'X';
    assert!(matches!(check(&bad, &keys, 0), Err(VerifyError::Format(FormatError::BadMagic { .. }))));
    // Signature fine, model invalid: the CRC, checked by the model's own validation after.
    let mut bad = signed.clone();
    bad[12] ^= 1;
    assert!(matches!(check(&bad, &keys, 0), Err(VerifyError::Format(FormatError::ChecksumMismatch { .. }))));
    assert!(verify(&bad, &keys, 0).is_ok(), "the CRC is not part of what is signed");
}

#[test]
fn a_key_compiles_in_from_its_hex_file() {
    const KEY: [u8; 32] = public_key_from_hex("  00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n");
    assert_eq!(KEY[..4], [0x00, 0x11, 0x22, 0x33]);
    assert_eq!(KEY[31], 0xff);
    let pk = public_key(&SEED);
    let hex: String = pk.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(public_key_from_hex(&hex), pk);
    assert!(std::panic::catch_unwind(|| public_key_from_hex("0011")).is_err());
    let _ = signature::Hex(&pk).to_string();
}

/// RFC 8032's first test key, and a file signed with it by `tests/golden/sign_v2.py`, an
/// implementation of the section independent of this crate's (Python `cryptography`, `hashlib`).
#[test]
fn an_independent_implementation_writes_the_same_signed_file() {
    let seed = public_key_from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    assert_eq!(public_key(&seed), public_key_from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
    let theirs = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v2-signed.mote")).unwrap();
    assert_eq!(check(&theirs, &[public_key(&seed)], 1).unwrap().model_version, 1);
    assert!(sign(&golden(), &seed, 1).unwrap() == theirs, "mote_runtime::signature::sign differs from sign_v2.py");
}
