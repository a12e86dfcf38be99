//! Signed models (feature `verify`): the optional SIGNATURE section and its verification against
//! public keys compiled into the firmware.
//!
//! A signed file carries one SIGNATURE section (kind 16, flags 0, 112 bytes, the last bytes of
//! the file; layout in `FORMAT.md`): an Ed25519 signature over the section's first 48 bytes,
//! which hold the scheme, the model version (a rollback counter), the signer's key id and the
//! SHA-256 of the rest of the file (everything but the CRC field and the section itself).
//! Readers without this feature skip the section: a signed file loads and runs as before.
//!
//! ```ignore
//! const KEYS: [PublicKey; 1] = [signature::public_key_from_hex(include_str!("../model.pub"))];
//! let model = Model::from_signed_bytes(MODEL, &KEYS, MIN_VERSION)?; // VerifyError
//! ```
//!
//! Ed25519 comes from `ed25519-compact`: no dependencies with its default features off, no heap,
//! formally verified (fiat-crypto) field arithmetic, maintained, builds for every Mote target
//! (thumbv6m, thumbv7em, thumbv8m.main, riscv32); its signing code and base-point table are not
//! linked into a firmware that only verifies, and its `opt_size` feature keeps the verifier at
//! 21 KB on the Cortex-M4 (312 KB without: it inlines the whole double scalar multiplication).
//! `salty` is faster on Cortex-M4/M33 (assembly field arithmetic) but calls itself unaudited
//! work in progress and falls back to TweetNaCl code elsewhere; `ed25519-dalek` carries
//! precomputed tables meant for PCs. SHA-256 is RustCrypto's `sha2` (`no_std`, portable code),
//! faster than SHA-512 on a 32-bit core for the hash that is linear in the model's size;
//! Ed25519's own SHA-512 then runs over 48 bytes only.
//!
//! Cost on the Cortex-M4 (exact counts under QEMU, `hil-tests/tests/signed.rs`): 1.67 M
//! instructions for the Ed25519 check plus 48.4 per byte hashed, so 16.5 M for a 300 KB model.

use sha2::{Digest, Sha256};

use crate::error::FormatError;
use crate::format::{kind, read_u16, read_u32, Model, HEADER_LEN, MAGIC, SECTION_ENTRY_LEN, VERSION};

/// An Ed25519 public key, as `mote keygen` writes it to `KEY.pub` (hex).
pub type PublicKey = [u8; 32];
/// The first 8 bytes of the SHA-256 of a public key: which key signed a file.
pub type KeyId = [u8; 8];

/// Bytes of a SIGNATURE section.
pub const SECTION_LEN: usize = 112;
/// Bytes at the start of the section that the Ed25519 signature covers.
pub const SIGNED_LEN: usize = 48;
/// The only scheme: Ed25519 over a SHA-256 content hash.
pub const SCHEME_ED25519_SHA256: u16 = 1;

/// Why a file's signature was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum VerifyError {
    /// The header or section table is not a model file's, or the model itself is invalid.
    Format(FormatError),
    /// The file has no SIGNATURE section.
    Unsigned,
    /// The SIGNATURE section is repeated, not the file's last bytes, of the wrong length, marked
    /// required, or names an unknown scheme.
    MalformedSignature { reason: &'static str },
    /// The file was signed by a key that is not among the trusted ones.
    WrongKey { key_id: KeyId },
    /// A trusted key is not a valid Ed25519 public key (a firmware build error).
    InvalidKey { key_id: KeyId },
    /// The file's bytes differ from those that were signed.
    Tampered,
    /// The content hash matches but the signature does not verify: the section's fields were
    /// changed or forged.
    BadSignature,
    /// A valid signature on a model older than the firmware accepts.
    RolledBack { version: u32, minimum: u32 },
}

impl From<FormatError> for VerifyError {
    fn from(e: FormatError) -> Self {
        VerifyError::Format(e)
    }
}

impl core::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            VerifyError::Format(e) => write!(f, "{e}"),
            VerifyError::Unsigned => write!(f, "the model is not signed"),
            VerifyError::MalformedSignature { reason } => write!(f, "malformed signature section: {reason}"),
            VerifyError::WrongKey { key_id } => write!(f, "signed by key {}, which is not trusted", Hex(key_id)),
            VerifyError::InvalidKey { key_id } => write!(f, "trusted key {} is not a valid Ed25519 public key", Hex(key_id)),
            VerifyError::Tampered => write!(f, "the model's bytes differ from the signed ones (tampered or corrupted)"),
            VerifyError::BadSignature => write!(f, "the signature does not verify (forged or altered signature section)"),
            VerifyError::RolledBack { version, minimum } => {
                write!(f, "model version {version} is older than the minimum {minimum} (rollback)")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for VerifyError {}

/// Lower-case hex of a byte string, for messages.
pub struct Hex<'a>(pub &'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// What a valid signature vouches for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Verified {
    pub model_version: u32,
    pub key_id: KeyId,
}

