//! Calibration statistics: what calibration records of every activation ([`Stats`]: its
//! extremes and a histogram) and how a range is chosen from that record ([`Method`]). The
//! first stage of the int8 pipeline, and the only one that sees the data:
//!
//! statistics (here) → the plan ([`crate::quantize`]) → the lowering ([`crate::lower`]) →
//! the driver that runs the f32 model over the data set ([`crate::calibrate`]).
//!
//! Every range comes back unwidened; the plan widens it to include 0 when it picks parameters
//! ([`mote_runtime::quant::activation_qparams`]), which the MSE method also scores with.

use mote_runtime::quant::activation_qparams;

/// The data set calibration runs on (defined with the other data readers; also found here).
pub use crate::data::{labels, model_inputs, Dataset};

/// Histogram resolution of the percentile and MSE methods.
pub const BINS: usize = 2048;

/// How a tensor's calibrated range is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// The smallest and largest value seen.
    MinMax,
    /// The `p`-th and `(100 - p)`-th percentiles of all values seen (e.g. 99.99).
    Percentile(f64),
    /// The range that minimizes the expected squared quantization error (rounding inside the
    /// range, clipping outside) over the values seen.
    Mse,
}

/// The 99.99th percentile: `mote convert`'s default.
impl Default for Method {
    fn default() -> Method {
        Method::Percentile(99.99)
    }
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Method, String> {
        match s {
            "minmax" => Ok(Method::MinMax),
            "mse" => Ok(Method::Mse),
            "percentile" => Ok(Method::default()),
            _ => match s.strip_prefix("percentile=").map(str::parse::<f64>) {
                Some(Ok(p)) if p > 50.0 && p <= 100.0 => Ok(Method::Percentile(p)),
                _ => Err(format!("{s:?}: expected minmax, mse, percentile or percentile=P with 50 < P <= 100")),
            },
        }
    }
}

/// What calibration saw of one tensor: its extremes and a histogram of [`BINS`] bins over
/// `[-range, range]`, where `range` is a power of two that doubles (merging bin pairs) whenever a
/// larger value arrives, so one pass over the data suffices for every method.
#[derive(Clone, Debug)]
pub struct Stats {
    pub min: f32,
    pub max: f32,
    range: f32,
    hist: Vec<u64>,
}

impl Stats {
    pub fn new() -> Stats {
        Stats { min: f32::INFINITY, max: f32::NEG_INFINITY, range: 0.0, hist: vec![0; BINS] }
    }

    /// Doubles the histogram's range: bins `2i` and `2i + 1` become bin `BINS / 4 + i`.
    fn double(&mut self) {
        let mut next = vec![0; BINS];
        for (i, pair) in self.hist.chunks_exact(2).enumerate() {
            next[BINS / 4 + i] = pair[0] + pair[1];
        }
        self.hist = next;
        self.range *= 2.0;
    }

    fn grow_to(&mut self, magnitude: f32) {
        if self.range == 0.0 {
            self.range = 2f32.powi(magnitude.max(1e-20).log2().ceil() as i32);
        }
        while self.range < magnitude {
            self.double();
        }
    }

    pub fn observe(&mut self, values: &[f32]) {
        if values.is_empty() {
            return;
        }
        let (lo, hi) = values.iter().fold((self.min, self.max), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        self.min = lo;
        self.max = hi;
        self.grow_to(lo.abs().max(hi.abs()));
        let scale = BINS as f32 / (2.0 * self.range);
        for &v in values {
            let b = ((v + self.range) * scale) as usize;
            self.hist[b.min(BINS - 1)] += 1;
        }
    }

    pub fn merge(&mut self, other: &Stats) {
        if other.range == 0.0 {
            return;
        }
        let mut other = other.clone();
        self.grow_to(other.range);
        other.grow_to(self.range);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        for (a, b) in self.hist.iter_mut().zip(&other.hist) {
            *a += b;
        }
    }

    fn bin_center(&self, b: usize) -> f64 {
        (-self.range as f64 + (b as f64 + 0.5) * 2.0 * self.range as f64 / BINS as f64).clamp(self.min as f64, self.max as f64)
    }

    /// The value below which a fraction `q` of the observations lie (bin resolution).
    fn quantile(&self, q: f64) -> f64 {
        let total: u64 = self.hist.iter().sum();
        let target = q * total as f64;
        let mut seen = 0u64;
        for (b, &n) in self.hist.iter().enumerate() {
            seen += n;
            if seen as f64 >= target {
                return self.bin_center(b);
            }
        }
        self.max as f64
    }

    /// Expected squared error of quantizing the observations to int8 over `[lo, hi]`.
    fn quantization_mse(&self, lo: f64, hi: f64) -> f64 {
        let q = activation_qparams(lo as f32, hi as f32);
        let (s, z) = (q.scale as f64, q.zero_point as f64);
        let (qlo, qhi) = ((-128.0 - z) * s, (127.0 - z) * s);
        let mut err = 0.0;
        for (b, &n) in self.hist.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let c = self.bin_center(b);
            let e = if c < qlo {
                (qlo - c) * (qlo - c)
            } else if c > qhi {
                (c - qhi) * (c - qhi)
            } else {
                s * s / 12.0
            };
            err += n as f64 * e;
        }
        err
    }

