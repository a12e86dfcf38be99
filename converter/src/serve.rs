//! `mote serve`: an Open Inference Protocol v2 server for one model, a `.mote` file (run by
//! mote-runtime, exactly as on the device) or an ONNX file (run by tract in float), so a hybrid
//! deployment's cloud half, its demo and its tests need no Python. It is a test and demo server,
//! not a serving cluster: for production the same ONNX model goes on KServe, Triton or MLServer,
//! which speak the same protocol.
//!
//! Routes: `GET /v2/health/live`, `GET /v2/health/ready`, `GET /v2` (server metadata),
//! `GET /v2/models/{m}`, `GET /v2/models/{m}/ready`, `POST /v2/models/{m}/infer` with JSON or
//! binary tensor data (the request's `Inference-Header-Content-Length` header; the answer is binary
//! when the request asks with `binary_data_output`). An input may carry a batch of rows
//! (`[N, ...]` where the model takes `[1, ...]`); the rows run one after the other and the
//! outputs come back stacked. Errors are `{"error": "..."}` with 400 (bad request), 404 (no such
//! model) or 500.

use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mote_cloud::protocol::{InferRequest, InferResponse, ModelMetadata, Tensor, TensorMetadata, HEADER_LENGTH};
use mote_runtime::format::writer::AlignedBytes;
use mote_runtime::{Interpreter, Model};
use serde_json::json;

use crate::error::{build_err, ConvertError, Result};
use crate::reference::Reference;

/// Rows one infer request may carry.
pub const MAX_BATCH: usize = 4096;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 << 20;

enum Backend {
    Mote(Model<'static>),
    Onnx(Reference),
}

/// A model ready to serve: its name, how it runs, and its inputs' and outputs' shapes (batch 1).
pub struct Served {
    pub name: String,
    backend: Backend,
    pub inputs: Vec<(String, Vec<usize>)>,
    pub outputs: Vec<(String, Vec<usize>)>,
}

/// Why a request failed: the caller's fault (400) or the model's (500).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    BadRequest(String),
    #[error("running the model failed: {0}")]
    Run(String),
}

impl Served {
    /// Loads a `.mote` file (by its magic) or an ONNX file; `name` defaults to the file stem.
    pub fn load(path: &Path, name: Option<String>) -> Result<Served> {
        let bytes = std::fs::read(path).map_err(|cause| ConvertError::Io { path: path.to_path_buf(), cause })?;
        let name = name.unwrap_or_else(|| path.file_stem().and_then(|s| s.to_str()).unwrap_or("model").to_string());
        let is_mote = path.extension().is_some_and(|e| e == "mote");
        if is_mote {
            // The server lives as long as the process: the model's bytes are leaked on purpose
            // so that the parsed model can borrow them for 'static.
            let aligned: &'static AlignedBytes = Box::leak(Box::new(AlignedBytes::new(&bytes)));
            let model = Model::from_bytes(aligned).map_err(|e| ConvertError::Data { path: path.to_path_buf(), reason: format!("not a valid Mote model: {e}") })?;
            let io = |ids: &[u16]| -> Vec<(String, Vec<usize>)> {
                ids.iter().filter_map(|&id| model.tensor(id)).map(|t| (t.name.to_string(), t.shape.dims().iter().map(|&d| d as usize).collect())).collect()
            };
            let (inputs, outputs) = (io(model.inputs()), io(model.outputs()));
            Ok(Served { name, backend: Backend::Mote(model), inputs, outputs })
        } else {
            let reference = Reference::load(path, &[])?;
            let inputs = reference.inputs().map(|(n, s)| (n.to_string(), s.to_vec())).collect();
            let outputs = reference.outputs().to_vec();
            Ok(Served { name, backend: Backend::Onnx(reference), inputs, outputs })
        }
    }

