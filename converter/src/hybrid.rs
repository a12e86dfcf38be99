//! `mote hybrid`: how much a cloud fallback buys on the user's own labelled data, and the
//! escalation threshold that meets a target.
//!
//! Every sample runs on the device model (the `.mote` file, through mote-runtime, as on the
//! device) and on the cloud model (an ONNX file run by tract, or a live Open Inference Protocol
//! endpoint). Sorting the samples by the device's confidence gives, for every threshold, which
//! samples would be escalated, and so the system accuracy (cloud answers for the escalated,
//! device answers for the rest) against the escalation rate. A target picks one point: an
//! escalation rate, a system accuracy, or a cloud budget per 1,000 inputs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mote_cloud::policy::argmax;
use mote_cloud::protocol::{InferRequest, Tensor};
use mote_cloud::{ClientConfig, Measure, OipClient, Policy, Scores};
use mote_runtime::format::writer::AlignedBytes;
use mote_runtime::{Interpreter, Model};
use serde::Serialize;

use crate::data::{par_rows, progress, Dataset};
use crate::error::{build_err, ConvertError, Result};
use crate::reference::Reference;

/// Where the cloud model is.
#[derive(Clone, Debug)]
pub enum Cloud {
    /// An ONNX file, run here by tract.
    Onnx(PathBuf),
    /// A live OIP v2 endpoint (`http://host:port`) and model name.
    Endpoint { url: String, model: String, binary: bool },
}

/// What the threshold is chosen for.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The best accuracy escalating at most this fraction of inputs.
    EscalationRate(f64),
    /// The lowest escalation rate reaching this system accuracy.
    Accuracy(f64),
    /// The best accuracy whose cloud cost per 1,000 inputs stays within this.
    CostPer1k(f64),
}

/// One threshold: inputs whose device confidence is below it go to the cloud.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Point {
    pub threshold: f32,
    pub escalation_rate: f64,
    pub accuracy: f64,
    pub cloud_calls_per_1k: f64,
    /// `escalation_rate × --cloud-cost-per-1k`, when a price was given.
    pub cost_per_1k: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HybridReport {
    pub device: String,
    pub cloud: String,
    pub measure: Measure,
    pub scores: Scores,
    /// Labelled samples (the curve is over these).
    pub samples: usize,
    pub device_accuracy: f64,
    pub cloud_accuracy: f64,
    /// Fraction of samples where device and cloud agree on the class.
    pub agreement: f64,
    /// Every distinct threshold, from escalating nothing to escalating everything.
    pub curve: Vec<Point>,
    pub target: Option<Target>,
    /// The point chosen for the target; `None` when no threshold meets it.
    pub chosen: Option<Point>,
}

