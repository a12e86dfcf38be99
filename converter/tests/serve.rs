//! `mote serve` on loopback, queried by mote-cloud's client: health, metadata, infer with JSON
//! and binary tensors, batches, typed errors; the hybrid client with the device `.mote` model and
//! the served float ONNX model as its cloud; `mote hybrid` on real data.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{bench, max_abs_diff, scratch};
use mote_cloud::protocol::{InferRequest, Tensor};
use mote_cloud::{ClientConfig, CloudError, Hybrid, HybridConfig, Measure, OipClient, Policy, Reason, Scores};
use mote_converter::data::Dataset;
use mote_converter::reference::Reference;
use mote_converter::serve::{spawn, Served};

const T: Duration = Duration::from_secs(30);

fn kws_rows(n: usize) -> (Vec<(String, Vec<usize>)>, Dataset) {
    let inputs = vec![("input_1".to_string(), vec![1, 49, 10, 1])];
    let set = Dataset::load(&bench("data/kws_mfcc.npz"), &inputs, None, None).unwrap();
    assert!(set.len() >= n);
    (inputs, set)
}

fn batch(set: &Dataset, rows: std::ops::Range<usize>) -> Tensor {
    let n = rows.len();
    let data: Vec<f32> = rows.flat_map(|r| set.row(0, r).to_vec()).collect();
    Tensor::new("input_1", vec![n, 49, 10, 1], data).unwrap()
}

fn client(addr: std::net::SocketAddr, model: &str, binary: bool) -> OipClient {
    let mut c = ClientConfig::new(format!("http://{addr}"), model);
    c.binary = binary;
    OipClient::new(c)
}

#[test]
fn onnx_model_answers_as_tract_does_in_json_and_binary() {
    let onnx = bench("models/kws_dscnn.onnx");
    let addr = spawn(Served::load(&onnx, None).unwrap(), "127.0.0.1", 0).unwrap();
    let c = client(addr, "kws_dscnn", false);
    assert!(c.live(T).unwrap() && c.ready(T).unwrap() && c.model_ready(T).unwrap());
    let meta = c.metadata(T).unwrap();
    assert_eq!(meta.name, "kws_dscnn");
    assert_eq!(meta.inputs[0].shape, vec![-1, 49, 10, 1]);
    assert_eq!(meta.outputs.len(), 1);

    let (inputs, set) = kws_rows(6);
    let reference = Reference::load(&onnx, &inputs).unwrap();
    let request = InferRequest { id: "kws-6".into(), inputs: vec![batch(&set, 0..6)], binary_output: false };
    let json = c.infer(&request, T).unwrap();
    let binary = client(addr, "kws_dscnn", true).infer(&request, T).unwrap();
    assert_eq!(json.id.as_deref(), Some("kws-6"));
    assert_eq!(json.outputs[0].shape, vec![6, 12]);
    assert_eq!(binary.outputs, json.outputs, "binary and JSON carry the same f32 values");
    for (r, row) in json.outputs[0].rows().iter().enumerate() {
        let want = reference.run(&[set.row(0, r)]).unwrap();
        assert!(max_abs_diff(&row.data, &want[0]) <= 1e-6, "row {r}: {:?} vs {:?}", row.data, want[0]);
    }
}

#[test]
fn mote_model_answers_exactly_as_the_runtime_does() {
    let dir = scratch("serve-mote");
    let onnx = bench("models/kws_dscnn.onnx");
    let calib = mote_converter::Calibration { path: bench("data/kws_mfcc.npz"), key: None, index: None, method: "minmax".parse().unwrap() };
    let opts = mote_converter::Options { name: None, input_shapes: vec![], float: false, calibration: Some(calib), keep_float: vec![], per_tensor_weights: false, target: None };
    let path = dir.join("kws.mote");
    std::fs::write(&path, mote_converter::convert(&onnx, &opts).unwrap().bytes).unwrap();
    let local = Served::load(&path, Some("kws".into())).unwrap();
    let addr = spawn(Served::load(&path, Some("kws".into())).unwrap(), "127.0.0.1", 0).unwrap();
    let (_, set) = kws_rows(4);
    let got = client(addr, "kws", true).infer(&InferRequest { id: "a".into(), inputs: vec![batch(&set, 0..4)], binary_output: false }, T).unwrap();
    assert_eq!(client(addr, "kws", false).metadata(T).unwrap().platform, "mote");
    for (r, row) in got.outputs[0].rows().iter().enumerate() {
        assert_eq!(row.data, local.run_row(&[set.row(0, r)]).unwrap()[0], "row {r}: served int8 output differs from the runtime's");
    }
}

