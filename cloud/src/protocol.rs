//! The Open Inference Protocol v2 wire format (KServe v2, Triton, MLServer): request and response
//! bodies as JSON, and the binary tensor data extension, shared by the client and `mote serve`.
//!
//! A tensor here is always numeric and held as `f32` values; other datatypes are converted when
//! read (integers, `FP64`, `BOOL`) and written as `FP32`. The binary extension puts a JSON header
//! first and the raw little-endian tensor bytes after it, in input (or output) order; its length
//! travels in the `Inference-Header-Content-Length` HTTP header, and each tensor that is sent as
//! bytes says so with `parameters.binary_data_size`. Real servers differ in what they omit
//! (`parameters`, `model_version`, `id` may be missing or `null`), so every optional field is
//! optional here too.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::CloudError;

/// The HTTP header holding the JSON header's length in a binary-extension body.
pub const HEADER_LENGTH: &str = "Inference-Header-Content-Length";

/// One named tensor: its shape and its values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) -> Result<Tensor, CloudError> {
        let t = Tensor { name: name.into(), shape, data };
        t.check()?;
        Ok(t)
    }

    /// The tensor's values agree with its shape.
    pub fn check(&self) -> Result<(), CloudError> {
        let n: usize = self.shape.iter().product();
        if n != self.data.len() {
            return Err(CloudError::Shape(format!("tensor {:?} has shape {:?} ({n} values) but {} values", self.name, self.shape, self.data.len())));
        }
        Ok(())
    }

    /// Rows along the first dimension (a batch), each with shape `[1, rest...]`.
    pub fn rows(&self) -> Vec<Tensor> {
        let n = self.shape.first().copied().unwrap_or(1).max(1);
        let len = self.data.len() / n;
        let shape: Vec<usize> = std::iter::once(1).chain(self.shape.iter().skip(1).copied()).collect();
        self.data.chunks(len.max(1)).take(n).map(|c| Tensor { name: self.name.clone(), shape: shape.clone(), data: c.to_vec() }).collect()
    }

    /// Stacks tensors of shape `[k_i, rest...]` (same `rest`) into `[Σ k_i, rest...]`.
    pub fn stack(parts: &[Tensor]) -> Result<Tensor, CloudError> {
        let first = parts.first().ok_or_else(|| CloudError::Shape("nothing to stack".into()))?;
        let rest = &first.shape[1.min(first.shape.len())..];
        let mut rows = 0;
        let mut data = Vec::with_capacity(first.data.len() * parts.len());
        for p in parts {
            if p.shape.len() != first.shape.len() || &p.shape[1.min(p.shape.len())..] != rest {
                return Err(CloudError::Shape(format!("cannot stack shapes {:?} and {:?}", first.shape, p.shape)));
            }
            rows += p.shape.first().copied().unwrap_or(1);
            data.extend_from_slice(&p.data);
        }
        let shape = std::iter::once(rows).chain(rest.iter().copied()).collect();
        Ok(Tensor { name: first.name.clone(), shape, data })
    }
}

/// An infer request: an id (echoed back, and the key that makes retries idempotent) and inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct InferRequest {
    pub id: String,
    pub inputs: Vec<Tensor>,
    /// Ask for the outputs as binary data.
    pub binary_output: bool,
}

/// An infer response; `id` is what the server echoed (some servers omit it).
#[derive(Clone, Debug, PartialEq)]
pub struct InferResponse {
    pub model_name: String,
    pub model_version: Option<String>,
    pub id: Option<String>,
    pub outputs: Vec<Tensor>,
}

/// A tensor's name, datatype and shape (`-1` for a dynamic dimension), as model metadata gives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorMetadata {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<i64>,
}

/// `GET /v2/models/{m}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub versions: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub platform: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub inputs: Vec<TensorMetadata>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub outputs: Vec<TensorMetadata>,
}

fn null_as_default<'de, D: serde::Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Serialize, Deserialize)]
struct WireTensor {
    name: String,
    shape: Vec<usize>,
    datatype: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parameters: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
}

