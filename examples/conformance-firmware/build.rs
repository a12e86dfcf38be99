//! Puts the target's `memory.x` where the linker finds it: `memory-arm.x` for the Arm boards,
//! `memory-riscv32.x` for QEMU's RISC-V virt machine.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let riscv = env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "riscv32");
    fs::copy(if riscv { "memory-riscv32.x" } else { "memory-arm.x" }, out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory-arm.x");
    println!("cargo:rerun-if-changed=memory-riscv32.x");
    println!("cargo:rerun-if-changed=build.rs");
}
