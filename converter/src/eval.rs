//! Evaluation: the float ONNX model (tract) and the `.mote` model (mote-runtime) on the same
//! real data, compared per output, and per layer against the f32 Mote model of the same ONNX
//! file (which itself matches tract to float rounding), so a user sees which layer hurts.

use std::collections::HashMap;
use std::path::Path;

use mote_runtime::format::writer::AlignedBytes;
use mote_runtime::{Interpreter, Model, OpHook, TensorId};
use serde::Serialize;

use crate::data::{par_rows, progress, real_values, Dataset};
use crate::error::{build_err, Result};
use crate::reference::Reference;

/// Error figures of one output over all samples.
#[derive(Clone, Debug, Serialize)]
pub struct OutputReport {
    pub name: String,
    /// Fraction of samples whose argmax (over the whole output) equals the reference's.
    pub top1_agreement: f64,
    pub max_abs_error: f64,
    pub mean_abs_error: f64,
    /// `10 log10(Σ ref² / Σ (mote - ref)²)` over all samples; infinite when equal.
    pub snr_db: f64,
}

/// How far one layer's output is from float, and how much of that it added.
#[derive(Clone, Debug, Serialize)]
pub struct LayerReport {
    pub index: usize,
    pub op: String,
    pub tensor: String,
    pub dtype: String,
    pub snr_db: f64,
    /// The drop from its worst input's SNR to its own: the error this layer adds.
    pub added_db: Option<f64>,
}

/// Reconstruction error (mean squared difference between input 0 and output 0), reported for
/// models whose first output has the first input's size, e.g. anomaly-detection autoencoders.
#[derive(Clone, Debug, Serialize)]
pub struct Reconstruction {
    pub score_reference: f64,
    pub score: f64,
    /// `|score - score_reference| / score_reference`, the mean score's relative drift.
    pub drift: f64,
    /// Mean over samples of each sample's relative drift.
    pub mean_sample_drift: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    pub model: String,
    pub samples: usize,
    /// Samples with a label (labels of -1 are unlabelled).
    pub labelled: usize,
    pub accuracy_reference: Option<f64>,
    pub accuracy: Option<f64>,
    /// Output 0's top-1 agreement.
    pub top1_agreement: f64,
    /// The lowest SNR of any output.
    pub snr_db: f64,
    pub file_bytes: usize,
    pub arena_bytes: usize,
    pub outputs: Vec<OutputReport>,
    pub reconstruction: Option<Reconstruction>,
    /// Samples the per-layer figures were computed on.
    pub layer_samples: usize,
    pub layers: Vec<LayerReport>,
}

fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &x)| if x > best.1 { (i, x) } else { best }).0
}

fn snr_db(signal: f64, noise: f64) -> f64 {
    if noise == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (signal / noise).log10()
    }
}

/// Every op output of one run, as f32 (dequantized when int8), by tensor name.
struct Capture<'m> {
    model: &'m Model<'m>,
    values: HashMap<TensorId, Vec<f32>>,
}

impl OpHook for Capture<'_> {
    fn output(&mut self, _index: usize, output: TensorId, bytes: &[u8]) {
        let Some(t) = self.model.tensor(output) else { return };
        let mut v = vec![];
        real_values(&t, bytes, &mut v);
        self.values.insert(output, v);
    }
}

#[derive(Default, Clone)]
struct OutAcc {
    agree: usize,
    max_abs: f64,
    sum_abs: f64,
    count: usize,
    signal: f64,
    noise: f64,
}

#[derive(Default)]
struct Acc {
    outputs: Vec<OutAcc>,
    correct: usize,
    correct_reference: usize,
    labelled: usize,
    score: f64,
    score_reference: f64,
    sample_drift: f64,
    /// Per int8-model tensor name: (Σ ref², Σ err²).
    layers: HashMap<String, (f64, f64)>,
}

