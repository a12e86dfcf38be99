//! Sets `cfg(mote_arm_dsp)` when the target is an Arm core with the DSP extension, which selects
//! the kernels in `src/kernels/arm/`, and `cfg(mote_arm_mve)` when it also has Helium (the
//! M-profile Vector Extension, integer), which selects those in `src/kernels/arm/mve/`.
//!
//! Stable Rust exposes no `cfg(target_feature = "dsp")` for Arm (its Arm target features are
//! unstable, and unstable features are left out of `cfg`), so this script asks the compiler
//! itself: it assembles the DSP instructions the kernels use, for the target being built and with
//! the flags cargo passes (`-C target-cpu=cortex-m33`, say). ARMv7E-M (`thumbv7em-*`: Cortex-M4,
//! M7) always has the extension; ARMv8-M Mainline (`thumbv8m.main-*`) has it only when the
//! target CPU or `-C target-feature=+dsp` says so; ARMv6-M never. Helium is optional in
//! ARMv8.1-M (`-C target-cpu=cortex-m55` has it); the second probe assembles the MVE
//! instructions and the tail-predicated loop the Helium kernels use.
use std::env;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const PROBE: &str = r#"
#![no_std]
pub fn probe(a: u32, b: u32, c: i32) -> i32 {
    let r: i32;
    unsafe {
        core::arch::asm!(
            "sxtb16 {a}, {a}, ror #8",
            "smlad {r}, {a}, {b}, {c}",
            "smmlar {r}, {r}, {b}, {c}",
            "qadd {r}, {r}, {c}",
            "ssat {r}, #8, {r}, asr #1",
            "ssub8 {a}, {r}, {b}",
            "sel {r}, {r}, {b}",
            a = inout(reg) a => _, b = in(reg) b, c = in(reg) c, r = out(reg) r,
        );
    }
    r
}
"#;

const PROBE_MVE: &str = r#"
#![no_std]
pub fn probe(a: u32, b: u32) -> u32 {
    let r: u32;
    unsafe {
        core::arch::asm!(
            "wlstp.8 lr, r1, 2f",
            "1:",
            "vldrb.u8 q0, [r0], #16",
            "vmladava.s8 r2, q0, q0",
            "letp lr, 1b",
            "2:",
            "vqrdmulh.s32 q0, q0, r1",
            "vrshl.s32 q0, q0, q0",
            "vstrb.32 q0, [r0, q0]",
            inout("r0") a => _, in("r1") b, inout("r2") 0u32 => r, out("lr") _,
        );
    }
    r
}
"#;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(mote_arm_dsp)");
    println!("cargo::rustc-check-cfg=cfg(mote_armv8m)");
    println!("cargo::rustc-check-cfg=cfg(mote_arm_mve)");
    println!("cargo::rerun-if-changed=build.rs");
    if env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("arm") {
        return;
    }
    if assembles("mote_dsp_probe", PROBE) {
        println!("cargo::rustc-cfg=mote_arm_dsp");
        // The kernels' `global_asm!` then names the core (see `src/kernels/arm/mod.rs`).
        if env::var("TARGET").is_ok_and(|t| t.starts_with("thumbv8m")) {
            println!("cargo::rustc-cfg=mote_armv8m");
        }
        if assembles("mote_mve_probe", PROBE_MVE) {
            println!("cargo::rustc-cfg=mote_arm_mve");
        }
    }
}

/// Whether `source` compiles for the target being built, with cargo's flags.
fn assembles(name: &str, source: &str) -> bool {
    let (Ok(rustc), Ok(target), Ok(out)) = (env::var("RUSTC"), env::var("TARGET"), env::var("OUT_DIR")) else {
        return false;
    };
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let mut cmd = Command::new(rustc);
    cmd.args(["--edition", "2021", "--crate-type", "lib", "--crate-name", name, "--emit", "obj", "--cap-lints", "allow", "--target", &target])
        .arg("-o")
        .arg(PathBuf::from(out).join(format!("{name}.o")))
        .args(flags.split('\x1f').filter(|f| !f.is_empty()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let Ok(mut child) = cmd.spawn() else { return false };
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        if stdin.write_all(source.as_bytes()).is_err() {
            return false;
        }
    }
    child.wait().is_ok_and(|s| s.success())
}
