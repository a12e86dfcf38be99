//! `mote keygen`, `mote sign`, `mote verify`: key files and signing on the host. The section
//! layout, the signing and the verification are `mote_runtime::signature`'s, the same code a
//! firmware runs.
//!
//! Key files are text: `KEY` holds the 32-byte Ed25519 seed (the secret) as 64 hex digits,
//! `KEY.pub` the public key the same way, which a firmware compiles in with
//! `mote_runtime::signature::public_key_from_hex(include_str!("KEY.pub"))`.

use std::path::{Path, PathBuf};

use mote_runtime::format::writer::AlignedBytes;
use mote_runtime::signature::{self, Hex, PublicKey, Verified, VerifyError};

/// Why a key or signing command failed; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("cannot read {path}: {cause}")]
    Read { path: PathBuf, cause: std::io::Error },
    #[error("cannot write {path}: {cause}")]
    Write { path: PathBuf, cause: std::io::Error },
    #[error("{path} exists: refusing to overwrite a key (remove it first)")]
    Exists { path: PathBuf },
    #[error("{path} is not a key file: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("{path} is not a valid Mote model: {reason}")]
    Model { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Rejected { path: PathBuf, reason: VerifyError },
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

/// `KEY.pub` beside `KEY`.
pub fn public_path(key: &Path) -> PathBuf {
    let mut p = key.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

fn hex(bytes: &[u8]) -> String {
    Hex(bytes).to_string()
}

fn read_hex32(path: &Path) -> Result<[u8; 32], SignError> {
    let text = std::fs::read_to_string(path).map_err(|cause| SignError::Read { path: path.into(), cause })?;
    let text = text.trim();
    let bad = |reason: &str| SignError::BadKey { path: path.into(), reason: reason.into() };
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("expected 64 hex digits"));
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad("expected 64 hex digits"))?;
    }
    Ok(out)
}

/// Reads a secret key (`KEY`).
pub fn read_secret(path: &Path) -> Result<[u8; 32], SignError> {
    let seed = read_hex32(path)?;
    if seed == [0; 32] {
        return Err(SignError::BadKey { path: path.into(), reason: "an all-zero seed".into() });
    }
    Ok(seed)
}

/// Reads a public key (`KEY.pub`).
pub fn read_public(path: &Path) -> Result<PublicKey, SignError> {
    read_hex32(path)
}

fn write_new(path: &Path, text: &str, secret: bool) -> Result<(), SignError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|cause| match cause.kind() {
        std::io::ErrorKind::AlreadyExists => SignError::Exists { path: path.into() },
        _ => SignError::Write { path: path.into(), cause },
    })?;
    f.write_all(text.as_bytes()).map_err(|cause| SignError::Write { path: path.into(), cause })
}

/// A new key pair: `key` (the secret, mode 0600 on Unix) and `key.pub`. Neither may exist.
/// Returns the public key.
pub fn keygen(key: &Path) -> Result<PublicKey, SignError> {
    let public_file = public_path(key);
    for p in [key, public_file.as_path()] {
        if p.exists() {
            return Err(SignError::Exists { path: p.into() });
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| SignError::Random(e.to_string()))?;
    let public = signature::public_key(&seed);
    write_new(key, &format!("{}\n", hex(&seed)), true)?;
    write_new(&public_file, &format!("{}\n", hex(&public)), false)?;
    Ok(public)
}

/// The model at `model` signed with the secret key at `key` for `version`.
pub fn sign(model: &Path, key: &Path, version: u32) -> Result<Vec<u8>, SignError> {
    let seed = read_secret(key)?;
    let bytes = std::fs::read(model).map_err(|cause| SignError::Read { path: model.into(), cause })?;
    signature::sign(&bytes, &seed, version).map_err(|e| SignError::Model { path: model.into(), reason: e.to_string() })
}

/// Verifies the model at `model` against the public keys in `keys` and `min_version`, then
/// validates the model as a device would (`Model::from_signed_bytes`).
pub fn verify(model: &Path, keys: &[PathBuf], min_version: u32) -> Result<Verified, SignError> {
    let keys = keys.iter().map(|k| read_public(k)).collect::<Result<Vec<_>, _>>()?;
    let bytes = std::fs::read(model).map_err(|cause| SignError::Read { path: model.into(), cause })?;
    let aligned = AlignedBytes::new(&bytes);
    mote_runtime::Model::from_signed_bytes(&aligned, &keys, min_version)
        .map(|(_, v)| v)
        .map_err(|reason| SignError::Rejected { path: model.into(), reason })
}