/// Evaluates `mote_bytes` against `onnx` on `data` (with optional per-row labels of the
/// selected rows), computing per-layer figures on the first `layer_rows` samples.
pub fn evaluate(mote_bytes: &[u8], onnx: &Path, data: &Dataset, labels: Option<&[i64]>, layer_rows: usize) -> Result<EvalReport> {
    let aligned = AlignedBytes::new(mote_bytes);
    let model = Model::from_bytes(&aligned).map_err(build_err)?;
    let reference = Reference::load(onnx, &data.inputs)?;
    let layer_rows = layer_rows.min(data.len());
    // The f32 model of the same file is the per-layer reference; without per-layer rows it is
    // not needed.
    let float_bytes = if layer_rows > 0 { Some(crate::pipeline::convert_float(onnx, model.name(), &data.inputs)?) } else { None };
    let float_aligned = float_bytes.as_deref().map(AlignedBytes::new);
    let float_model = float_aligned.as_ref().map(|a| Model::from_bytes(a)).transpose().map_err(build_err)?;
    let float_ids: HashMap<&str, TensorId> = float_model
        .iter()
        .flat_map(|fm| (0..fm.tensor_count() as TensorId).filter_map(|id| fm.tensor(id).map(|t| (t.name, id))))
        .collect();
    let n_out = model.outputs().len();
    let out0_len = model.outputs().first().and_then(|&id| model.tensor(id)).and_then(|t| t.shape.numel()).map(|n| n as usize);
    let reconstructs = out0_len == Some(data.inputs[0].1.iter().product());

    let bar = progress(data.len(), "evaluating");
    let states = par_rows(
        data.len(),
        &bar,
        || Ok((Acc { outputs: vec![OutAcc::default(); n_out], ..Acc::default() }, vec![0u8; model.arena_bytes() + 16], vec![0u8; float_model.as_ref().map_or(0, |fm| fm.arena_bytes() + 16)])),
        |row, (acc, arena, float_arena)| {
            let inputs: Vec<&[f32]> = (0..data.inputs.len()).map(|i| data.row(i, row)).collect();
            let want = reference.run(&inputs)?;
            let mut it = Interpreter::new(&model, arena).map_err(build_err)?;
            for (i, x) in inputs.iter().enumerate() {
                it.set_input_f32(i, x).map_err(build_err)?;
            }
            let mut cap = Capture { model: &model, values: HashMap::new() };
            if row < layer_rows {
                it.invoke_with(&mut cap).map_err(build_err)?;
            } else {
                it.invoke().map_err(build_err)?;
            }
            let mut got = vec![];
            for (o, w) in want.iter().enumerate().take(n_out) {
                let mut v = vec![0f32; w.len()];
                it.output_to_f32(o, &mut v).map_err(build_err)?;
                got.push(v);
            }
            for (o, (g, w)) in got.iter().zip(&want).enumerate() {
                let a = &mut acc.outputs[o];
                a.agree += usize::from(argmax(g) == argmax(w));
                for (&g, &w) in g.iter().zip(w) {
                    let e = (g as f64 - w as f64).abs();
                    a.max_abs = a.max_abs.max(e);
                    a.sum_abs += e;
                    a.signal += w as f64 * w as f64;
                    a.noise += e * e;
                }
                a.count += g.len();
            }
            if let Some(labels) = labels {
                let label = labels[row];
                if label >= 0 {
                    acc.labelled += 1;
                    acc.correct += usize::from(argmax(&got[0]) as i64 == label);
                    acc.correct_reference += usize::from(argmax(&want[0]) as i64 == label);
                }
            }
            if reconstructs {
                let mse = |y: &[f32]| y.iter().zip(inputs[0]).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum::<f64>() / y.len() as f64;
                let (s, r) = (mse(&got[0]), mse(&want[0]));
                acc.score += s;
                acc.score_reference += r;
                acc.sample_drift += if r > 0.0 { (s - r).abs() / r } else { 0.0 };
            }
            if let Some(float_model) = float_model.as_ref().filter(|_| row < layer_rows) {
                let mut fit = Interpreter::new(float_model, float_arena).map_err(build_err)?;
                for (i, x) in inputs.iter().enumerate() {
                    fit.set_input_f32(i, x).map_err(build_err)?;
                }
                let mut fcap = Capture { model: float_model, values: HashMap::new() };
                fit.invoke_with(&mut fcap).map_err(build_err)?;
                for (id, v) in &cap.values {
                    let Some(t) = model.tensor(*id) else { continue };
                    let Some(fv) = float_ids.get(t.name).and_then(|fid| fcap.values.get(fid)) else { continue };
                    if fv.len() != v.len() {
                        continue;
                    }
                    let e = acc.layers.entry(t.name.to_string()).or_default();
                    for (&a, &b) in v.iter().zip(fv) {
                        e.0 += b as f64 * b as f64;
                        e.1 += (a as f64 - b as f64).powi(2);
                    }
                }
            }
            Ok(())
        },
    )?;
    bar.finish_and_clear();

    let mut acc = Acc { outputs: vec![OutAcc::default(); n_out], ..Acc::default() };
    for (s, _, _) in states {
        for (a, b) in acc.outputs.iter_mut().zip(&s.outputs) {
            a.agree += b.agree;
            a.max_abs = a.max_abs.max(b.max_abs);
            a.sum_abs += b.sum_abs;
            a.count += b.count;
            a.signal += b.signal;
            a.noise += b.noise;
        }
        acc.correct += s.correct;
        acc.correct_reference += s.correct_reference;
        acc.labelled += s.labelled;
        acc.score += s.score;
        acc.score_reference += s.score_reference;
        acc.sample_drift += s.sample_drift;
        for (k, (sig, noise)) in s.layers {
            let e = acc.layers.entry(k).or_default();
            e.0 += sig;
            e.1 += noise;
        }
    }
    let n = data.len() as f64;
    let outputs: Vec<OutputReport> = acc
        .outputs
        .iter()
        .enumerate()
        .map(|(o, a)| OutputReport {
            name: model.outputs().get(o).and_then(|&id| model.tensor(id)).map(|t| t.name.to_string()).unwrap_or_default(),
            top1_agreement: a.agree as f64 / n,
            max_abs_error: a.max_abs,
            mean_abs_error: a.sum_abs / a.count.max(1) as f64,
            snr_db: snr_db(a.signal, a.noise),
        })
        .collect();

    // Per layer, in execution order; ops whose output has no float counterpart (inserted
    // Quantize / Dequantize / transposes) pass their input's SNR on.
    let mut snr: HashMap<TensorId, f64> = HashMap::new();
    let mut layers = vec![];
    for (index, op) in model.ops().enumerate() {
        let Some(t) = model.tensor(op.output) else { continue };
        let input_snr = op.inputs.iter().filter_map(|i| snr.get(i)).copied().fold(f64::INFINITY, f64::min);
        match acc.layers.get(t.name) {
            Some(&(sig, noise)) => {
                let s = snr_db(sig, noise);
                snr.insert(op.output, s);
                let added = if input_snr.is_finite() { Some((input_snr - s).max(0.0)) } else { None };
                layers.push(LayerReport { index, op: op.kind.code().name().to_string(), tensor: t.name.to_string(), dtype: format!("{:?}", t.dtype), snr_db: s, added_db: added });
            }
            None => {
                if input_snr.is_finite() {
                    snr.insert(op.output, input_snr);
                }
            }
        }
    }
    let accuracy = |c: usize| if acc.labelled > 0 { Some(c as f64 / acc.labelled as f64) } else { None };
    Ok(EvalReport {
        model: model.name().to_string(),
        samples: data.len(),
        labelled: acc.labelled,
        accuracy_reference: accuracy(acc.correct_reference),
        accuracy: accuracy(acc.correct),
        top1_agreement: outputs.first().map(|o| o.top1_agreement).unwrap_or(0.0),
        snr_db: outputs.iter().map(|o| o.snr_db).fold(f64::INFINITY, f64::min),
        file_bytes: mote_bytes.len(),
        arena_bytes: model.arena_bytes(),
        reconstruction: reconstructs.then(|| {
            let (s, r) = (acc.score / n, acc.score_reference / n);
            Reconstruction { score_reference: r, score: s, drift: if r > 0.0 { (s - r).abs() / r } else { 0.0 }, mean_sample_drift: acc.sample_drift / n }
        }),
        outputs,
        layer_samples: layer_rows,
        layers,
    })
}

