//! The hybrid classifier: the device answers what it is sure of, the cloud the rest.
//!
//! [`Hybrid::classify`] takes one input and a closure that runs the device model. It answers from
//! the cache when it can; otherwise it runs the device model, and when the [`Policy`] says the
//! answer is not confident enough it asks the cloud through the circuit breaker and the retry
//! policy, within one deadline. Whatever happens to the cloud, the device answer comes back, with
//! the reason it was or was not replaced. An escalation that failed because the cloud was
//! unavailable goes to the [`DiskQueue`] (if one is attached), and [`Hybrid::replay`] sends the
//! queued samples later, in batches, under the same request ids.

use std::time::{Duration, Instant};

use crate::cache::{self, Cache};
use crate::client::OipClient;
use crate::error::{CloudError, Result};
use crate::policy::{argmax, Policy};
use crate::protocol::{InferRequest, Tensor};
use crate::queue::DiskQueue;
use crate::reliability::{BreakerConfig, CircuitBreaker, Gate, RetryPolicy};

#[derive(Clone, Copy, Debug)]
pub struct HybridConfig {
    pub policy: Policy,
    /// Longest an escalation may take, retries and waits included.
    pub deadline: Duration,
    pub retry: RetryPolicy,
    pub breaker: BreakerConfig,
    /// Answers cached, for the device and for the cloud each.
    pub cache_capacity: usize,
    /// Queued samples sent in one infer call by [`Hybrid::replay`].
    pub batch_size: usize,
    /// The cloud model's output holding the class scores.
    pub output: usize,
}

impl HybridConfig {
    pub fn new(policy: Policy) -> HybridConfig {
        HybridConfig {
            policy,
            deadline: Duration::from_millis(500),
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            cache_capacity: 1024,
            batch_size: 16,
            output: 0,
        }
    }
}

/// Why the answer is what it is.
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// The device was sure enough.
    Confident,
    /// The device was not, and the cloud answered.
    Escalated,
    /// The device was not, the cloud could not answer: the device answer stands. `queued` says
    /// whether the sample waits in the queue for a later replay.
    CloudUnavailable { error: CloudError, queued: bool },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The request id the sample is (or would be) sent to the cloud with.
    pub id: String,
    pub local: Vec<f32>,
    pub cloud: Option<Vec<f32>>,
    /// The device answer's confidence.
    pub confidence: f32,
    pub reason: Reason,
    /// Whether the answer came from the cache.
    pub cached: bool,
}

impl Answer {
    /// The answer to use: the cloud's when there is one, else the device's.
    pub fn output(&self) -> &[f32] {
        self.cloud.as_deref().unwrap_or(&self.local)
    }

    pub fn class(&self) -> usize {
        argmax(self.output())
    }
}

/// Counters since the client was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub inputs: u64,
    pub cache_hits: u64,
    pub escalations: u64,
    pub cloud_answers: u64,
    pub cloud_failures: u64,
    /// HTTP requests sent (infer attempts and readiness probes).
    pub requests: u64,
    pub queued: u64,
    pub replayed: u64,
}

pub struct Hybrid {
    client: OipClient,
    config: HybridConfig,
    breaker: CircuitBreaker,
    queue: Option<DiskQueue>,
    local_cache: Cache<Vec<f32>>,
    cloud_cache: Cache<Vec<f32>>,
    stats: Stats,
    sleep: Box<dyn FnMut(Duration) + Send>,
}

