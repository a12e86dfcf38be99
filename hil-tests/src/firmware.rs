//! Building `examples/hil-firmware` for a board.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use mote_targets::Target;

use crate::elf::{self, Image};
use crate::{io_err, repo_root, HilError, Result};

/// One board's firmware: its ELF (copied out of cargo's target folder) and its costs.
#[derive(Clone, Debug)]
pub struct Firmware {
    pub elf: PathBuf,
    pub image: Image,
}

/// Firmware already built by this process, by board. Builds for boards that share a rustc target
/// write the same file in cargo's target folder, so they are serialised and copied out at once.
static BUILT: Mutex<Option<HashMap<String, Firmware>>> = Mutex::new(None);

/// The firmware crate's folder.
pub fn crate_dir() -> PathBuf {
    repo_root().join("examples/hil-firmware")
}

/// `cargo build --release --locked` in a standalone firmware crate, without the outer
/// `cargo test`'s settings, which are for the host.
pub fn cargo_build(dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(dir)
        .args(["build", "--release", "--locked"])
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS");
    cmd
}

/// [`cargo_build`] of a standalone firmware crate for `board` (`--target`, its board feature), and
/// the target folder it builds in: the crate's own, or for a board that names its CPU
/// (`target_cpu`) a folder of that CPU's own inside it, with `-C target-cpu` added to the crate's
/// rustflags (cargo appends them, and rustc takes the last `target-cpu`). The own folder keeps
/// boards of one rustc target and different CPUs from rebuilding each other's artifacts.
pub fn cargo_build_for(dir: &Path, board: &Target) -> (Command, PathBuf) {
    cargo_build_with(dir, board, None)
}

/// [`cargo_build_for`] with one more cargo feature, built in `target/<feature>/` so that it does
/// not rebuild the plain firmware's artifacts.
fn cargo_build_with(dir: &Path, board: &Target, feature: Option<&str>) -> (Command, PathBuf) {
    let mut cmd = cargo_build(dir);
    cmd.args(["--target", &board.rustc_target, "--features", &board.name]);
    let mut target_dir = dir.join("target");
    if let Some(f) = feature {
        cmd.args(["--features", f]);
        target_dir = target_dir.join(f);
    }
    if let Some(cpu) = &board.target_cpu {
        cmd.arg("--config").arg(format!("target.{}.rustflags=[\"-C\", \"target-cpu={cpu}\"]", board.rustc_target));
        target_dir = target_dir.join(cpu);
    }
    cmd.arg("--target-dir").arg(&target_dir);
    (cmd, target_dir)
}

/// Builds (or finds up to date) the firmware for `board` and copies it to `out_dir/<board>.elf`.
pub fn build(board: &Target, out_dir: &Path) -> Result<Firmware> {
    build_variant(board, None, out_dir)
}

/// [`build`] with one more cargo feature of the firmware (`verify`), in a target folder of its
/// own, copied to `out_dir/<board>-<feature>.elf`.
pub fn build_variant(board: &Target, feature: Option<&str>, out_dir: &Path) -> Result<Firmware> {
    let name = match feature {
        Some(f) => format!("{}-{f}", board.name),
        None => board.name.clone(),
    };
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(fw) = built.get_or_insert_with(HashMap::new).get(&name) {
        return Ok(fw.clone());
    }
    let dir = crate_dir();
    let (mut cmd, target_dir) = cargo_build_with(&dir, board, feature);
    let output = cmd
        .output()
        .map_err(|e| HilError::Build { board: board.name.clone(), log: format!("cannot start cargo: {e}") })?;
    if !output.status.success() {
        let mut log = String::from_utf8_lossy(&output.stderr).into_owned();
        if log.contains("can't find crate for `core`") || log.contains("target may not be installed") {
            log += &format!("\nhint: rustup target add {}", board.rustc_target);
        }
        if log.contains("--locked") {
            log += &format!(
                "\nhint: a dependency changed; in examples/hil-firmware run `cargo build --release --target {} --features {}` once and commit its Cargo.lock",
                board.rustc_target, board.name
            );
        }
        return Err(HilError::Build { board: board.name.clone(), log });
    }
    let cargo_elf = target_dir.join(&board.rustc_target).join("release/mote-hil-firmware");
    std::fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
    let elf_path = out_dir.join(format!("{name}.elf"));
    std::fs::copy(&cargo_elf, &elf_path).map_err(io_err(&cargo_elf))?;
    let image = elf::inspect(&elf_path, &board.layout.ram)?;
    let fw = Firmware { elf: elf_path, image };
    built.get_or_insert_with(HashMap::new).insert(name, fw.clone());
    Ok(fw)
}