/// A file's SIGNATURE section, decoded (not yet verified).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureSection {
    /// Offset of the section in the file: the content hash covers the bytes before it.
    pub offset: usize,
    pub model_version: u32,
    pub key_id: KeyId,
    pub content_hash: [u8; 32],
    pub signature: [u8; 64],
    /// The section's first [`SIGNED_LEN`] bytes, the Ed25519 message.
    pub signed: [u8; SIGNED_LEN],
}

/// The key id of `public`.
pub fn key_id(public: &PublicKey) -> KeyId {
    let hash = Sha256::digest(public);
    let mut id = [0u8; 8];
    id.copy_from_slice(&hash[..8]);
    id
}

/// A public key from the 64 hex digits of a `KEY.pub` file (surrounding whitespace ignored), in
/// a `const`, so that a firmware compiles its key in:
/// `const KEY: PublicKey = public_key_from_hex(include_str!("../model.pub"));`.
/// Panics (at compile time in a `const`) on anything else.
pub const fn public_key_from_hex(text: &str) -> PublicKey {
    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("a public key is 64 hex digits"),
        }
    }
    let b = text.as_bytes();
    let (mut start, mut end) = (0, b.len());
    while start < end && b[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && b[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    assert!(end - start == 64, "a public key is 64 hex digits");
    let mut key = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        key[i] = digit(b[start + 2 * i]) << 4 | digit(b[start + 2 * i + 1]);
        i += 1;
    }
    key
}

/// SHA-256 of `file[..12]` followed by `file[16..signature_offset]`: every byte of the file
/// except the CRC field (which covers the signature) and the SIGNATURE section.
pub fn content_hash(file: &[u8], signature_offset: usize) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(&file[..12]);
    h.update(&file[16..signature_offset]);
    h.finalize().into()
}

/// Finds and decodes the SIGNATURE section after checking the header and section table just far
/// enough to locate it. `Ok(None)`: the file is unsigned.
pub fn read(bytes: &[u8]) -> Result<Option<SignatureSection>, VerifyError> {
    if bytes.len() < HEADER_LEN {
        return Err(FormatError::Truncated { needed: HEADER_LEN, available: bytes.len() }.into());
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if magic != MAGIC {
        return Err(FormatError::BadMagic { found: magic }.into());
    }
    let version = read_u16(bytes, 4).unwrap_or(0);
    if version != VERSION {
        return Err(FormatError::UnsupportedVersion { found: version, supported: VERSION }.into());
    }
    let count = read_u16(bytes, 6).unwrap_or(0) as usize;
    let file_len = read_u32(bytes, 8).unwrap_or(0) as usize;
    if file_len > bytes.len() {
        return Err(FormatError::Truncated { needed: file_len, available: bytes.len() }.into());
    }
    let table_end = HEADER_LEN + count * SECTION_ENTRY_LEN;
    if file_len < table_end {
        return Err(FormatError::Truncated { needed: table_end, available: file_len }.into());
    }
    let mut found = None;
    for i in 0..count {
        let e = HEADER_LEN + i * SECTION_ENTRY_LEN;
        if read_u16(bytes, e) != Some(kind::SIGNATURE) {
            continue;
        }
        if found.is_some() {
            return Err(VerifyError::MalformedSignature { reason: "more than one SIGNATURE section" });
        }
        found = Some(e);
    }
    let Some(e) = found else { return Ok(None) };
    let malformed = |reason| Err(VerifyError::MalformedSignature { reason });
    if read_u16(bytes, e + 2) != Some(0) || read_u32(bytes, e + 12) != Some(0) {
        return malformed("flags or reserved field of its table entry not zero");
    }
    let offset = read_u32(bytes, e + 4).unwrap_or(0) as usize;
    let len = read_u32(bytes, e + 8).unwrap_or(0) as usize;
    if len != SECTION_LEN {
        return malformed("length is not 112 bytes");
    }
    if offset < table_end || offset % 16 != 0 || offset.checked_add(len) != Some(file_len) {
        return malformed("not the last 112 bytes of the file");
    }
    let s = &bytes[offset..file_len];
    if read_u16(s, 0) != Some(SCHEME_ED25519_SHA256) {
        return malformed("unknown scheme");
    }
    if read_u16(s, 2) != Some(0) {
        return malformed("reserved bytes not zero");
    }
    let mut section = SignatureSection {
        offset,
        model_version: read_u32(s, 4).unwrap_or(0),
        key_id: [0; 8],
        content_hash: [0; 32],
        signature: [0; 64],
        signed: [0; SIGNED_LEN],
    };
    section.key_id.copy_from_slice(&s[8..16]);
    section.content_hash.copy_from_slice(&s[16..48]);
    section.signature.copy_from_slice(&s[48..112]);
    section.signed.copy_from_slice(&s[..SIGNED_LEN]);
    Ok(Some(section))
}

/// Checks a file's signature against `keys` (the key whose id the file names is used; several
/// keys let a fleet rotate) and its model version against `min_version`. Checks, in order: the
/// header and section table (`Format`), a SIGNATURE section present (`Unsigned`) and well formed
/// (`MalformedSignature`), its key trusted (`WrongKey`, `InvalidKey`), the content hash
/// (`Tampered`), the Ed25519 signature (`BadSignature`), the version (`RolledBack`). It does not
/// validate the model: [`Model::from_signed_bytes`] does both.
pub fn verify(bytes: &[u8], keys: &[PublicKey], min_version: u32) -> Result<Verified, VerifyError> {
    let s = read(bytes)?.ok_or(VerifyError::Unsigned)?;
    let key = keys.iter().find(|k| key_id(k) == s.key_id).ok_or(VerifyError::WrongKey { key_id: s.key_id })?;
    if content_hash(bytes, s.offset) != s.content_hash {
        return Err(VerifyError::Tampered);
    }
    let public = ed25519_compact::PublicKey::new(*key);
    match public.verify(s.signed, &ed25519_compact::Signature::new(s.signature)) {
        Ok(()) => {}
        Err(ed25519_compact::Error::InvalidPublicKey | ed25519_compact::Error::WeakPublicKey) => {
            return Err(VerifyError::InvalidKey { key_id: s.key_id })
        }
        Err(_) => return Err(VerifyError::BadSignature),
    }
    if s.model_version < min_version {
        return Err(VerifyError::RolledBack { version: s.model_version, minimum: min_version });
    }
    Ok(Verified { model_version: s.model_version, key_id: s.key_id })
}

impl<'a> Model<'a> {
    /// [`verify`] then [`Model::from_bytes`]: the file is parsed only once its signature holds.
    pub fn from_signed_bytes(bytes: &'a [u8], keys: &[PublicKey], min_version: u32) -> Result<(Model<'a>, Verified), VerifyError> {
        let verified = verify(bytes, keys, min_version)?;
        Ok((Model::from_bytes(bytes)?, verified))
    }
}

/// The public key of the signing key whose seed (`mote keygen`'s `KEY`) is `seed`.
#[cfg(feature = "std")]
pub fn public_key(seed: &[u8; 32]) -> PublicKey {
    *ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*seed)).pk
}