impl std::fmt::Display for EvalReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pct = |v: f64| format!("{:.2} %", v * 100.0);
        writeln!(f, "{}: {} samples, file {} B, arena {} B", self.model, self.samples, self.file_bytes, self.arena_bytes)?;
        if let (Some(r), Some(a)) = (self.accuracy_reference, self.accuracy) {
            writeln!(f, "  top-1 accuracy on {} labelled: float {}  mote {}", self.labelled, pct(r), pct(a))?;
        }
        for o in &self.outputs {
            writeln!(
                f,
                "  output {}: top-1 agreement {}, SNR {:.1} dB, max |err| {:.4}, mean |err| {:.5}",
                o.name,
                pct(o.top1_agreement),
                o.snr_db,
                o.max_abs_error,
                o.mean_abs_error
            )?;
        }
        if let Some(r) = &self.reconstruction {
            writeln!(f, "  reconstruction MSE: float {:.5}  mote {:.5}  drift {}", r.score_reference, r.score, pct(r.drift))?;
        }
        writeln!(f, "  per layer (first {} samples; SNR vs the f32 model, and what the layer added):", self.layer_samples)?;
        for l in &self.layers {
            let added = l.added_db.map(|a| format!("{a:>6.1}")).unwrap_or_else(|| "     -".into());
            writeln!(f, "    {:>3} {:<14} {:<4} SNR {:>6.1} dB  added {added} dB  {}", l.index, l.op, l.dtype, l.snr_db, l.tensor)?;
        }
        Ok(())
    }
}