    pub fn platform(&self) -> &'static str {
        match self.backend {
            Backend::Mote(_) => "mote",
            Backend::Onnx(_) => "onnx_tract",
        }
    }

    pub fn metadata(&self) -> ModelMetadata {
        let meta = |(n, s): &(String, Vec<usize>)| TensorMetadata {
            name: n.clone(),
            datatype: "FP32".into(),
            shape: s.iter().enumerate().map(|(i, &d)| if i == 0 { -1 } else { d as i64 }).collect(),
        };
        ModelMetadata { name: self.name.clone(), versions: vec![], platform: self.platform().into(), inputs: self.inputs.iter().map(meta).collect(), outputs: self.outputs.iter().map(meta).collect() }
    }

    /// Runs one row: one flat slice per input, in graph order; every output, flattened.
    pub fn run_row(&self, inputs: &[&[f32]]) -> Result<Vec<Vec<f32>>> {
        match &self.backend {
            Backend::Onnx(r) => r.run(inputs),
            Backend::Mote(model) => {
                let mut arena = vec![0u8; model.arena_bytes() + 16];
                let mut it = Interpreter::new(model, &mut arena).map_err(build_err)?;
                for (i, x) in inputs.iter().enumerate() {
                    it.set_input_f32(i, x).map_err(build_err)?;
                }
                it.invoke().map_err(build_err)?;
                self.outputs
                    .iter()
                    .enumerate()
                    .map(|(o, (_, shape))| {
                        let mut v = vec![0f32; shape.iter().product()];
                        it.output_to_f32(o, &mut v).map_err(build_err)?;
                        Ok(v)
                    })
                    .collect()
            }
        }
    }

    /// Answers an infer request: inputs matched by name (or by position when the names are not
    /// the model's), each `[N, ...]` with the model's row shape.
    pub fn infer(&self, request: &InferRequest) -> std::result::Result<InferResponse, ServeError> {
        let bad = ServeError::BadRequest;
        if request.inputs.len() != self.inputs.len() {
            return Err(bad(format!("model {} takes {} inputs, the request has {}", self.name, self.inputs.len(), request.inputs.len())));
        }
        let by_name = self.inputs.iter().all(|(n, _)| request.inputs.iter().any(|t| &t.name == n));
        let ordered: Vec<&Tensor> = if by_name {
            self.inputs.iter().filter_map(|(n, _)| request.inputs.iter().find(|t| &t.name == n)).collect()
        } else {
            request.inputs.iter().collect()
        };
        let mut rows = None;
        for (t, (name, shape)) in ordered.iter().zip(&self.inputs) {
            let n = t.shape.first().copied().unwrap_or(0);
            if t.shape.len() != shape.len() || t.shape[1..] != shape[1..] || n == 0 {
                return Err(bad(format!("input {name:?} takes [N, {}], got {:?}", shape[1..].iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "), t.shape)));
            }
            if rows.is_some_and(|r| r != n) {
                return Err(bad(format!("inputs have different batch sizes ({} and {n})", rows.unwrap_or(0))));
            }
            rows = Some(n);
        }
        let rows = rows.unwrap_or(1);
        if rows > MAX_BATCH {
            return Err(bad(format!("a batch of {rows} rows is over the limit of {MAX_BATCH}")));
        }
        let mut outs: Vec<Vec<f32>> = vec![vec![]; self.outputs.len()];
        for r in 0..rows {
            let row: Vec<&[f32]> = ordered.iter().map(|t| {
                let len = t.data.len() / rows;
                &t.data[r * len..(r + 1) * len]
            }).collect();
            let got = self.run_row(&row).map_err(|e| ServeError::Run(e.to_string()))?;
            for (acc, v) in outs.iter_mut().zip(got) {
                acc.extend(v);
            }
        }
        let outputs = self
            .outputs
            .iter()
            .zip(outs)
            .map(|((name, shape), data)| {
                let per_row = data.len() / rows;
                let rest: Vec<usize> = if shape.iter().skip(1).product::<usize>() == per_row { shape[1..].to_vec() } else { vec![per_row] };
                Tensor { name: name.clone(), shape: std::iter::once(rows).chain(rest).collect(), data }
            })
            .collect();
        Ok(InferResponse { model_name: self.name.clone(), model_version: None, id: Some(request.id.clone()), outputs })
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

fn no_model(name: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("no model named {name:?}"))
}

async fn model_meta(State(s): State<Arc<Served>>, UrlPath(model): UrlPath<String>) -> Response {
    if model != s.name {
        return no_model(&model);
    }
    Json(s.metadata()).into_response()
}

async fn model_ready(State(s): State<Arc<Served>>, UrlPath(model): UrlPath<String>) -> Response {
    if model != s.name {
        return no_model(&model);
    }
    Json(json!({ "name": s.name, "ready": true })).into_response()
}

async fn infer(State(s): State<Arc<Served>>, UrlPath(model): UrlPath<String>, headers: HeaderMap, body: Bytes) -> Response {
    if model != s.name {
        return no_model(&model);
    }
    let header_len = match headers.get(HEADER_LENGTH).map(|v| v.to_str().ok().and_then(|v| v.trim().parse::<usize>().ok())) {
        None => None,
        Some(Some(n)) => Some(n),
        Some(None) => return error(StatusCode::BAD_REQUEST, format!("{HEADER_LENGTH} is not a length")),
    };
    let request = match InferRequest::decode(&body, header_len) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let binary = request.binary_output;
    let served = s.clone();
    match tokio::task::spawn_blocking(move || served.infer(&request)).await {
        Ok(Ok(response)) => {
            let (body, header_len) = response.encode(binary);
            match header_len {
                Some(n) => ([(header::CONTENT_TYPE, "application/octet-stream".to_string()), (header::HeaderName::from_static("inference-header-content-length"), n.to_string())], body).into_response(),
                None => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            }
        }
        Ok(Err(e @ ServeError::BadRequest(_))) => error(StatusCode::BAD_REQUEST, e),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("the worker failed: {e}")),
    }
}

/// The OIP v2 routes for one model.
pub fn router(served: Arc<Served>) -> Router {
    Router::new()
        .route("/v2/health/live", get(|| async { Json(json!({ "live": true })) }))
        .route("/v2/health/ready", get(|| async { Json(json!({ "ready": true })) }))
        .route("/v2", get(|| async { Json(json!({ "name": "mote", "version": env!("CARGO_PKG_VERSION"), "extensions": ["binary_tensor_data"] })) }))
        .route("/v2/models/{model}", get(model_meta))
        .route("/v2/models/{model}/ready", get(model_ready))
        .route("/v2/models/{model}/infer", post(infer))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(served)
}

/// Serves `served` on `listener` until the process ends (or ctrl-c).
pub async fn serve(listener: tokio::net::TcpListener, served: Arc<Served>) -> std::io::Result<()> {
    axum::serve(listener, router(served)).with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Starts a server on `host:port` (0: any free port) on a thread of its own with its own
/// runtime; returns the bound address. For tests and `mote hybrid` against a local server.
pub fn spawn(served: Served, host: &str, port: u16) -> std::io::Result<std::net::SocketAddr> {
    let std_listener = std::net::TcpListener::bind((host, port))?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let listener = {
        let _context = rt.enter();
        tokio::net::TcpListener::from_std(std_listener)?
    };
    let served = Arc::new(served);
    std::thread::spawn(move || rt.block_on(async move { axum::serve(listener, router(served)).await }));
    Ok(addr)
}