    /// The calibrated range `[lo, hi]` under `method`.
    pub fn range(&self, method: Method) -> (f32, f32) {
        if !self.min.is_finite() || !self.max.is_finite() {
            return (0.0, 0.0);
        }
        if self.max <= self.min {
            return (self.min, self.max);
        }
        match method {
            Method::MinMax => (self.min, self.max),
            Method::Percentile(p) => {
                let tail = (100.0 - p) / 100.0;
                (self.quantile(tail) as f32, self.quantile(1.0 - tail) as f32)
            }
            Method::Mse => {
                let (lo, hi) = (self.min as f64, self.max as f64);
                let mut candidates = vec![(lo, hi)];
                for tail in [1e-6, 1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2] {
                    candidates.push((self.quantile(tail), self.quantile(1.0 - tail)));
                }
                for k in 1..=50 {
                    let f = 1.0 - k as f64 * 0.015;
                    candidates.push((lo * f, hi * f));
                }
                let best = candidates
                    .into_iter()
                    .map(|(a, b)| (self.quantization_mse(a, b), a, b))
                    .fold((f64::INFINITY, lo, hi), |best, c| if c.0 < best.0 { c } else { best });
                (best.1 as f32, best.2 as f32)
            }
        }
    }
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_of(values: &[f32], chunks: usize) -> Stats {
        let mut s = Stats::new();
        for c in values.chunks(values.len().div_ceil(chunks)) {
            s.observe(c);
        }
        s
    }

    #[test]
    fn growing_the_histogram_keeps_every_count() {
        // Values arrive smallest first, so the range doubles many times.
        let values: Vec<f32> = (0..10_000).map(|i| (i as f32 * 0.37).sin() * (1.0 + i as f32 / 50.0)).collect();
        let one = stats_of(&values, 1);
        let many = stats_of(&values, 100);
        assert_eq!(many.hist.iter().sum::<u64>(), 10_000);
        assert_eq!((many.min, many.max, many.range), (one.min, one.max, one.range));
        // Bin edges are computed in f32 at different ranges, so a value on an edge may land one
        // bin over; nothing more.
        let moved = |h: &[u64]| h.iter().zip(&one.hist).map(|(&a, &b)| a.abs_diff(b)).sum::<u64>();
        assert!(moved(&many.hist) <= 4, "incremental and one-shot histograms differ by {}", moved(&many.hist));
        let (mut a, b) = (stats_of(&values[..3000], 3), stats_of(&values[3000..], 7));
        a.merge(&b);
        assert_eq!(a.hist.iter().sum::<u64>(), 10_000);
        assert!(moved(&a.hist) <= 4, "merged histograms differ by {}", moved(&a.hist));
    }

    #[test]
    fn methods_choose_the_expected_ranges() {
        // 100 000 values uniform in [-1, 1] and one outlier at 50.
        let mut values: Vec<f32> = (0..100_000).map(|i| (i as f32 / 99_999.0) * 2.0 - 1.0).collect();
        values.push(50.0);
        let s = stats_of(&values, 10);
        assert_eq!(s.range(Method::MinMax), (-1.0, 50.0));
        let (lo, hi) = s.range(Method::Percentile(99.9));
        let bin = 2.0 * s.range / BINS as f32;
        assert!((lo + 0.998).abs() <= bin && (hi - 0.998).abs() <= bin, "percentile range {lo}..{hi}");
        let (lo, hi) = s.range(Method::Mse);
        assert!(hi < 50.0 && lo <= -0.89, "MSE range {lo}..{hi}");
        let mse = |(a, b): (f32, f32)| s.quantization_mse(a as f64, b as f64);
        assert!(mse((lo, hi)) < mse((-1.0, 50.0)) && mse((lo, hi)) < mse((-1.0, 1.0)), "MSE's range is not the better one");
    }

    #[test]
    fn ranges_always_hold_zero_and_parse() {
        let s = stats_of(&[2.0, 3.0, 4.0], 1);
        let q = activation_qparams(s.range(Method::MinMax).0, s.range(Method::MinMax).1);
        assert_eq!(q.quantize(0.0) as i32, q.zero_point);
        assert_eq!(q.zero_point, -128);
        assert_eq!("percentile=99.9".parse::<Method>(), Ok(Method::Percentile(99.9)));
        assert!("percentile=20".parse::<Method>().is_err());
        assert!("entropy".parse::<Method>().is_err());
    }
}
