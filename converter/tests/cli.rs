//! The `mote` command line on good and bad input: every failure exits non-zero with a message
//! naming the file, tensor or node at fault, and leaves no output file behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::onnx::Onnx;
use common::{bench, scratch, write_npz, Array};

fn mote(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mote")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Runs `mote convert` expecting failure; returns stderr after checking no file was written.
fn convert_fails(dir: &Path, args: &[&str]) -> String {
    let out = dir.join("out.mote");
    let mut all = vec!["convert"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", out.to_str().unwrap()]);
    let (ok, _, stderr) = mote(&all);
    assert!(!ok, "mote {all:?} succeeded");
    assert!(!out.exists() && !out.with_extension("mote.tmp").exists(), "a failed conversion left a file behind");
    stderr
}

fn kws() -> String {
    bench("models/kws_dscnn.onnx").to_string_lossy().into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn missing_and_corrupt_onnx_files_are_named() {
    let dir = scratch("onnx");
    let calib = bench("data/kws_mfcc.npz");
    let missing = dir.join("no-such-model.onnx");
    let err = convert_fails(&dir, &[s(&missing), "--calib", s(&calib)]);
    assert!(err.contains("no-such-model.onnx"), "{err}");

    let corrupt = dir.join("corrupt.onnx");
    std::fs::write(&corrupt, b"\x08\x07this is not a protobuf model \xff\xff\xff").unwrap();
    let err = convert_fails(&dir, &[s(&corrupt), "--float"]);
    assert!(err.contains("corrupt.onnx") && err.contains("not a valid ONNX model"), "{err}");
}

/// A graph `x [1, 4] → Relu → Tanh (node "squash") → Tanh (node "squash_again")`, which Mote
/// does not support.
fn unsupported_model(test: &str) -> PathBuf {
    let mut g = Onnx::new(1);
    g.input("x", &[1, 4]);
    g.node("Relu", &["x"], "first", vec![]);
    g.node("Tanh", &["first"], "squash", vec![]);
    g.node("Tanh", &["squash"], "squash_again", vec![]);
    g.output("squash_again");
    g.write(test)
}

#[test]
fn unsupported_ops_are_listed_with_their_nodes_before_any_work() {
    let dir = scratch("unsupported");
    let onnx = unsupported_model("tanh");
    let err = convert_fails(&dir, &[s(&onnx), "--float"]);
    assert!(err.contains(onnx.file_name().unwrap().to_str().unwrap()) && err.contains("Tanh: squash, squash_again"), "{err}");
    assert!(!err.contains("Relu"), "a supported op was listed: {err}");
}

#[test]
fn calibration_data_of_the_wrong_shape_or_dtype_is_refused() {
    let dir = scratch("shape");
    let err = convert_fails(&dir, &[&kws(), "--calib", s(&bench("data/ic_cifar10.npz"))]);
    assert!(err.contains("ic_cifar10.npz") && err.contains("[1017, 32, 32, 3]") && err.contains("input_1"), "{err}");
    let err = convert_fails(&dir, &[&kws(), "--calib", s(&bench("data/kws_mfcc.npz")), "--calib-key", "names"]);
    assert!(err.contains("kws_mfcc.npz") && err.contains("\"names\"") && err.contains("dtype"), "{err}");
    let err = convert_fails(&dir, &[&kws(), "--calib", s(&bench("data/kws_mfcc.npz")), "--calib-key", "nothing"]);
    assert!(err.contains("no array named \"nothing\""), "{err}");
}

#[test]
fn nan_empty_and_out_of_range_calibration_sets_are_refused() {
    let dir = scratch("bad-data");
    let shape = [3u64, 49, 10, 1];
    let mut x = vec![0.5f32; 3 * 490];
    let ok_idx = [0i64, 2];
    let npz = |name: &str, x: &[f32], idx: &[i64]| -> PathBuf {
        let p = dir.join(name);
        write_npz(&p, &[("x", Array::F32(&shape, x)), ("idx", Array::I64(&[idx.len() as u64], idx))]);
        p
    };
    let good = npz("good.npz", &x, &ok_idx);
    x[700] = f32::NAN;
    let nan = npz("nan.npz", &x, &ok_idx);
    let err = convert_fails(&dir, &[&kws(), "--calib", s(&nan)]);
    assert!(err.contains("nan.npz") && err.contains("NaN") && err.contains("700"), "{err}");
    let empty = npz("empty.npz", &x, &[]);
    let err = convert_fails(&dir, &[&kws(), "--calib", s(&empty), "--calib-index", "idx"]);
    assert!(err.contains("empty.npz") && err.contains("empty"), "{err}");
    let err = convert_fails(&dir, &[&kws(), "--calib", s(&npz("oob.npz", &vec![0.5; 3 * 490], &[1, 3])), "--calib-index", "idx"]);
    assert!(err.contains("oob.npz") && err.contains("row 3"), "{err}");
    let err = convert_fails(&dir, &[&kws(), "--calib", s(&good), "--keep-float", "no_such_node"]);
    assert!(err.contains("no_such_node"), "{err}");

    // The same file without the NaN converts.
    let out = dir.join("good.mote");
    let (ok, stdout, stderr) = mote(&["convert", &kws(), "--calib", s(&good), "--calib-index", "idx", "-o", s(&out)]);
    assert!(ok && out.exists(), "{stderr}");
    assert!(stdout.contains("int8 (calibrated on 2 rows)"), "{stdout}");
}

#[test]
fn convert_eval_and_inspect_report_json() {
    let dir = scratch("json");
    let out = dir.join("kws.mote");
    let data = bench("data/kws_mfcc.npz");
    let (ok, _, stderr) = mote(&["convert", &kws(), "--calib", s(&data), "--method", "mse", "-o", s(&out)]);
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = mote(&["eval", s(&out), "--reference", &kws(), "--data", s(&data), "--labels", "y", "--json"]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for key in ["accuracy_reference", "accuracy", "top1_agreement", "snr_db", "file_bytes", "arena_bytes", "samples", "layers"] {
        assert!(v.get(key).is_some(), "eval --json lacks {key}: {stdout}");
    }
    assert_eq!(v["samples"], 34);
    assert_eq!(v["file_bytes"], std::fs::metadata(&out).unwrap().len());
    assert_eq!(v["accuracy_reference"], 0.8, "4 of the 5 labelled clips (MANIFEST)");
    let (ok, stdout, _) = mote(&["inspect", s(&out), "--json"]);
    assert!(ok);
    let i: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(i["arena_bytes"], v["arena_bytes"]);
    assert!(i["ops"].as_array().unwrap().iter().any(|op| op["dtype"] == "I8"), "{stdout}");

    let (ok, _, stderr) = mote(&["eval", s(&out), "--reference", &kws(), "--data", s(&bench("data/ad_toycar.npz"))]);
    assert!(!ok && stderr.contains("ad_toycar.npz"), "{stderr}");
    std::fs::write(dir.join("garbage.mote"), b"MOTE but not really").unwrap();
    let (ok, _, stderr) = mote(&["inspect", s(&dir.join("garbage.mote"))]);
    assert!(!ok && stderr.contains("garbage.mote"), "{stderr}");
}

/// `--target` takes a board or a core; anything else fails naming both lists and writes nothing.
/// For the M4 the AD autoencoder's layers are packed, and `mote inspect` says so per op and
/// lists the feature that runs them.
#[test]
fn convert_for_a_target_and_inspect_the_layouts() {
    let dir = scratch("target");
    let calib = bench("data/ad_toycar.npz");
    let ad = bench("models/ad_fc_autoencoder.onnx");
    let err = convert_fails(&dir, &[s(&ad), "--calib", s(&calib), "--target", "cortex-m9"]);
    assert!(err.contains("unknown target \"cortex-m9\"") && err.contains("mps2-an386") && err.contains("cortex-m55") && err.contains("rv32imac"), "{err}");
    let out = dir.join("ad-m4.mote");
    let (ok, _, stderr) = mote(&["convert", s(&ad), "--calib", s(&calib), "--target", "cortex-m4", "-o", s(&out)]);
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = mote(&["inspect", s(&out)]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.lines().filter(|l| l.contains("FullyConnected") && l.contains(" fc-q15 ")).count(), 10, "{stdout}");
    assert!(stdout.contains("runtime features: fully_connected, fully_connected_q15"), "{stdout}");
}