#[derive(Serialize, Deserialize)]
struct WireRequestedOutput {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parameters: Option<Map<String, Value>>,
}

#[derive(Serialize, Deserialize)]
struct WireRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parameters: Option<Map<String, Value>>,
    inputs: Vec<WireTensor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outputs: Option<Vec<WireRequestedOutput>>,
}

#[derive(Serialize, Deserialize)]
struct WireResponse {
    #[serde(default)]
    model_name: Option<String>,
    #[serde(default)]
    model_version: Option<Value>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    outputs: Option<Vec<WireTensor>>,
}

fn malformed(what: impl std::fmt::Display) -> CloudError {
    CloudError::Malformed(what.to_string())
}

fn binary_param(size: usize) -> Option<Map<String, Value>> {
    let mut m = Map::new();
    m.insert("binary_data_size".into(), Value::from(size));
    Some(m)
}

/// Serializes tensors: JSON `data` arrays, or (binary) sizes in the header and bytes after it.
fn wire_tensors(tensors: &[Tensor], binary: bool, tail: &mut Vec<u8>) -> Vec<WireTensor> {
    tensors
        .iter()
        .map(|t| {
            if binary {
                for v in &t.data {
                    tail.extend_from_slice(&v.to_le_bytes());
                }
                WireTensor { name: t.name.clone(), shape: t.shape.clone(), datatype: "FP32".into(), parameters: binary_param(t.data.len() * 4), data: None }
            } else {
                let data = t.data.iter().map(|&v| json_f32(v)).collect();
                WireTensor { name: t.name.clone(), shape: t.shape.clone(), datatype: "FP32".into(), parameters: None, data: Some(Value::Array(data)) }
            }
        })
        .collect()
}

/// NaN and infinities have no JSON number: they are sent as null (a server then rejects them).
fn json_f32(v: f32) -> Value {
    serde_json::Number::from_f64(v as f64).map(Value::Number).unwrap_or(Value::Null)
}

/// Joins a JSON header and a binary tail into a body; returns it and the header length to send
/// in [`HEADER_LENGTH`] (`None`: plain JSON).
fn join(header: &impl Serialize, tail: Vec<u8>, binary: bool) -> (Vec<u8>, Option<usize>) {
    // Serializing these plain structs cannot fail.
    let mut body = serde_json::to_vec(header).unwrap_or_default();
    if !binary {
        return (body, None);
    }
    let len = body.len();
    body.extend_from_slice(&tail);
    (body, Some(len))
}

/// Splits a body into its JSON header and binary tail.
fn split(body: &[u8], header_len: Option<usize>) -> Result<(&[u8], &[u8]), CloudError> {
    match header_len {
        None => Ok((body, &[])),
        Some(n) if n <= body.len() => Ok(body.split_at(n)),
        Some(n) => Err(malformed(format!("{HEADER_LENGTH} is {n} but the body has {} bytes", body.len()))),
    }
}

/// Reads wire tensors: JSON data (flat or nested arrays) or binary data taken in order from `tail`.
fn read_tensors(wire: Vec<WireTensor>, mut tail: &[u8]) -> Result<Vec<Tensor>, CloudError> {
    let mut out = vec![];
    for w in wire {
        let size = w.parameters.as_ref().and_then(|p| p.get("binary_data_size")).and_then(Value::as_u64);
        let data = match (size, w.data) {
            (Some(size), _) => {
                let size = size as usize;
                if size > tail.len() {
                    return Err(malformed(format!("tensor {:?} has {size} binary bytes but {} remain", w.name, tail.len())));
                }
                let (bytes, rest) = tail.split_at(size);
                tail = rest;
                decode_binary(&w.name, &w.datatype, bytes)?
            }
            (None, Some(v)) => {
                let mut flat = vec![];
                flatten(&v, &mut flat).map_err(|e| malformed(format!("tensor {:?}: {e}", w.name)))?;
                flat
            }
            (None, None) => return Err(malformed(format!("tensor {:?} has neither data nor binary_data_size", w.name))),
        };
        let t = Tensor { name: w.name, shape: w.shape, data };
        t.check()?;
        out.push(t);
    }
    Ok(out)
}