/// The request id of an input: its content hash, so every retry and replay of the same sample
/// carries the same id.
pub fn request_id(input: &Tensor) -> String {
    let k = cache::key(&input.shape, &input.data);
    let hex: String = k[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("mote-{hex}")
}

impl Hybrid {
    pub fn new(client: OipClient, config: HybridConfig) -> Hybrid {
        Hybrid {
            client,
            breaker: CircuitBreaker::new(config.breaker),
            queue: None,
            local_cache: Cache::new(config.cache_capacity),
            cloud_cache: Cache::new(config.cache_capacity),
            stats: Stats::default(),
            sleep: Box::new(std::thread::sleep),
            config,
        }
    }

    /// Keeps escalations that found the cloud unavailable in `queue`, for [`Hybrid::replay`].
    pub fn with_queue(mut self, queue: DiskQueue) -> Hybrid {
        self.queue = Some(queue);
        self
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn queue(&self) -> Option<&DiskQueue> {
        self.queue.as_ref()
    }

    pub fn breaker_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// Classifies `input` (one sample, batch dimension 1); `local` runs the device model on it.
    pub fn classify(&mut self, input: &Tensor, local: impl FnOnce(&Tensor) -> Vec<f32>) -> Answer {
        self.stats.inputs += 1;
        let key = cache::key(&input.shape, &input.data);
        let id = request_id(input);
        let (local_out, mut cached) = match self.local_cache.get(&key) {
            Some(v) => (v, true),
            None => {
                let v = local(input);
                self.local_cache.insert(key, v.clone());
                (v, false)
            }
        };
        let confidence = self.config.policy.confidence(&local_out);
        if confidence >= self.config.policy.threshold {
            self.stats.cache_hits += u64::from(cached);
            return Answer { id, local: local_out, cloud: None, confidence, reason: Reason::Confident, cached };
        }
        self.stats.escalations += 1;
        if let Some(cloud) = self.cloud_cache.get(&key) {
            self.stats.cache_hits += 1;
            return Answer { id, local: local_out, cloud: Some(cloud), confidence, reason: Reason::Escalated, cached: true };
        }
        cached = false;
        let request = InferRequest { id: id.clone(), inputs: vec![input.clone()], binary_output: false };
        let result = self.call(&request, 1).and_then(|mut rows| {
            let row = rows.pop().unwrap_or_default();
            if row.len() == local_out.len() {
                Ok(row)
            } else {
                Err(CloudError::Shape(format!("the cloud answered {} scores, the device {}", row.len(), local_out.len())))
            }
        });
        match result {
            Ok(cloud) => {
                self.stats.cloud_answers += 1;
                self.cloud_cache.insert(key, cloud.clone());
                if self.queue.as_ref().is_some_and(|q| !q.is_empty()) {
                    // The cloud is back: send one batch of what waited for it.
                    let _ = self.replay_batch();
                }
                Answer { id, local: local_out, cloud: Some(cloud), confidence, reason: Reason::Escalated, cached }
            }
            Err(error) => {
                self.stats.cloud_failures += 1;
                let transient = error.retryable() || matches!(error, CloudError::CircuitOpen | CloudError::Status { status: 500..=599, .. });
                let queued = transient && self.queue.as_mut().is_some_and(|q| q.push(&id, input).is_ok());
                self.stats.queued += u64::from(queued);
                Answer { id, local: local_out, cloud: None, confidence, reason: Reason::CloudUnavailable { error, queued }, cached }
            }
        }
    }

    /// Sends a request through the breaker and the retry policy; returns output
    /// [`HybridConfig::output`] split into `rows` rows.
    fn call(&mut self, request: &InferRequest, rows: usize) -> Result<Vec<Vec<f32>>> {
        let now = Instant::now();
        match self.breaker.gate(now) {
            Gate::Open => return Err(CloudError::CircuitOpen),
            Gate::Probe => {
                self.stats.requests += 1;
                match self.client.ready(self.config.deadline) {
                    Ok(true) => {}
                    Ok(false) => {
                        self.breaker.failure(&CloudError::Status { status: 503, message: "not ready".into(), retry_after: None }, now);
                        return Err(CloudError::CircuitOpen);
                    }
                    Err(e) => {
                        self.breaker.failure(&e, now);
                        return Err(CloudError::CircuitOpen);
                    }
                }
            }
            Gate::Closed => {}
        }
        let deadline = Instant::now() + self.config.deadline;
        let (client, output) = (&self.client, self.config.output);
        let mut sent = 0;
        let result = self.config.retry.run(deadline, &mut *self.sleep, |left| {
            sent += 1;
            let response = client.infer(request, left)?;
            let t = response.outputs.get(output).ok_or_else(|| CloudError::Shape(format!("the answer has {} outputs, output {output} was expected", response.outputs.len())))?;
            if t.shape.first() != Some(&rows) || t.data.len() % rows != 0 {
                return Err(CloudError::Shape(format!("output {:?} has shape {:?} for a batch of {rows}", t.name, t.shape)));
            }
            Ok(t.data.chunks(t.data.len() / rows).map(<[f32]>::to_vec).collect())
        });
        self.stats.requests += sent;
        match &result {
            Ok(_) => self.breaker.success(),
            Err(e) => self.breaker.failure(e, Instant::now()),
        }
        result
    }

    /// Sends the oldest queued samples of one shape as one batch; returns (request id, cloud
    /// answer) per sample, and removes them from the queue. An empty result: nothing was queued.
    fn replay_batch(&mut self) -> Result<Vec<(String, Vec<f32>)>> {
        let Some(queue) = self.queue.as_ref() else { return Ok(vec![]) };
        let mut entries = queue.peek(self.config.batch_size.max(1))?;
        let Some(first) = entries.first() else { return Ok(vec![]) };
        let shape = first.shape.clone();
        if let Some(cut) = entries.iter().position(|e| e.shape != shape) {
            entries.truncate(cut);
        }
        let tensors: Vec<Tensor> = entries.iter().map(|e| e.tensor()).collect();
        let rows: usize = tensors.iter().map(|t| t.shape.first().copied().unwrap_or(1)).sum();
        let id = entries.iter().map(|e| e.id.as_str()).collect::<Vec<_>>().join("+");
        let request = InferRequest { id, inputs: vec![Tensor::stack(&tensors)?], binary_output: false };
        let answers = self.call(&request, rows)?;
        let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
        if let Some(q) = self.queue.as_mut() {
            q.remove(&seqs)?;
        }
        self.stats.replayed += entries.len() as u64;
        let mut out = vec![];
        for (e, a) in entries.into_iter().zip(answers) {
            self.cloud_cache.insert(cache::key(&e.shape, &e.data), a.clone());
            out.push((e.id, a));
        }
        Ok(out)
    }

    /// Sends everything queued, batch by batch, until the queue is empty or the cloud fails;
    /// returns (request id, cloud answer) per sample sent. A failure leaves the rest queued.
    pub fn replay(&mut self) -> Result<Vec<(String, Vec<f32>)>> {
        let mut all = vec![];
        loop {
            let batch = self.replay_batch()?;
            if batch.is_empty() {
                return Ok(all);
            }
            all.extend(batch);
        }
    }

    /// Replaces how the client waits between retries (tests count instead of sleeping).
    pub fn set_sleep(&mut self, sleep: impl FnMut(Duration) + Send + 'static) {
        self.sleep = Box::new(sleep);
    }
}
