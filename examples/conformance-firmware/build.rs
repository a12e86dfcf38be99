//! Puts `memory.x` where the linker finds it: the mps2 boards' map (`mps2.x`), or for
//! `thumbv8m.main` (the Cortex-M55 on mps3-an547) that board's 512 KB ITCM and DTCM. (A
//! `memory.x` beside `Cargo.toml` would shadow this one: the linker looks there first.)
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
    if env::var("TARGET").is_ok_and(|t| t.starts_with("thumbv8m")) {
        fs::write(out.join("memory.x"), MPS3_AN547).unwrap();
    } else {
        fs::copy("mps2.x", out.join("memory.x")).unwrap();
    }
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=mps2.x");
    println!("cargo:rerun-if-changed=build.rs");
}