fn flatten(v: &Value, out: &mut Vec<f32>) -> Result<(), String> {
    match v {
        Value::Array(items) => items.iter().try_for_each(|i| flatten(i, out)),
        Value::Number(n) => {
            out.push(n.as_f64().ok_or("a number out of range")? as f32);
            Ok(())
        }
        Value::Bool(b) => {
            out.push(f32::from(u8::from(*b)));
            Ok(())
        }
        other => Err(format!("expected numbers, found {other}")),
    }
}

fn decode_binary(name: &str, datatype: &str, b: &[u8]) -> Result<Vec<f32>, CloudError> {
    let width = match datatype {
        "FP32" | "INT32" | "UINT32" => 4,
        "FP64" | "INT64" | "UINT64" => 8,
        "INT16" | "UINT16" => 2,
        "INT8" | "UINT8" | "BOOL" => 1,
        other => return Err(malformed(format!("tensor {name:?}: binary datatype {other} is not supported"))),
    };
    if b.len() % width != 0 {
        return Err(malformed(format!("tensor {name:?}: {} bytes is not a whole number of {datatype}", b.len())));
    }
    let w4 = |c: &[u8]| [c[0], c[1], c[2], c[3]];
    let w8 = |c: &[u8]| [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]];
    Ok(b.chunks_exact(width)
        .map(|c| match datatype {
            "FP32" => f32::from_le_bytes(w4(c)),
            "INT32" => i32::from_le_bytes(w4(c)) as f32,
            "UINT32" => u32::from_le_bytes(w4(c)) as f32,
            "FP64" => f64::from_le_bytes(w8(c)) as f32,
            "INT64" => i64::from_le_bytes(w8(c)) as f32,
            "UINT64" => u64::from_le_bytes(w8(c)) as f32,
            "INT16" => i16::from_le_bytes([c[0], c[1]]) as f32,
            "UINT16" => u16::from_le_bytes([c[0], c[1]]) as f32,
            "INT8" => c[0] as i8 as f32,
            _ => c[0] as f32,
        })
        .collect())
}

impl InferRequest {
    /// The request body, and the JSON header length when `binary` (send it in [`HEADER_LENGTH`]).
    pub fn encode(&self, binary: bool) -> (Vec<u8>, Option<usize>) {
        let mut tail = vec![];
        let inputs = wire_tensors(&self.inputs, binary, &mut tail);
        let parameters = self.binary_output.then(|| {
            let mut m = Map::new();
            m.insert("binary_data_output".into(), Value::Bool(true));
            m
        });
        let header = WireRequest { id: Some(self.id.clone()), parameters, inputs, outputs: None };
        join(&header, tail, binary)
    }

    /// Parses a request body (`header_len` from [`HEADER_LENGTH`], if the request had it).
    pub fn decode(body: &[u8], header_len: Option<usize>) -> Result<InferRequest, CloudError> {
        let (json, tail) = split(body, header_len)?;
        let w: WireRequest = serde_json::from_slice(json).map_err(malformed)?;
        let flag = |p: &Option<Map<String, Value>>, k: &str| p.as_ref().and_then(|p| p.get(k)).and_then(Value::as_bool).unwrap_or(false);
        let binary_output = flag(&w.parameters, "binary_data_output") || w.outputs.iter().flatten().any(|o| flag(&o.parameters, "binary_data"));
        Ok(InferRequest { id: w.id.unwrap_or_default(), inputs: read_tensors(w.inputs, tail)?, binary_output })
    }
}

