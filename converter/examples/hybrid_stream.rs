//! Classifies a stream with the hybrid client: each sample runs on the device model (a `.mote`
//! file through mote-runtime), and the unsure ones go to an OIP v2 endpoint (`mote serve`,
//! KServe, Triton, MLServer). Escalations that find the cloud down wait in an on-disk queue and
//! are replayed when it is back. The "stream" is the rows of an `.npz` file, in order.
//!
//! Usage: cargo run --release -p mote-converter --example hybrid_stream -- \
//!            DEVICE.mote DATA.npz http://127.0.0.1:8080 CLOUD_MODEL [THRESHOLD] [QUEUE_DIR]
//! e.g. with `mote serve ic_resnet8.onnx` running:
//!        hybrid_stream ic.mote ../shared/bench/data/ic_cifar10.npz http://127.0.0.1:8080 ic_resnet8 0.6

use std::time::Duration;

use anyhow::Context;
use mote_cloud::protocol::Tensor;
use mote_cloud::{ClientConfig, DiskQueue, Hybrid, HybridConfig, Measure, OipClient, Policy, QueueLimits, Reason, Scores};
use mote_converter::data::{model_inputs, Dataset};
use mote_runtime::format::writer::AlignedBytes;
use mote_runtime::{Interpreter, Model};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(args.len() >= 4, "usage: hybrid_stream DEVICE.mote DATA.npz URL CLOUD_MODEL [THRESHOLD] [QUEUE_DIR]");
    let bytes = std::fs::read(&args[0]).with_context(|| format!("reading {}", args[0]))?;
    let aligned = AlignedBytes::new(&bytes);
    let model = Model::from_bytes(&aligned)?;
    let inputs = model_inputs(&model);
    anyhow::ensure!(inputs.len() == 1, "this example streams single-input models");
    let set = Dataset::load(args[1].as_ref(), &inputs, None, None)?;
    let threshold: f32 = args.get(4).map(|t| t.parse()).transpose()?.unwrap_or(0.6);
    let policy = Policy { measure: Measure::MaxProb, scores: Scores::Probabilities, threshold };
    let mut config = HybridConfig::new(policy);
    config.deadline = Duration::from_millis(300);
    let mut hybrid = Hybrid::new(OipClient::new(ClientConfig::new(&args[2], &args[3])), config);
    if let Some(dir) = args.get(5) {
        hybrid = hybrid.with_queue(DiskQueue::open(dir, QueueLimits { max_entries: 10_000, max_bytes: 256 << 20 })?);
    }
    let out_len = model.outputs().first().and_then(|&id| model.tensor(id)).and_then(|t| t.shape.numel()).unwrap_or(0) as usize;
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    let (name, shape) = inputs[0].clone();
    for row in 0..set.len() {
        let x = Tensor::new(name.clone(), shape.clone(), set.row(0, row).to_vec())?;
        let answer = hybrid.classify(&x, |x| {
            let mut out = vec![0f32; out_len];
            let run = Interpreter::new(&model, &mut arena).and_then(|mut it| {
                it.set_input_f32(0, &x.data)?;
                it.invoke()?;
                it.output_to_f32(0, &mut out)
            });
            // A device run cannot fail on a model that loaded; if it did, the zeros escalate.
            if let Err(e) = run {
                eprintln!("row {row}: device run failed: {e}");
            }
            out
        });
        let why = match &answer.reason {
            Reason::Confident => "device".to_string(),
            Reason::Escalated => "cloud".to_string(),
            Reason::CloudUnavailable { error, queued } => format!("device (cloud unavailable: {error}{})", if *queued { ", queued" } else { "" }),
        };
        println!("{row:>5}  class {:>2}  confidence {:.3}  {why}", answer.class(), answer.confidence);
    }
    if hybrid.queue().is_some_and(|q| !q.is_empty()) {
        let replayed = hybrid.replay().map(|r| r.len()).unwrap_or(0);
        println!("replayed {replayed} queued escalations");
    }
    let s = hybrid.stats();
    println!(
        "{} inputs: {} escalated ({:.1} %), {} cloud answers, {} cloud failures, {} HTTP requests, {} cache hits, {} queued, {} replayed",
        s.inputs,
        s.escalations,
        s.escalations as f64 * 100.0 / s.inputs.max(1) as f64,
        s.cloud_answers,
        s.cloud_failures,
        s.requests,
        s.cache_hits,
        s.queued,
        s.replayed
    );
    Ok(())
}