#[test]
fn bad_requests_get_4xx_with_an_error_body() {
    let addr = spawn(Served::load(&bench("models/kws_dscnn.onnx"), Some("kws".into())).unwrap(), "127.0.0.1", 0).unwrap();
    let wrong = InferRequest { id: "w".into(), inputs: vec![Tensor::new("input_1", vec![1, 10, 49, 1], vec![0.0; 490]).unwrap()], binary_output: false };
    match client(addr, "kws", false).infer(&wrong, T) {
        Err(CloudError::Status { status: 400, message, .. }) => assert!(message.contains("input_1"), "{message}"),
        other => panic!("expected a 400, got {other:?}"),
    }
    assert!(matches!(client(addr, "nope", false).metadata(T), Err(CloudError::Status { status: 404, .. })));
    assert!(!client(addr, "nope", false).model_ready(T).unwrap());
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let body = b"{\"inputs\": [";
    write!(s, "POST /v2/models/kws/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
    s.write_all(body).unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 400") && reply.contains("\"error\""), "{reply}");
}

#[test]
fn hybrid_client_with_the_device_model_and_a_served_cloud_model() {
    let onnx = bench("models/kws_dscnn.onnx");
    let addr = spawn(Served::load(&onnx, None).unwrap(), "127.0.0.1", 0).unwrap();
    let (inputs, set) = kws_rows(34);
    let reference = Reference::load(&onnx, &inputs).unwrap();
    // The "device" is the float model with its scores flattened, so that some inputs escalate.
    let device = |t: &Tensor| -> Vec<f32> {
        let p = reference.run(&[&t.data]).unwrap().remove(0);
        let s: f32 = p.iter().map(|v| v.sqrt()).sum();
        p.iter().map(|v| v.sqrt() / s).collect()
    };
    let policy = Policy { measure: Measure::MaxProb, scores: Scores::Probabilities, threshold: 0.5 };
    let mut h = Hybrid::new(client(addr, "kws_dscnn", true), HybridConfig::new(policy));
    let (mut escalated, mut confident) = (0, 0);
    for r in 0..set.len() {
        let x = batch(&set, r..r + 1);
        let a = h.classify(&x, device);
        match a.reason {
            Reason::Escalated => {
                escalated += 1;
                let want = reference.run(&[set.row(0, r)]).unwrap().remove(0);
                assert!(max_abs_diff(a.cloud.as_ref().unwrap(), &want) <= 1e-6);
            }
            Reason::Confident => confident += 1,
            other => panic!("row {r}: {other:?}"),
        }
    }
    assert!(escalated > 0 && confident > 0, "{escalated} escalated, {confident} confident");
    assert_eq!(h.stats().requests, escalated, "one request per escalation");
}

#[test]
fn mote_hybrid_prints_the_curve_and_meets_the_target() {
    let dir = scratch("hybrid-cli");
    let mote = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mote")).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let onnx = bench("models/kws_dscnn.onnx");
    let data = bench("data/kws_mfcc.npz");
    let device = dir.join("kws.mote");
    mote(&["convert", onnx.to_str().unwrap(), "--calib", data.to_str().unwrap(), "-o", device.to_str().unwrap()]);
    let out = mote(&["hybrid", device.to_str().unwrap(), "--cloud", onnx.to_str().unwrap(), "--data", data.to_str().unwrap(), "--target-accuracy", "0.8", "--cloud-cost-per-1k", "0.5", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["samples"], 5);
    assert_eq!(v["cloud_accuracy"], 0.8, "4 of the 5 labelled clips (MANIFEST)");
    let curve = v["curve"].as_array().unwrap();
    assert_eq!(curve.first().unwrap()["accuracy"], v["device_accuracy"], "escalating nothing is the device alone");
    assert_eq!(curve.last().unwrap()["accuracy"], v["cloud_accuracy"], "escalating everything is the cloud alone");
    assert_eq!(curve.last().unwrap()["cost_per_1k"], 0.5);
    assert!(v["chosen"]["accuracy"].as_f64().unwrap() >= 0.8);
}