impl InferResponse {
    /// The response body, and the JSON header length when `binary`.
    pub fn encode(&self, binary: bool) -> (Vec<u8>, Option<usize>) {
        let mut tail = vec![];
        let outputs = wire_tensors(&self.outputs, binary, &mut tail);
        let header = WireResponse {
            model_name: Some(self.model_name.clone()),
            model_version: self.model_version.clone().map(Value::String),
            id: self.id.clone(),
            outputs: Some(outputs),
        };
        join(&header, tail, binary)
    }

    /// Parses a response body (`header_len` from [`HEADER_LENGTH`], if the response had it).
    pub fn decode(body: &[u8], header_len: Option<usize>) -> Result<InferResponse, CloudError> {
        let (json, tail) = split(body, header_len)?;
        let w: WireResponse = serde_json::from_slice(json).map_err(malformed)?;
        let model_version = match w.model_version {
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let outputs = w.outputs.ok_or_else(|| malformed("the response has no outputs"))?;
        Ok(InferResponse { model_name: w.model_name.unwrap_or_default(), model_version, id: w.id, outputs: read_tensors(outputs, tail)? })
    }
}

/// The message of an error body: `{"error": ...}` (Triton, KServe), `{"detail": ...}` (FastAPI
/// servers such as MLServer), or the text itself.
pub fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) {
        for key in ["error", "detail", "message"] {
            match m.get(key) {
                Some(Value::String(s)) => return s.clone(),
                Some(v) if !v.is_null() => return v.to_string(),
                _ => {}
            }
        }
    }
    text.trim().chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> InferRequest {
        InferRequest { id: "r1".into(), inputs: vec![Tensor::new("x", vec![2, 3], vec![1.0, -2.5, 3.0, 0.0, 1e-3, 7.0]).unwrap()], binary_output: false }
    }

    #[test]
    fn json_and_binary_requests_round_trip() {
        for binary in [false, true] {
            let (body, len) = request().encode(binary);
            assert_eq!(len.is_some(), binary);
            let back = InferRequest::decode(&body, len).unwrap();
            assert_eq!(back, request());
        }
    }

    #[test]
    fn binary_response_round_trips_and_plain_json_reads_nested_data() {
        let r = InferResponse { model_name: "m".into(), model_version: None, id: Some("r1".into()), outputs: vec![Tensor::new("y", vec![1, 2], vec![0.25, 0.75]).unwrap()] };
        let (body, len) = r.encode(true);
        assert_eq!(InferResponse::decode(&body, len).unwrap(), r);
        let nested = br#"{"model_name":"m","model_version":null,"outputs":[{"name":"y","shape":[1,2],"datatype":"FP64","parameters":null,"data":[[0.25,0.75]]}]}"#;
        let got = InferResponse::decode(nested, None).unwrap();
        assert_eq!(got.outputs[0].data, vec![0.25, 0.75]);
        assert_eq!(got.id, None);
    }

    #[test]
    fn bad_bodies_are_typed_errors() {
        assert!(matches!(InferResponse::decode(b"{not json", None), Err(CloudError::Malformed(_))));
        let short = br#"{"outputs":[{"name":"y","shape":[1,3],"datatype":"FP32","data":[1,2]}]}"#;
        assert!(matches!(InferResponse::decode(short, None), Err(CloudError::Shape(_))));
        let (body, len) = request().encode(true);
        assert!(matches!(InferRequest::decode(&body[..body.len() - 1], len), Err(CloudError::Malformed(_))));
        assert!(matches!(InferRequest::decode(&body, Some(body.len() + 1)), Err(CloudError::Malformed(_))));
    }

    #[test]
    fn error_bodies_of_each_server_style() {
        assert_eq!(error_message(br#"{"error":"bad input"}"#), "bad input");
        assert_eq!(error_message(br#"{"detail":"Unprocessable"}"#), "Unprocessable");
        assert_eq!(error_message(b"plain text\n"), "plain text");
    }

    #[test]
    fn rows_and_stack_are_inverse() {
        let t = &request().inputs[0];
        let rows = t.rows();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].data, vec![0.0, 1e-3, 7.0]);
        assert_eq!(&Tensor::stack(&rows).unwrap(), t);
    }
}