/// Output 0 of the device model on every row.
fn device_outputs(bytes: &[u8], set: &Dataset) -> Result<Vec<Vec<f32>>> {
    let aligned = AlignedBytes::new(bytes);
    let model = Model::from_bytes(&aligned).map_err(build_err)?;
    let out_len = model.outputs().first().and_then(|&id| model.tensor(id)).and_then(|t| t.shape.numel()).unwrap_or(0) as usize;
    let bar = progress(set.len(), "device");
    let states = par_rows(
        set.len(),
        &bar,
        || Ok((vec![0u8; model.arena_bytes() + 16], vec![])),
        |row, (arena, got): &mut (Vec<u8>, Vec<(usize, Vec<f32>)>)| {
            let mut it = Interpreter::new(&model, arena).map_err(build_err)?;
            for i in 0..set.inputs.len() {
                it.set_input_f32(i, set.row(i, row)).map_err(build_err)?;
            }
            it.invoke().map_err(build_err)?;
            let mut v = vec![0f32; out_len];
            it.output_to_f32(0, &mut v).map_err(build_err)?;
            got.push((row, v));
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    Ok(collect_rows(set.len(), states.into_iter().flat_map(|(_, g)| g)))
}

fn collect_rows(n: usize, rows: impl Iterator<Item = (usize, Vec<f32>)>) -> Vec<Vec<f32>> {
    let mut out = vec![vec![]; n];
    for (r, v) in rows {
        out[r] = v;
    }
    out
}

/// Output 0 of the cloud model on every row.
fn cloud_outputs(cloud: &Cloud, set: &Dataset, batch: usize) -> Result<Vec<Vec<f32>>> {
    match cloud {
        Cloud::Onnx(path) => {
            let reference = Reference::load(path, &set.inputs)?;
            let bar = progress(set.len(), "cloud");
            let states = par_rows(set.len(), &bar, || Ok(vec![]), |row, got: &mut Vec<(usize, Vec<f32>)>| {
                let inputs: Vec<&[f32]> = (0..set.inputs.len()).map(|i| set.row(i, row)).collect();
                let mut out = reference.run(&inputs)?;
                got.push((row, out.swap_remove(0)));
                Ok(())
            })?;
            bar.finish_and_clear();
            Ok(collect_rows(set.len(), states.into_iter().flatten()))
        }
        Cloud::Endpoint { url, model, binary } => {
            let mut config = ClientConfig::new(url.clone(), model.clone());
            config.binary = *binary;
            let client = OipClient::new(config);
            let endpoint_err = |e: mote_cloud::CloudError| ConvertError::Build(format!("cloud endpoint {url}: {e}"));
            let mut out = vec![];
            let bar = progress(set.len(), "cloud");
            for start in (0..set.len()).step_by(batch.max(1)) {
                let end = (start + batch.max(1)).min(set.len());
                let inputs = set
                    .inputs
                    .iter()
                    .enumerate()
                    .map(|(i, (name, shape))| {
                        let data: Vec<f32> = (start..end).flat_map(|r| set.row(i, r).iter().copied()).collect();
                        Tensor::new(name.clone(), std::iter::once(end - start).chain(shape[1..].iter().copied()).collect(), data).map_err(endpoint_err)
                    })
                    .collect::<Result<Vec<_>>>()?;
                let request = InferRequest { id: format!("mote-hybrid-{start}"), inputs, binary_output: false };
                let response = client.infer(&request, Duration::from_secs(60)).map_err(endpoint_err)?;
                let t = response.outputs.first().ok_or_else(|| endpoint_err(mote_cloud::CloudError::Shape("no outputs".into())))?;
                out.extend(t.rows().into_iter().map(|r| r.data));
                bar.inc((end - start) as u64);
            }
            bar.finish_and_clear();
            if out.len() != set.len() {
                return Err(ConvertError::Build(format!("cloud endpoint {url}: {} answers for {} samples", out.len(), set.len())));
            }
            Ok(out)
        }
    }
}

/// Probabilities when every output is non-negative and sums to 1 (±5 %, room for int8 rounding), else logits.
pub fn detect_scores(outputs: &[Vec<f32>]) -> Scores {
    let probs = outputs.iter().all(|o| o.iter().all(|&v| v >= 0.0) && (o.iter().sum::<f32>() - 1.0).abs() < 0.05);
    if probs {
        Scores::Probabilities
    } else {
        Scores::Logits
    }
}

/// The curve from per-sample confidences and correctness (device, cloud).
pub fn curve(confidence: &[f32], device_ok: &[bool], cloud_ok: &[bool], cost_per_1k: Option<f64>) -> Vec<Point> {
    let n = confidence.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| confidence[a].total_cmp(&confidence[b]));
    let mut device_right_after = vec![0usize; n + 1];
    for k in (0..n).rev() {
        device_right_after[k] = device_right_after[k + 1] + usize::from(device_ok[order[k]]);
    }
    let point = |escalated: usize, cloud_right: usize, threshold: f32| {
        let rate = escalated as f64 / n.max(1) as f64;
        Point {
            threshold,
            escalation_rate: rate,
            accuracy: (cloud_right + device_right_after[escalated]) as f64 / n.max(1) as f64,
            cloud_calls_per_1k: rate * 1000.0,
            cost_per_1k: cost_per_1k.map(|c| rate * c),
        }
    };
    let mut points = vec![point(0, 0, 0.0)];
    let (mut k, mut cloud_right) = (0, 0);
    while k < n {
        let c = confidence[order[k]];
        while k < n && confidence[order[k]] == c {
            cloud_right += usize::from(cloud_ok[order[k]]);
            k += 1;
        }
        // Escalating the first k samples: every confidence up to c; the next distinct value is
        // the threshold (past 1.0 once every sample goes).
        let threshold = if k < n { confidence[order[k]] } else { f32::from_bits(1.0f32.to_bits() + 1) };
        points.push(point(k, cloud_right, threshold));
    }
    points
}

/// The point that meets `target`, if any.
pub fn choose(curve: &[Point], target: Target, cost_per_1k: Option<f64>) -> Option<Point> {
    let best_within = |max_rate: f64| curve.iter().filter(|p| p.escalation_rate <= max_rate + 1e-12).copied().max_by(|a, b| a.accuracy.total_cmp(&b.accuracy).then(b.escalation_rate.total_cmp(&a.escalation_rate)));
    match target {
        Target::EscalationRate(r) => best_within(r),
        Target::Accuracy(a) => curve.iter().filter(|p| p.accuracy >= a - 1e-12).copied().min_by(|x, y| x.escalation_rate.total_cmp(&y.escalation_rate)),
        Target::CostPer1k(budget) => best_within(budget / cost_per_1k.filter(|&c| c > 0.0)?),
    }
}

/// Runs the device and the cloud model over the labelled rows of `set` and builds the report.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(device: &Path, cloud: &Cloud, set: &Dataset, labels: &[i64], measure: Measure, target: Option<Target>, cost_per_1k: Option<f64>, batch: usize) -> Result<HybridReport> {
    let bytes = std::fs::read(device).map_err(|cause| ConvertError::Io { path: device.to_path_buf(), cause })?;
    let local = device_outputs(&bytes, set)?;
    let remote = cloud_outputs(cloud, set, batch)?;
    let scores = detect_scores(&local);
    let policy = Policy { measure, scores, threshold: 0.0 };
    let (mut conf, mut device_ok, mut cloud_ok, mut agree) = (vec![], vec![], vec![], 0usize);
    for ((l, r), &label) in local.iter().zip(&remote).zip(labels) {
        if label < 0 {
            continue;
        }
        conf.push(policy.confidence(l));
        device_ok.push(argmax(l) as i64 == label);
        cloud_ok.push(argmax(r) as i64 == label);
        agree += usize::from(argmax(l) == argmax(r));
    }
    let n = conf.len();
    if n == 0 {
        return Err(ConvertError::Data { path: set.path.clone(), reason: "no labelled rows: mote hybrid needs labels".into() });
    }
    let curve = curve(&conf, &device_ok, &cloud_ok, cost_per_1k);
    let chosen = target.and_then(|t| choose(&curve, t, cost_per_1k));
    let share = |v: &[bool]| v.iter().filter(|&&b| b).count() as f64 / n as f64;
    Ok(HybridReport {
        device: device.display().to_string(),
        cloud: match cloud {
            Cloud::Onnx(p) => p.display().to_string(),
            Cloud::Endpoint { url, model, .. } => format!("{url} (model {model})"),
        },
        measure,
        scores,
        samples: n,
        device_accuracy: share(&device_ok),
        cloud_accuracy: share(&cloud_ok),
        agreement: agree as f64 / n as f64,
        curve,
        target,
        chosen,
    })
}

