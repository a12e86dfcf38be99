//! Malformed ONNX and data files, as a careless user or a fuzzer makes them: each exits 1 with
//! one `error:` line naming the file (and the node or array), never a panic (exit 101) or a
//! signal.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::onnx::{attr_i, attr_ints, Onnx};
use common::{bench, scratch, write_npz, Array};

/// Exit code (None: killed by a signal), stdout, stderr.
fn mote(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mote")).args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `mote ARGS` must exit 1 with a single `error:` line containing every one of `needles`.
fn fails(args: &[&str], needles: &[&str]) -> String {
    let (code, _, stderr) = mote(args);
    assert_eq!(code, Some(1), "mote {args:?} exited {code:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "mote {args:?}: more than one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for n in needles {
        assert!(lines[0].contains(n), "mote {args:?}: {n:?} missing from {stderr}");
    }
    stderr
}

fn name(p: &Path) -> &str {
    p.file_name().unwrap().to_str().unwrap()
}

/// `x [1, 2, 8, 8] → Conv (node "conv") → y` with `attrs` replacing the conv's own.
fn conv_with(test: &str, attrs: Vec<tract_onnx::pb::AttributeProto>) -> PathBuf {
    let mut g = Onnx::new(3);
    g.input("x", &[1, 2, 8, 8]);
    let w = g.random("w", &[4, 2, 3, 3], -1.0, 1.0);
    g.node("Conv", &["x", &w], "conv", attrs);
    g.output("conv");
    g.write(test)
}

#[test]
fn conv_attributes_tract_trusts_are_checked_first() {
    let dir = scratch("robust-conv");
    let out = dir.join("out.mote");
    let k = || attr_ints("kernel_shape", &[3, 3]);
    let cases: Vec<(&str, Vec<_>, &str)> = vec![
        ("zero strides", vec![k(), attr_ints("strides", &[0, 0])], "strides"),
        ("negative stride", vec![k(), attr_ints("strides", &[1, -2])], "strides"),
        ("zero kernel", vec![attr_ints("kernel_shape", &[0, 3])], "kernel_shape"),
        ("zero dilation", vec![k(), attr_ints("dilations", &[0, 1])], "dilations"),
        ("zero group", vec![k(), attr_i("group", 0)], "group"),
        ("negative group", vec![k(), attr_i("group", -1)], "group"),
        ("negative pads", vec![k(), attr_ints("pads", &[-1, 0, 0, 0])], "pads"),
        ("huge pads", vec![k(), attr_ints("pads", &[1 << 40, 0, 0, 0])], "pads"),
        ("odd pads", vec![k(), attr_ints("pads", &[1, 1, 1])], "pads"),
        ("mismatched ranks", vec![k(), attr_ints("strides", &[1, 1, 1])], "strides"),
    ];
    for (what, attrs, attr) in cases {
        let onnx = conv_with(what, attrs);
        fails(&["convert", s(&onnx), "--float", "-o", s(&out)], &[name(&onnx), "conv", attr]);
        assert!(!out.exists(), "{what}");
    }
}

#[test]
fn a_transpose_that_is_not_a_permutation_is_refused() {
    let dir = scratch("robust-perm");
    for perm in [&[0i64, 1, 1][..], &[0, 1, 3], &[0, -1, 2]] {
        let mut g = Onnx::new(1);
        g.input("x", &[1, 4, 5]);
        g.node("Transpose", &["x"], "t", vec![attr_ints("perm", perm)]);
        g.output("t");
        let onnx = g.write("perm");
        fails(&["convert", s(&onnx), "--float", "-o", s(&dir.join("o.mote"))], &[name(&onnx), "node t", "perm"]);
    }
}

#[test]
fn batch_norm_on_a_rank_1_input_is_an_error_not_a_crash() {
    let dir = scratch("robust-bn");
    let mut g = Onnx::new(2);
    g.input("x", &[4]);
    g.batch_norm("x", "bn", 4, None);
    g.output("bn");
    let onnx = g.write("bn-rank1");
    fails(&["convert", s(&onnx), "--float", "-o", s(&dir.join("o.mote"))], &[name(&onnx)]);
}

/// One byte of the KWS model changed (found by mutating it at random) makes tract's shape
/// inference panic with "capacity overflow": caught, reported as one line naming the file.
#[test]
fn a_panic_inside_tract_is_an_error_naming_the_file() {
    let dir = scratch("robust-panic");
    let mut bytes = std::fs::read(bench("models/kws_dscnn.onnx")).unwrap();
    assert_eq!(bytes[6677], 109, "the benchmark model changed");
    bytes[6677] = 11;
    let onnx = dir.join("kws-byte-6677.onnx");
    std::fs::write(&onnx, &bytes).unwrap();
    fails(&["convert", s(&onnx), "--float", "-o", s(&dir.join("o.mote"))], &[name(&onnx), "tract panicked", "capacity overflow"]);
}

#[test]
fn mutated_bytes_of_a_real_model_never_crash_the_converter() {
    let dir = scratch("robust-mutated");
    let kws = std::fs::read(bench("models/kws_dscnn.onnx")).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let out = dir.join("o.mote");
    for case in 0..24 {
        let mut bytes = kws.clone();
        for _ in 0..1 + case % 4 {
            let at = (next() % bytes.len() as u64) as usize;
            bytes[at] = next() as u8;
        }
        let onnx = dir.join(format!("mutated{case}.onnx"));
        std::fs::write(&onnx, &bytes).unwrap();
        let (code, _, stderr) = mote(&["convert", s(&onnx), "--float", "-o", s(&out)]);
        match code {
            Some(0) => {}
            Some(1) => {
                assert_eq!(stderr.lines().count(), 1, "case {case}: {stderr}");
                assert!(stderr.starts_with("error: ") && stderr.contains(name(&onnx)), "case {case}: {stderr}");
            }
            other => panic!("case {case}: exit {other:?}: {stderr}"),
        }
    }
}

/// `x [1, 4] → Relu → y` as an ONNX file, and a data set for it.
fn relu_model(test: &str) -> PathBuf {
    let mut g = Onnx::new(1);
    g.input("x", &[1, 4]);
    g.node("Relu", &["x"], "y", vec![]);
    g.output("y");
    g.write(test)
}

#[test]
fn fortran_order_arrays_are_read_in_their_own_order() {
    let dir = scratch("robust-fortran");
    let onnx = relu_model("fortran");
    let model = dir.join("relu.mote");
    let (code, _, stderr) = mote(&["convert", s(&onnx), "--float", "-o", s(&model)]);
    assert_eq!(code, Some(0), "{stderr}");
    // Rows [i, i+1, i+2, i+3] stored column-major: the file's flat order is column by column.
    let rows = 3usize;
    let c: Vec<f32> = (0..rows * 4).map(|i| (i / 4 * 10 + i % 4) as f32 - 7.0).collect();
    let f: Vec<f32> = (0..rows * 4).map(|j| c[(j % rows) * 4 + j / rows]).collect();
    let c_file = dir.join("c.npz");
    write_npz(&c_file, &[("x", Array::F32(&[rows as u64, 4], &c))]);
    let f_file = dir.join("f.npz");
    common::write_npz_fortran(&f_file, "x", &[rows as u64, 4], &f);
    let read = |p: &Path| mote_converter::data::read_f32(p, "x").unwrap();
    assert_eq!(read(&f_file).data, c, "the Fortran-order file read back in C order");
    assert_eq!(read(&f_file).shape, vec![3, 4]);
    let eval = |p: &Path| {
        let (code, stdout, stderr) = mote(&["eval", s(&model), "--reference", s(&onnx), "--data", s(p), "--json"]);
        assert_eq!(code, Some(0), "{stderr}");
        stdout
    };
    assert_eq!(eval(&f_file), eval(&c_file));
}

#[test]
fn a_scalar_input_model_is_refused_with_calibration_and_eval() {
    let dir = scratch("robust-scalar");
    let mut g = Onnx::new(1);
    g.input("x", &[]);
    g.node("Relu", &["x"], "y", vec![]);
    g.output("y");
    let onnx = g.write("scalar");
    let data = dir.join("d.npz");
    write_npz(&data, &[("x", Array::F32(&[3], &[1.0, -2.0, 3.0]))]);
    let out = dir.join("o.mote");
    fails(&["convert", s(&onnx), "--calib", s(&data), "-o", s(&out)], &["d.npz", "\"x\"", "scalar"]);
    let float = dir.join("f.mote");
    let (code, _, stderr) = mote(&["convert", s(&onnx), "--float", "-o", s(&float)]);
    assert_eq!(code, Some(0), "{stderr}");
    fails(&["eval", s(&float), "--reference", s(&onnx), "--data", s(&data)], &["d.npz", "scalar"]);
}

#[test]
fn a_labels_array_of_the_wrong_length_is_refused() {
    let dir = scratch("robust-labels");
    let onnx = relu_model("labels");
    let model = dir.join("relu.mote");
    assert_eq!(mote(&["convert", s(&onnx), "--float", "-o", s(&model)]).0, Some(0));
    let x: Vec<f32> = (0..12).map(|i| i as f32).collect();
    for (file, labels) in [("short.npz", &[0i64, 1][..]), ("long.npz", &[0, 1, 2, 3][..])] {
        let data = dir.join(file);
        write_npz(&data, &[("x", Array::F32(&[3, 4], &x)), ("y", Array::I64(&[labels.len() as u64], labels))]);
        fails(&["eval", s(&model), "--reference", s(&onnx), "--data", s(&data), "--labels", "y"], &[file, "\"y\"", "3 rows"]);
    }
    let data = dir.join("ok.npz");
    write_npz(&data, &[("x", Array::F32(&[3, 4], &x)), ("y", Array::I64(&[3], &[0, 1, -1]))]);
    let (code, _, stderr) = mote(&["eval", s(&model), "--reference", s(&onnx), "--data", s(&data), "--labels", "y"]);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_tensor_too_large_to_allocate_is_an_error_naming_the_file() {
    let dir = scratch("robust-huge");
    for dims in [vec![1i64 << 62, 4], vec![-3, 4], vec![1 << 31, 1 << 31, 1 << 31]] {
        let mut g = Onnx::new(1);
        g.input("x", &[1, 4]);
        g.initializers.push(tract_onnx::pb::TensorProto {
            name: "w".into(),
            dims,
            data_type: tract_onnx::pb::tensor_proto::DataType::Float as i32,
            ..Default::default()
        });
        g.node("Add", &["x", "w"], "y", vec![]);
        g.output("y");
        let onnx = g.write("huge");
        fails(&["convert", s(&onnx), "--float", "-o", s(&dir.join("o.mote"))], &[name(&onnx)]);
    }
}
