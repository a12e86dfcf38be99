//! mote-cloud: the cloud half of a hybrid deployment. The device answers the inputs it is sure
//! of; the uncertain ones go to a bigger model behind an Open Inference Protocol v2 endpoint
//! (KServe, Triton, MLServer, or `mote serve`), and a flaky network never costs the device its
//! own answer.
//!
//! This crate is `std` and synchronous (`ureq`, no async runtime), for Linux boards, phones and
//! desktops. It is never a dependency of `mote-runtime` or of any firmware; the firmware
//! dependency check (`scripts/check-firmware-deps.sh`) denies it.
//!
//! # Module map
//! | module | what it is |
//! |---|---|
//! | [`error`] | [`CloudError`], and which errors a retry may cure |
//! | [`protocol`] | OIP v2 bodies: JSON tensors and the binary tensor data extension |
//! | [`client`] | [`OipClient`]: health, metadata and infer, one HTTP exchange per call |
//! | [`policy`] | the confidence measures and the escalation threshold |
//! | [`reliability`] | retries with backoff and full jitter, the circuit breaker |
//! | [`queue`] | the bounded on-disk queue of escalations waiting for the cloud |
//! | [`cache`] | the LRU answer cache keyed by the input's hash |
//! | [`hybrid`] | [`Hybrid`]: all of the above around one `classify` call |

pub mod cache;
pub mod client;
pub mod error;
pub mod hybrid;
pub mod policy;
pub mod protocol;
pub mod queue;
pub mod reliability;

pub use client::{ClientConfig, OipClient};
pub use error::{CloudError, Result};
pub use hybrid::{Answer, Hybrid, HybridConfig, Reason, Stats};
pub use policy::{Measure, Policy, Scores};
pub use protocol::{InferRequest, InferResponse, ModelMetadata, Tensor};
pub use queue::{DiskQueue, QueueLimits};
pub use reliability::{BreakerConfig, CircuitBreaker, RetryPolicy};