impl std::fmt::Display for HybridReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pct = |v: f64| format!("{:.2} %", v * 100.0);
        writeln!(f, "device {}  cloud {}", self.device, self.cloud)?;
        writeln!(
            f,
            "{} labelled samples: device {}, cloud {}, agreement {} (confidence: {:?} of {:?})",
            self.samples,
            pct(self.device_accuracy),
            pct(self.cloud_accuracy),
            pct(self.agreement),
            self.measure,
            self.scores
        )?;
        writeln!(f, "  threshold  escalated  system accuracy  cloud calls / 1k{}", if self.curve.first().is_some_and(|p| p.cost_per_1k.is_some()) { "  cost / 1k" } else { "" })?;
        let mut last = None;
        for step in 0..=20 {
            let rate = step as f64 / 20.0;
            let Some(p) = self.curve.iter().rev().find(|p| p.escalation_rate <= rate + 1e-12) else { continue };
            if last == Some(p.escalation_rate.to_bits()) {
                continue;
            }
            last = Some(p.escalation_rate.to_bits());
            let cost = p.cost_per_1k.map(|c| format!("  {c:>9.3}")).unwrap_or_default();
            writeln!(f, "  {:>9.4}  {:>9}  {:>15}  {:>16.0}{cost}", p.threshold, pct(p.escalation_rate), pct(p.accuracy), p.cloud_calls_per_1k)?;
        }
        match (&self.target, &self.chosen) {
            (Some(t), Some(p)) => writeln!(f, "for {t:?}: threshold {:.4}, escalating {}, system accuracy {}, {:.0} cloud calls per 1,000 inputs", p.threshold, pct(p.escalation_rate), pct(p.accuracy), p.cloud_calls_per_1k)?,
            (Some(t), None) => writeln!(f, "for {t:?}: no threshold meets the target")?,
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_escalates_the_least_confident_first_and_choose_meets_targets() {
        // Four samples: the device is wrong on the two least confident, the cloud right on all.
        let conf = [0.9, 0.3, 0.5, 0.95];
        let device = [true, false, false, true];
        let cloud = [true, true, true, true];
        let c = curve(&conf, &device, &cloud, Some(2.0));
        let rates: Vec<f64> = c.iter().map(|p| p.escalation_rate).collect();
        let acc: Vec<f64> = c.iter().map(|p| p.accuracy).collect();
        assert_eq!(rates, [0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(acc, [0.5, 0.75, 1.0, 1.0, 1.0]);
        assert_eq!(c[2].threshold, 0.9, "escalating below 0.9 sends the 0.3 and 0.5 samples");
        assert_eq!(choose(&c, Target::Accuracy(1.0), None).map(|p| p.escalation_rate), Some(0.5));
        assert_eq!(choose(&c, Target::EscalationRate(0.3), None).map(|p| p.accuracy), Some(0.75));
        assert_eq!(choose(&c, Target::CostPer1k(1.0), Some(2.0)).map(|p| p.escalation_rate), Some(0.5));
        assert!(choose(&c, Target::CostPer1k(1.0), None).is_none());
        assert!(c[4].threshold > 1.0);
    }
}
