//! The converter fuzz targets' committed corpora replayed on stable, through the targets' own
//! harness (`fuzz/src/converter.rs`): the seeds (`fuzz/seeds/`) and every crash or interesting
//! input the fuzzer found (`fuzz/regressions/`). A crash here is a panic (or an abort) of this
//! test.

#[allow(dead_code)]
#[path = "../../fuzz/src/converter.rs"]
mod harness;

#[path = "../../fuzz/src/corpus.rs"]
mod corpus;

use corpus::files;

/// Every ONNX seed converts, f32 and int8, so that the fuzzer's mutations of it start from a
/// model that reaches lowering and calibration: each is under the harness's work cap and is
/// calibrated on its two rows.
#[test]
fn onnx_seeds_convert_in_both_modes() {
    let seeds = files("seeds", "onnx");
    assert!(seeds.len() >= 4, "fuzz/seeds/onnx holds {} files", seeds.len());
    for path in seeds {
        let [float, int8] = harness::onnx(&std::fs::read(&path).unwrap());
        float.unwrap_or_else(|e| panic!("{}: --float: {e}", path.display()));
        let int8 = int8.unwrap_or_else(|e| panic!("{}: int8: {e}", path.display()));
        assert_eq!(int8.calibration_rows, 2, "{}: not calibrated", path.display());
    }
}

/// Inputs the `onnx` target found: each converts or fails with an error, never a crash; those
/// named `tract-panic-…` (mutants on which tract panics, which the converter catches) are errors
/// in both modes.
#[test]
fn onnx_regressions_replay() {
    let all = files("regressions", "onnx");
    assert!(!all.is_empty());
    for path in all {
        let [float, int8] = harness::onnx(&std::fs::read(&path).unwrap());
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("tract-panic-") {
            assert!(float.is_err() && int8.is_err(), "{name} converts");
        }
        eprintln!("{name}: --float {:?}, int8 {:?}", float.err().map(|e| e.to_string()), int8.err().map(|e| e.to_string()));
    }
}

/// Every `.npz` seed reads all its arrays.
#[test]
fn npz_seeds_read() {
    let seeds = files("seeds", "npz");
    assert!(seeds.len() >= 3, "fuzz/seeds/npz holds {} files", seeds.len());
    for path in seeds {
        let read = harness::npz(&std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(read >= 1, "{}: no array read", path.display());
    }
}

/// Inputs the `npz` target found: each reads or fails with an error, never a crash, and a name
/// that says which (`-reads`, `-bad`) holds.
#[test]
fn npz_regressions_replay() {
    let all = files("regressions", "npz");
    assert!(!all.is_empty());
    for path in all {
        let read = harness::npz(&std::fs::read(&path).unwrap());
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        eprintln!("{name}: {:?}", read.as_ref().map_err(|e| e.to_string()));
        if name.contains("-reads") {
            assert!(read.is_ok_and(|n| n >= 1), "{name} reads no array");
        } else if name.contains("-bad") {
            assert!(read.is_err(), "{name} opens");
        }
    }
}
