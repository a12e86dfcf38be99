//! `mote keygen`, `mote sign`, `mote verify`: a round trip, and each rejection exits 1 with one
//! `error:` line naming the file and the reason.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::scratch;

/// Exit code, stdout, stderr.
fn mote(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mote")).args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The runtime's golden model, a valid unsigned file with every op kind.
fn model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests/golden/v2.mote")
}

/// Runs `mote` expecting exit 1 and a single `error:` line that names `file` and says `reason`.
fn fails(args: &[&str], file: &Path, reason: &str) {
    let (code, _, stderr) = mote(args);
    assert_eq!(code, Some(1), "mote {args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("error: ") && lines[0].contains(s(file)) && lines[0].contains(reason), "mote {args:?}: {stderr}");
}

fn keygen(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(name);
    let (code, stdout, stderr) = mote(&["keygen", "-o", s(&key)]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("key id") && stdout.contains("public_key_from_hex"), "{stdout}");
    (key.clone(), dir.join(format!("{name}.pub")))
}

#[test]
fn keygen_sign_verify_round_trip() {
    let dir = scratch("sign-roundtrip");
    let (key, public) = keygen(&dir, "fleet");
    assert_eq!(std::fs::read_to_string(&key).unwrap().trim().len(), 64);
    assert_eq!(std::fs::read_to_string(&public).unwrap().trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    fails(&["keygen", "-o", s(&key)], &key, "refusing to overwrite");

    let signed = dir.join("signed.mote");
    let (code, stdout, stderr) = mote(&["sign", s(&model()), "--key", s(&key), "--version", "7", "-o", s(&signed)]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("version 7"), "{stdout}");
    let (code, stdout, stderr) = mote(&["verify", s(&signed), "--key", s(&public), "--min-version", "7"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("signature ok") && stdout.contains("version 7"), "{stdout}");
    // A reader that does not verify skips the section.
    let (code, _, stderr) = mote(&["inspect", s(&signed)]);
    assert_eq!(code, Some(0), "{stderr}");
    // Two trusted keys, the second the signer's: a fleet in the middle of a key rotation.
    let (_, old_public) = keygen(&dir, "old");
    let (code, _, stderr) = mote(&["verify", s(&signed), "--key", s(&old_public), "--key", s(&public)]);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn every_rejection_exits_1_naming_the_file_and_the_reason() {
    let dir = scratch("sign-reject");
    let (key, public) = keygen(&dir, "k");
    let (_, other_public) = keygen(&dir, "other");
    let signed = dir.join("signed.mote");
    assert_eq!(mote(&["sign", s(&model()), "--key", s(&key), "--version", "3", "-o", s(&signed)]).0, Some(0));
    let bytes = std::fs::read(&signed).unwrap();

    fails(&["verify", s(&model()), "--key", s(&public)], &model(), "not signed");
    fails(&["verify", s(&signed), "--key", s(&other_public)], &signed, "not trusted");
    fails(&["verify", s(&signed), "--key", s(&public), "--min-version", "4"], &signed, "rollback");

    let tampered = dir.join("tampered.mote");
    let mut t = bytes.clone();
    let at = t.len() - 112 - 8;
    t[at] ^= 1;
    std::fs::write(&tampered, &t).unwrap();
    fails(&["verify", s(&tampered), "--key", s(&public)], &tampered, "tampered");

    let forged = dir.join("forged.mote");
    let mut f = bytes.clone();
    let version = f.len() - 112 + 4;
    f[version] = 9;
    std::fs::write(&forged, &f).unwrap();
    fails(&["verify", s(&forged), "--key", s(&public)], &forged, "does not verify");

    let malformed = dir.join("malformed.mote");
    let mut m = bytes[..bytes.len() - 16].to_vec();
    let len = m.len() as u32;
    m[8..12].copy_from_slice(&len.to_le_bytes());
    std::fs::write(&malformed, &m).unwrap();
    fails(&["verify", s(&malformed), "--key", s(&public)], &malformed, "malformed signature section");

    let missing = dir.join("missing.pub");
    fails(&["verify", s(&signed), "--key", s(&missing)], &missing, "cannot read");
    let bad_key = dir.join("bad.pub");
    std::fs::write(&bad_key, "not a key\n").unwrap();
    fails(&["verify", s(&signed), "--key", s(&bad_key)], &bad_key, "not a key file");

    let not_a_model = dir.join("garbage.mote");
    std::fs::write(&not_a_model, b"MOTE\x02\x00garbage").unwrap();
    let out = dir.join("never.mote");
    fails(&["sign", s(&not_a_model), "--key", s(&key), "-o", s(&out)], &not_a_model, "not a valid Mote model");
    assert!(!out.exists());
}