/// `file` with a SIGNATURE section by the key `seed` for `model_version`, replacing any it had.
/// The file must be a valid model; its other sections are kept byte for byte, in order.
/// Signing is deterministic (no noise), so the same file, key and version give the same bytes.
#[cfg(feature = "std")]
pub fn sign(file: &[u8], seed: &[u8; 32], model_version: u32) -> Result<std::vec::Vec<u8>, FormatError> {
    use crate::format::writer::{assemble, reseal, AlignedBytes};
    let aligned = AlignedBytes::new(file);
    let model = Model::from_bytes(&aligned)?;
    let file = model.file_bytes();
    let count = read_u16(file, 6).unwrap_or(0) as usize;
    let mut sections = std::vec::Vec::new();
    for i in 0..count {
        let e = HEADER_LEN + i * SECTION_ENTRY_LEN;
        let (k, flags) = (read_u16(file, e).unwrap_or(0), read_u16(file, e + 2).unwrap_or(0));
        let (offset, len) = (read_u32(file, e + 4).unwrap_or(0) as usize, read_u32(file, e + 8).unwrap_or(0) as usize);
        if k != kind::SIGNATURE {
            sections.push((k, flags, file.get(offset..offset + len).ok_or(FormatError::SectionOutOfBounds { section: crate::error::Section::Header })?));
        }
    }
    let blank = [0u8; SECTION_LEN];
    sections.push((kind::SIGNATURE, 0, &blank));
    let mut out = assemble(&sections);
    let offset = out.len() - SECTION_LEN;
    let keys = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*seed));
    let hash = content_hash(&out, offset);
    let s = &mut out[offset..];
    s[0..2].copy_from_slice(&SCHEME_ED25519_SHA256.to_le_bytes());
    s[4..8].copy_from_slice(&model_version.to_le_bytes());
    s[8..16].copy_from_slice(&key_id(&keys.pk));
    s[16..48].copy_from_slice(&hash);
    let signature = keys.sk.sign(&s[..SIGNED_LEN], None);
    s[48..112].copy_from_slice(&*signature);
    reseal(&mut out);
    Ok(out)
}
