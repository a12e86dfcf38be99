//! The committed corpora's files, for the tests that replay them on stable
//! (`runtime/tests/fuzz.rs`, `converter/tests/fuzz.rs`, which include this file by path).

use std::path::{Path, PathBuf};

/// The files of `fuzz/<dir>/<target>`, sorted; none when the directory does not exist.
pub fn files(dir: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz").join(dir).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else { return vec![] };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}
