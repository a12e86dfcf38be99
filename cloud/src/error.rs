//! Cloud errors, each saying whether a retry may help ([`CloudError::retryable`]).

use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CloudError {
    /// The server could not be reached (refused, unreachable, DNS, TLS).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection broke while sending or receiving (reset mid-body, early close).
    #[error("connection failed: {0}")]
    Transport(String),
    /// The deadline or the connect timeout passed.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The server answered with an error status.
    #[error("HTTP {status}: {message}")]
    Status { status: u16, message: String, retry_after: Option<Duration> },
    /// The server answered 200 with a body that is not a valid OIP answer.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// Tensors whose shapes do not fit (the answer's, or the caller's).
    #[error("wrong shape: {0}")]
    Shape(String),
    /// The circuit breaker is open: the cloud failed recently and is not called until it is ready.
    #[error("the cloud is unavailable (circuit open)")]
    CircuitOpen,
    /// The on-disk queue failed.
    #[error("queue {path}: {reason}")]
    Queue { path: PathBuf, reason: String },
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl CloudError {
    /// Whether the same request may succeed if sent again: connection failures, time-outs and
    /// 429/502/503/504. Never 400, 404, 422, 501, or answers that were received but wrong.
    pub fn retryable(&self) -> bool {
        match self {
            CloudError::Connect(_) | CloudError::Transport(_) | CloudError::Timeout(_) => true,
            CloudError::Status { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// The server's `Retry-After`, on a retryable status.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CloudError::Status { retry_after, .. } if self.retryable() => *retry_after,
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, CloudError>;
