//! The fuzz targets' committed corpora replayed on stable, through the targets' own harness
//! (`fuzz/src/runtime.rs`): the seeds (`fuzz/seeds/`) and every crash or interesting input the
//! fuzzer found (`fuzz/regressions/`). A crash here is a panic of this test.

#[allow(dead_code)]
#[path = "../../fuzz/src/runtime.rs"]
mod harness;

#[path = "../../fuzz/src/corpus.rs"]
mod corpus;

use std::collections::BTreeSet;
use corpus::files;

use harness::Outcome;
use mote_runtime::format::writer::AlignedBytes;
use mote_runtime::format::Layout;
use mote_runtime::ops::OpCode;
use mote_runtime::{DType, Model};

/// Every model seed loads and runs within the target's caps, so that the fuzzer's mutations of
/// it reach the kernels; together they hold every op, int8 and f32, and both packed layouts.
#[test]
fn model_seeds_run_and_cover_every_op_in_both_dtypes() {
    let seeds = files("seeds", "model");
    assert!(seeds.len() >= 10, "fuzz/seeds/model holds {} files", seeds.len());
    let mut seen = BTreeSet::new();
    let mut layouts = BTreeSet::new();
    for path in &seeds {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(harness::model(&bytes), Outcome::Ran, "{}", path.display());
        let aligned = AlignedBytes::new(&bytes);
        let model = Model::from_bytes(&aligned).unwrap();
        for op in model.ops() {
            let dtype = |id| model.tensor(id).unwrap().dtype;
            seen.insert(format!("{} {:?}", op.kind.code().name(), dtype(op.inputs[0])));
            for &i in &op.inputs {
                layouts.insert(format!("{:?}", model.layout(i)));
            }
        }
    }
    let codes = [
        OpCode::Conv2d,
        OpCode::FullyConnected,
        OpCode::Binary,
        OpCode::Pool2d,
        OpCode::GlobalAvgPool,
        OpCode::Unary,
        OpCode::Softmax,
        OpCode::Concat,
        OpCode::Slice,
        OpCode::Reshape,
        OpCode::Transpose,
        OpCode::Pad,
        OpCode::Resize,
    ];
    let mut want: BTreeSet<String> = codes.iter().flat_map(|c| [DType::I8, DType::F32].map(|d| format!("{} {d:?}", c.name()))).collect();
    want.insert(format!("{} {:?}", OpCode::Quantize.name(), DType::F32));
    want.insert(format!("{} {:?}", OpCode::Dequantize.name(), DType::I8));
    let missing: Vec<&String> = want.difference(&seen).collect();
    assert!(missing.is_empty(), "no seed has {missing:?}");
    for layout in [Layout::FcQ15, Layout::FcBiasFolded] {
        assert!(layouts.contains(&format!("{layout:?}")), "no seed has the {layout:?} layout");
    }
}

/// Inputs the `model` target found (crashes fixed since, and inputs worth keeping): each is
/// handled without a panic, and a name that says how far it gets (`-runs`, `-rejected`) holds.
#[test]
fn model_regressions_replay() {
    let all = files("regressions", "model");
    assert!(!all.is_empty());
    for path in all {
        let outcome = harness::model(&std::fs::read(&path).unwrap());
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        eprintln!("{name}: {outcome:?}");
        if name.contains("-runs") {
            assert_eq!(outcome, Outcome::Ran, "{name}");
        } else if name.contains("-rejected") {
            assert_eq!(outcome, Outcome::Rejected, "{name}");
        }
    }
}

/// The signed seeds verify against the test key; every regression input is handled without a
/// panic.
#[test]
fn signature_seeds_verify_and_regressions_replay() {
    let seeds = files("seeds", "signature");
    assert!(!seeds.is_empty());
    for path in &seeds {
        assert!(harness::signature(&std::fs::read(path).unwrap()), "{} does not verify", path.display());
    }
    for path in files("regressions", "signature") {
        let accepted = harness::signature(&std::fs::read(&path).unwrap());
        eprintln!("{}: accepted {accepted}", path.display());
    }
}
