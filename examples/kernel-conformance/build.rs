//! Picks the board from the one enabled board feature, checks it matches `--target`, and renders
//! its `memory.x` from `targets/boards/<board>.toml`.
use std::{env, fs, path::PathBuf};

use mote_targets::{boards_dir, load_all};

fn main() {
    let dir = boards_dir();
    let boards = load_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let feature = |name: &str| format!("CARGO_FEATURE_{}", name.to_uppercase().replace('-', "_"));
    let chosen: Vec<_> = boards.iter().filter(|t| env::var_os(feature(&t.name)).is_some()).collect();
    let [board] = chosen.as_slice() else {
        panic!("enable exactly one board feature: mps2-an386, mps2-an505 or mps3-an547");
    };
    let target = env::var("TARGET").unwrap();
    if target != board.rustc_target {
        panic!("board {} is built with `--target {}`, not {target}", board.name, board.rustc_target);
    }
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(out.join("memory.x"), board.memory_x()).unwrap();
    fs::write(out.join("board.rs"), format!("/// The board this firmware was built for.\npub const BOARD: &str = {:?};\n", board.name)).unwrap();
    println!("cargo::rustc-link-search={}", out.display());
    println!("cargo::rerun-if-changed={}", dir.join(format!("{}.toml", board.name)).display());
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=MOTE_CONFORMANCE_SEED");
}
