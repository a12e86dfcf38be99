//! A blocking Open Inference Protocol v2 REST client over `ureq`: one HTTP exchange per call,
//! no retries (those are [`crate::reliability`]'s), every failure a typed [`CloudError`].
//!
//! It reads the HTTP status and nothing else to decide success: ready endpoints answer 200 with
//! an empty body on MLServer and `{"ready": true}` on KServe, and both are "ready". Paths are the
//! unversioned ones (`/v2/models/{m}/infer`), which every server serves; KServe answers 501 on
//! versioned paths.

use std::time::Duration;

use crate::error::{CloudError, Result};
use crate::protocol::{error_message, InferRequest, InferResponse, ModelMetadata, HEADER_LENGTH};

/// Where the cloud model is and how to talk to it.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `http://host:port` (a trailing `/` is fine).
    pub base_url: String,
    pub model: String,
    /// Send inputs, and ask for outputs, with the binary tensor data extension.
    pub binary: bool,
    /// Longest wait to open a connection, within each call's deadline.
    pub connect_timeout: Duration,
    /// Largest answer body read; a larger one is a [`CloudError::Malformed`].
    pub max_body_bytes: u64,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> ClientConfig {
        ClientConfig { base_url: base_url.into(), model: model.into(), binary: false, connect_timeout: Duration::from_secs(2), max_body_bytes: 64 << 20 }
    }
}

pub struct OipClient {
    agent: ureq::Agent,
    base: String,
    config: ClientConfig,
}

/// A status and a body, as received.
struct Reply {
    status: u16,
    retry_after: Option<Duration>,
    header_len: Option<usize>,
    body: Vec<u8>,
}

impl OipClient {
    pub fn new(config: ClientConfig) -> OipClient {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(config.connect_timeout))
            .build()
            .into();
        OipClient { agent, base: config.base_url.trim_end_matches('/').to_string(), config }
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn model_path(&self, suffix: &str) -> String {
        self.url(&format!("/v2/models/{}{suffix}", self.config.model))
    }

    fn exchange(&self, url: &str, body: Option<(Vec<u8>, Option<usize>)>, deadline: Duration) -> Result<Reply> {
        let sent = match body {
            None => self.agent.get(url).config().timeout_global(Some(deadline)).build().call(),
            Some((bytes, header_len)) => {
                let mut req = self.agent.post(url).config().timeout_global(Some(deadline)).build();
                req = match header_len {
                    Some(n) => req.header("Content-Type", "application/octet-stream").header(HEADER_LENGTH, n.to_string()),
                    None => req.header("Content-Type", "application/json"),
                };
                req.send(&bytes[..])
            }
        };
        let mut resp = sent.map_err(|e| transport_error(e, deadline))?;
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim).map(str::to_string);
        let retry_after = header("retry-after").and_then(|v| v.parse::<u64>().ok()).map(Duration::from_secs);
        let header_len = match header(HEADER_LENGTH) {
            Some(v) => Some(v.parse::<usize>().map_err(|_| CloudError::Malformed(format!("{HEADER_LENGTH}: {v:?} is not a length")))?),
            None => None,
        };
        let status = resp.status().as_u16();
        let body = resp.body_mut().with_config().limit(self.config.max_body_bytes).read_to_vec().map_err(|e| transport_error(e, deadline))?;
        Ok(Reply { status, retry_after, header_len, body })
    }

    fn expect_ok(reply: Reply) -> Result<Reply> {
        if (200..300).contains(&reply.status) {
            Ok(reply)
        } else {
            Err(CloudError::Status { status: reply.status, message: error_message(&reply.body), retry_after: reply.retry_after })
        }
    }

    /// `GET /v2/health/live`: whether the server answers 200.
    pub fn live(&self, deadline: Duration) -> Result<bool> {
        Ok(self.exchange(&self.url("/v2/health/live"), None, deadline)?.status == 200)
    }

    /// `GET /v2/health/ready`: whether the server answers 200 (any body).
    pub fn ready(&self, deadline: Duration) -> Result<bool> {
        Ok(self.exchange(&self.url("/v2/health/ready"), None, deadline)?.status == 200)
    }

    /// `GET /v2/models/{m}/ready`.
    pub fn model_ready(&self, deadline: Duration) -> Result<bool> {
        Ok(self.exchange(&self.model_path("/ready"), None, deadline)?.status == 200)
    }

    /// `GET /v2/models/{m}`.
    pub fn metadata(&self, deadline: Duration) -> Result<ModelMetadata> {
        let reply = Self::expect_ok(self.exchange(&self.model_path(""), None, deadline)?)?;
        serde_json::from_slice(&reply.body).map_err(|e| CloudError::Malformed(format!("model metadata: {e}")))
    }

    /// `POST /v2/models/{m}/infer`, within `deadline` (connecting included). The request is sent
    /// as JSON, or with the binary extension when the config says so; a binary answer is
    /// recognised by its [`HEADER_LENGTH`] header, whatever was asked.
    pub fn infer(&self, request: &InferRequest, deadline: Duration) -> Result<InferResponse> {
        let binary = self.config.binary;
        let mut request = request.clone();
        request.binary_output = binary;
        let reply = Self::expect_ok(self.exchange(&self.model_path("/infer"), Some(request.encode(binary)), deadline)?)?;
        InferResponse::decode(&reply.body, reply.header_len)
    }
}

fn transport_error(e: ureq::Error, deadline: Duration) -> CloudError {
    use std::io::ErrorKind::*;
    match e {
        ureq::Error::Timeout(_) => CloudError::Timeout(deadline),
        ureq::Error::Io(io) if matches!(io.kind(), TimedOut | WouldBlock) => CloudError::Timeout(deadline),
        ureq::Error::Io(io) if matches!(io.kind(), ConnectionRefused | AddrNotAvailable | NotFound | PermissionDenied) => CloudError::Connect(io.to_string()),
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => CloudError::Connect(e.to_string()),
        ureq::Error::BodyExceedsLimit(n) => CloudError::Malformed(format!("the answer is larger than {n} bytes")),
        ureq::Error::BadUri(u) => CloudError::Config(format!("bad URL {u}")),
        other => CloudError::Transport(other.to_string()),
    }
}
