//! Picks the board from the one enabled board feature, checks it matches `--target`, and renders
//! its `memory.x` and its constants from `targets/boards/<board>.toml`.
use std::{env, fs, path::PathBuf};

use mote_targets::{boards_dir, load_all, Io};

fn feature_var(board: &str) -> String {
    format!("CARGO_FEATURE_{}", board.to_uppercase().replace('-', "_"))
}

fn main() {
    let dir = boards_dir();
    let boards = load_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let chosen: Vec<_> = boards.iter().filter(|t| env::var_os(feature_var(&t.name)).is_some()).collect();
    let names: Vec<&str> = boards.iter().filter(|t| t.firmware).map(|t| t.name.as_str()).collect();
    let board = match chosen.as_slice() {
        [one] => *one,
        [] => panic!("enable exactly one board feature, e.g. `--features mps2-an386`; boards: {}", names.join(", ")),
        many => panic!("enable exactly one board feature, not {}", many.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(" and ")),
    };
    if !board.firmware {
        panic!("board {} cannot run this firmware as it is: {}", board.name, board.note.as_deref().unwrap_or(""));
    }
    let target = env::var("TARGET").unwrap();
    if target != board.rustc_target {
        panic!("board {} is built with `--target {}`, not {target}", board.name, board.rustc_target);
    }

    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(out.join("memory.x"), board.memory_x()).unwrap();
    let mut consts = format!("/// The board this firmware was built for.\npub const BOARD: &str = {:?};\n", board.name);
    println!("cargo::rustc-check-cfg=cfg(mote_io, values(\"semihosting\", \"uart16550\"))");
    match board.qemu.as_ref().map(|q| q.io) {
        Some(Io::Uart16550 { uart, finisher }) => {
            println!("cargo::rustc-cfg=mote_io=\"uart16550\"");
            consts += &format!("pub const UART: usize = {uart:#x};\npub const FINISHER: usize = {finisher:#x};\n");
        }
        // Real boards print and exit through the probe's semihosting too (`probe-rs run`).
        Some(Io::Semihosting) | None => println!("cargo::rustc-cfg=mote_io=\"semihosting\""),
    }
    fs::write(out.join("board.rs"), consts).unwrap();

    println!("cargo::rustc-link-search={}", out.display());
    println!("cargo::rerun-if-changed={}", dir.join(format!("{}.toml", board.name)).display());
    println!("cargo::rerun-if-changed={}", dir.display());
    println!("cargo::rerun-if-changed=build.rs");
}
