//! The Arm DSP kernels (`mote_runtime::kernels::arm`) and the Helium kernels (`arm::mve`) against
//! the reference kernels, on the device: `examples/kernel-conformance` runs thousands of generated
//! convolution and fully connected cases through both on a Cortex-M4 (`mps2-an386`), a Cortex-M33
//! (`mps2-an505`) and a Cortex-M55 (`mps3-an547`) under QEMU and compares every output byte. `MOTE_CONFORMANCE_SEED=<n>` at build time draws
//! other cases.

use std::process::Command;

use mote_hil::{firmware, repo_root};

/// Builds the firmware for `board`, runs it, and returns its report.
fn run(board: &str) -> String {
    let target = mote_targets::find(&mote_targets::boards_dir(), board).unwrap_or_else(|e| panic!("{e}"));
    let qemu = target.qemu.as_ref().expect("a QEMU board");
    let dir = repo_root().join("examples/kernel-conformance");
    let (mut cmd, target_dir) = firmware::cargo_build_for(&dir, &target);
    let build = cmd.output().unwrap();
    assert!(build.status.success(), "building the conformance firmware for {board} failed:\n{}", String::from_utf8_lossy(&build.stderr));
    let elf = target_dir.join(&target.rustc_target).join("release/mote-kernel-conformance");
    let out = Command::new(&qemu.system)
        .args(["-M", &qemu.machine, "-display", "none", "-monitor", "none", "-icount", "shift=0", "-serial", "null"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(&elf)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (apt-get install -y {})", qemu.system, qemu.package));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{board}: the DSP kernels disagree with the reference:\n{report}{}", String::from_utf8_lossy(&out.stderr));
    report
}

/// The number after `key` on the line starting with `line`.
fn count(report: &str, line: &str, key: &str) -> usize {
    let fields: Vec<&str> = report.lines().find(|l| l.starts_with(line)).unwrap_or_else(|| panic!("no `{line}` line in:\n{report}")).split_whitespace().collect();
    let at = fields.iter().position(|&f| f == key).unwrap_or_else(|| panic!("no `{key}` in:\n{report}"));
    fields[at + 1].parse().unwrap()
}

#[test]
fn dsp_kernels_match_the_reference_on_cortex_m4_and_m33() {
    for board in ["mps2-an386", "mps2-an505"] {
        let report = run(board);
        assert!(report.lines().any(|l| l == "ok"), "{board}: no `ok` line:\n{report}");
        // Every specialisation ran on many cases (a shape drifting to the reference path would
        // make the comparison hollow), and so did the reference path of the wrapper.
        for key in ["depthwise", "block", "im2col", "reference"] {
            assert!(count(&report, "conv ", key) >= 500, "{board}: too few `{key}` cases:\n{report}");
        }
        for key in ["fast", "reference"] {
            assert!(count(&report, "fc ", key) >= 100, "{board}: too few fully connected `{key}` cases:\n{report}");
        }
    }
}

#[test]
fn mve_kernels_match_the_reference_on_cortex_m55() {
    let board = "mps3-an547";
    let report = run(board);
    assert!(report.lines().any(|l| l == "ok"), "{board}: no `ok` line:\n{report}");
    // Regular and depthwise convolutions take the Helium kernels, and what they do not cover
    // the DSP wrapper's reference path: each on many cases.
    for key in ["mve", "mve_depthwise", "reference"] {
        assert!(count(&report, "conv ", key) >= 500, "{board}: too few `{key}` cases:\n{report}");
    }
    // The Helium fully connected kernel takes every valid requant: no case leaves it.
    assert!(count(&report, "fc ", "mve") >= 1000, "{board}: too few fully connected `mve` cases:\n{report}");
}
