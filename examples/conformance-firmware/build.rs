//! Puts the target's `memory.x` where the linker finds it: `memory-arm.x` for the mps2 boards,
//! `memory-riscv32.x` for QEMU's RISC-V virt machine, and for `thumbv8m.main` (the Cortex-M55 on
//! mps3-an547) that board's 512 KB ITCM and DTCM. (A `memory.x` beside `Cargo.toml` would shadow
//! this one: the linker looks there first.)
use std::{env, fs, path::PathBuf};

const MPS3_AN547: &str = "/* mps3-an547: ITCM and DTCM */
MEMORY
{
  FLASH : ORIGIN = 0x00000000, LENGTH = 512K
  RAM   : ORIGIN = 0x20000000, LENGTH = 512K
}
";

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let target = env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv8m") {
        fs::write(out.join("memory.x"), MPS3_AN547).unwrap();
    } else {
        let riscv = env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "riscv32");
        fs::copy(if riscv { "memory-riscv32.x" } else { "memory-arm.x" }, out.join("memory.x")).unwrap();
    }
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory-arm.x");
    println!("cargo:rerun-if-changed=memory-riscv32.x");
    println!("cargo:rerun-if-changed=build.rs");
}
