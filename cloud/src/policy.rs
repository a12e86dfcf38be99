//! The escalation policy: how sure the device is of its answer, and whether to ask the cloud.
//!
//! Confidence is computed from a classifier's output, given as logits (softmax is applied) or
//! as probabilities (used as they are), by one of three measures, each in `[0, 1]` with 1 the
//! most confident: the top probability, the margin between the top two, or one minus the
//! normalised entropy `H(p) / ln(K)`. The device answer is kept when its confidence is at least
//! the threshold; below it the input is escalated. `mote hybrid` picks the threshold from data.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    MaxProb,
    Margin,
    Entropy,
}

impl std::str::FromStr for Measure {
    type Err = String;
    fn from_str(s: &str) -> Result<Measure, String> {
        match s {
            "max-prob" => Ok(Measure::MaxProb),
            "margin" => Ok(Measure::Margin),
            "entropy" => Ok(Measure::Entropy),
            _ => Err(format!("{s:?}: expected max-prob, margin or entropy")),
        }
    }
}

/// What a classifier's output holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scores {
    Logits,
    Probabilities,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub measure: Measure,
    pub scores: Scores,
    /// Escalate when the confidence is below this.
    pub threshold: f32,
}

/// Softmax, computed stably (the maximum subtracted first).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|&v| (v - max).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
}

/// The index of the largest value (the first on ties).
pub fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &x)| if x > best.1 { (i, x) } else { best }).0
}

impl Policy {
    /// The confidence of one output in `[0, 1]`; 0 for an empty or non-finite output.
    pub fn confidence(&self, output: &[f32]) -> f32 {
        if output.is_empty() || output.iter().any(|v| !v.is_finite()) {
            return 0.0;
        }
        let p = match self.scores {
            Scores::Logits => softmax(output),
            Scores::Probabilities => {
                let sum: f32 = output.iter().map(|v| v.max(0.0)).sum();
                if sum <= 0.0 {
                    return 0.0;
                }
                output.iter().map(|v| v.max(0.0) / sum).collect()
            }
        };
        let c = match self.measure {
            Measure::MaxProb => p.iter().copied().fold(0.0, f32::max),
            Measure::Margin => {
                let (mut a, mut b) = (0.0f32, 0.0f32);
                for &v in &p {
                    if v > a {
                        b = a;
                        a = v;
                    } else if v > b {
                        b = v;
                    }
                }
                a - b
            }
            Measure::Entropy if p.len() < 2 => 1.0,
            Measure::Entropy => {
                let h: f32 = p.iter().filter(|&&v| v > 0.0).map(|&v| -v * v.ln()).sum();
                1.0 - h / (p.len() as f32).ln()
            }
        };
        c.clamp(0.0, 1.0)
    }

    /// Whether to ask the cloud about this output.
    pub fn escalate(&self, output: &[f32]) -> bool {
        self.confidence(output) < self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(measure: Measure, scores: Scores) -> Policy {
        Policy { measure, scores, threshold: 0.5 }
    }

    #[test]
    fn measures_on_known_distributions() {
        let p = [0.7, 0.2, 0.1];
        assert!((policy(Measure::MaxProb, Scores::Probabilities).confidence(&p) - 0.7).abs() < 1e-6);
        assert!((policy(Measure::Margin, Scores::Probabilities).confidence(&p) - 0.5).abs() < 1e-6);
        let uniform = [0.25; 4];
        assert!(policy(Measure::Entropy, Scores::Probabilities).confidence(&uniform).abs() < 1e-6);
        assert!((policy(Measure::Entropy, Scores::Probabilities).confidence(&[1.0, 0.0, 0.0]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn logits_go_through_softmax() {
        let logits = [2.0f32, 1.0, 0.0];
        let p = softmax(&logits);
        let want = policy(Measure::MaxProb, Scores::Probabilities).confidence(&p);
        assert!((policy(Measure::MaxProb, Scores::Logits).confidence(&logits) - want).abs() < 1e-6);
        assert!((want - 0.66524).abs() < 1e-4);
    }

    #[test]
    fn escalates_below_the_threshold_and_on_garbage() {
        let pol = policy(Measure::MaxProb, Scores::Probabilities);
        assert!(pol.escalate(&[0.4, 0.35, 0.25]));
        assert!(!pol.escalate(&[0.9, 0.05, 0.05]));
        assert!(pol.escalate(&[f32::NAN, 1.0]));
        assert!(pol.escalate(&[]));
    }
}
