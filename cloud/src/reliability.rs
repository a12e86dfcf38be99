//! Retries and the circuit breaker: what keeps a flaky cloud from slowing the device down or
//! being hammered by it.
//!
//! [`RetryPolicy`] retries only what [`CloudError::retryable`] allows, waiting an exponentially
//! growing delay (backon's sequence) with full jitter (a uniform draw in `[0, delay]`, so many
//! devices that failed together do not retry together), or the server's `Retry-After` when it is
//! longer, and never past the escalation's deadline. [`CircuitBreaker`] opens after a run of
//! availability failures; while open nothing is sent, and after a cool-down the caller probes
//! `/v2/health/ready` before sending real work again.

use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::error::{CloudError, Result};

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy { max_retries: 3, min_delay: Duration::from_millis(50), max_delay: Duration::from_secs(2) }
    }
}

impl RetryPolicy {
    /// Calls `attempt(time_left)` until it succeeds, fails with an error that is not retryable,
    /// the retries are spent, or the next wait would pass `deadline`; returns the last error then.
    /// `sleep` waits (a test passes one that records instead).
    pub fn run<T>(&self, deadline: Instant, sleep: &mut dyn FnMut(Duration), mut attempt: impl FnMut(Duration) -> Result<T>) -> Result<T> {
        let mut delays = ExponentialBuilder::new().with_min_delay(self.min_delay).with_max_delay(self.max_delay).with_max_times(self.max_retries).build();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(CloudError::Timeout(Duration::ZERO));
            }
            let err = match attempt(left) {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if !err.retryable() {
                return Err(err);
            }
            let Some(delay) = delays.next() else { return Err(err) };
            let jittered = Duration::from_nanos(fastrand::u64(0..=delay.as_nanos().min(u64::MAX as u128) as u64));
            let wait = err.retry_after().map_or(jittered, |ra| ra.max(jittered));
            if Instant::now() + wait >= deadline {
                return Err(err);
            }
            sleep(wait);
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct BreakerConfig {
    /// Consecutive availability failures that open the breaker.
    pub failures_to_open: u32,
    /// How long it stays open before a probe.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> BreakerConfig {
        BreakerConfig { failures_to_open: 3, cool_down: Duration::from_secs(5) }
    }
}

/// What the breaker allows now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Send.
    Closed,
    /// Open, and cooled down: probe readiness, then send if ready.
    Probe,
    /// Open: answer locally, send nothing.
    Open,
}

#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    consecutive: u32,
    open_until: Option<Instant>,
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> CircuitBreaker {
        CircuitBreaker { config, consecutive: 0, open_until: None }
    }

    pub fn gate(&self, now: Instant) -> Gate {
        match self.open_until {
            None => Gate::Closed,
            Some(t) if now < t => Gate::Open,
            Some(_) => Gate::Probe,
        }
    }

    pub fn is_open(&self) -> bool {
        self.open_until.is_some()
    }

    pub fn success(&mut self) {
        self.consecutive = 0;
        self.open_until = None;
    }

    /// Records a failure; only failures that say the cloud is unavailable count (a rejected
    /// request is the caller's fault, and the cloud is up).
    pub fn failure(&mut self, error: &CloudError, now: Instant) {
        let unavailable = error.retryable() || matches!(error, CloudError::Malformed(_) | CloudError::Status { status: 500..=599, .. });
        if !unavailable {
            return;
        }
        self.consecutive += 1;
        if self.open_until.is_some() || self.consecutive >= self.config.failures_to_open {
            self.open_until = Some(now + self.config.cool_down);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, retry_after: Option<u64>) -> CloudError {
        CloudError::Status { status: code, message: String::new(), retry_after: retry_after.map(Duration::from_secs) }
    }

    fn count_attempts(first: CloudError, policy: RetryPolicy, deadline: Duration) -> (usize, Vec<Duration>, Result<()>) {
        let mut n = 0;
        let mut waits = vec![];
        let r = policy.run(Instant::now() + deadline, &mut |d| waits.push(d), |_| {
            n += 1;
            Err(first.clone())
        });
        (n, waits, r)
    }

    #[test]
    fn retries_only_what_may_succeed() {
        let p = RetryPolicy { max_retries: 3, min_delay: Duration::from_millis(1), max_delay: Duration::from_millis(4) };
        for code in [400, 404, 422, 501] {
            assert_eq!(count_attempts(status(code, None), p, Duration::from_secs(10)).0, 1, "HTTP {code}");
        }
        assert_eq!(count_attempts(CloudError::Malformed("x".into()), p, Duration::from_secs(10)).0, 1);
        for code in [429, 502, 503, 504] {
            let (n, waits, _) = count_attempts(status(code, None), p, Duration::from_secs(10));
            assert_eq!(n, 4, "HTTP {code}");
            assert!(waits.iter().all(|w| *w <= Duration::from_millis(4)), "full jitter stays under the cap: {waits:?}");
        }
        assert_eq!(count_attempts(CloudError::Connect("refused".into()), p, Duration::from_secs(10)).0, 4);
    }

    #[test]
    fn honours_retry_after_within_the_deadline() {
        let p = RetryPolicy { max_retries: 3, min_delay: Duration::from_millis(1), max_delay: Duration::from_millis(4) };
        let (n, waits, _) = count_attempts(status(429, Some(1)), p, Duration::from_secs(10));
        assert_eq!(n, 4);
        assert!(waits.iter().all(|w| *w == Duration::from_secs(1)));
        // A Retry-After past the deadline ends the attempts at once.
        let (n, waits, r) = count_attempts(status(503, Some(30)), p, Duration::from_secs(2));
        assert_eq!((n, waits.len()), (1, 0));
        assert!(matches!(r, Err(CloudError::Status { status: 503, .. })));
    }

    #[test]
    fn breaker_opens_cools_down_and_closes() {
        let mut b = CircuitBreaker::new(BreakerConfig { failures_to_open: 2, cool_down: Duration::from_secs(5) });
        let t = Instant::now();
        b.failure(&status(400, None), t);
        b.failure(&status(404, None), t);
        assert_eq!(b.gate(t), Gate::Closed, "client errors do not open it");
        b.failure(&CloudError::Connect("refused".into()), t);
        assert_eq!(b.gate(t), Gate::Closed);
        b.failure(&status(503, None), t);
        assert_eq!(b.gate(t + Duration::from_secs(1)), Gate::Open);
        assert_eq!(b.gate(t + Duration::from_secs(5)), Gate::Probe);
        b.failure(&CloudError::Timeout(Duration::ZERO), t + Duration::from_secs(5));
        assert_eq!(b.gate(t + Duration::from_secs(6)), Gate::Open, "a failed probe reopens it");
        b.success();
        assert_eq!(b.gate(t + Duration::from_secs(6)), Gate::Closed);
    }
}
