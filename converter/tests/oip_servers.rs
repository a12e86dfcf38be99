//! mote-cloud's client against real third-party OIP v2 servers on loopback, MLServer 1.7.1 and
//! KServe 0.21 serving the float ONNX model with onnxruntime, and against `mote serve` running
//! it with tract: the same answers (within float tolerance) from all three, JSON and binary
//! (KServe), and each server's own error bodies read as typed errors.
//!
//! The servers come from `bash scripts/oip-servers.sh install` (Python venvs from PyPI under
//! `target/oip-venvs`, or `$MOTE_OIP_VENVS`). Without them the test says so and passes, unless
//! `MOTE_REQUIRE_OIP_SERVERS=1` (set by `scripts/test.sh`, so CI always runs it).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{bench, max_abs_diff};
use mote_cloud::protocol::{error_message, InferRequest, Tensor};
use mote_cloud::{ClientConfig, CloudError, Hybrid, HybridConfig, Measure, OipClient, Policy, Reason, Scores};
use mote_converter::data::Dataset;
use mote_converter::serve::{spawn, Served};

const T: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn venvs() -> Option<PathBuf> {
    let dir = std::env::var_os("MOTE_OIP_VENVS").map(PathBuf::from).unwrap_or_else(|| repo().join("target/oip-venvs"));
    let have = ["mlserver", "kserve"].iter().all(|k| dir.join(k).join("bin/python").exists());
    if have {
        return Some(dir);
    }
    let why = format!("no MLServer / KServe venvs in {} (bash scripts/oip-servers.sh install)", dir.display());
    assert!(std::env::var("MOTE_REQUIRE_OIP_SERVERS").as_deref() != Ok("1"), "MOTE_REQUIRE_OIP_SERVERS=1 but {why}");
    eprintln!("SKIPPED: {why}");
    None
}

/// A server process started by scripts/oip-servers.sh; its process group is ended on drop.
struct Server {
    pid: i32,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("--").arg(format!("-{}", self.pid)).status();
    }
}

fn free_port() -> u16 {
    loop {
        let p = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if p < 65000 && (1..3).all(|k| TcpListener::bind(("127.0.0.1", p + k)).is_ok()) {
            return p;
        }
    }
}

fn start(kind: &str, venvs: &Path, model: &Path, name: &str) -> Server {
    let port = free_port();
    let out = Command::new("bash")
        .current_dir(repo())
        .env("MOTE_OIP_VENVS", venvs)
        .args(["scripts/oip-servers.sh", "start", kind, model.to_str().unwrap(), name, &port.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{kind} did not start: {}", String::from_utf8_lossy(&out.stderr));
    let pid = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or_else(|_| panic!("{kind}: no pid in {:?}", String::from_utf8_lossy(&out.stdout)));
    Server { pid, url: format!("http://127.0.0.1:{port}") }
}

fn client(url: &str, name: &str, binary: bool) -> OipClient {
    let mut c = ClientConfig::new(url, name);
    c.binary = binary;
    OipClient::new(c)
}

/// Sends `body` raw and returns (status, body).
fn raw_post(url: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
    s.write_all(body).unwrap();
    let mut reply = vec![];
    s.read_to_end(&mut reply).unwrap();
    let text = String::from_utf8_lossy(&reply);
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body_at = text.find("\r\n\r\n").map_or(reply.len(), |i| i + 4);
    (status, reply[body_at..].to_vec())
}

#[test]
fn mlserver_kserve_and_mote_serve_give_the_same_answers() {
    let Some(venvs) = venvs() else { return };
    let onnx = bench("models/ic_resnet8.onnx");
    let name = "ic_resnet8";
    let mlserver = start("mlserver", &venvs, &onnx, name);
    let kserve = start("kserve", &venvs, &onnx, name);
    let mote = format!("http://{}", spawn(Served::load(&onnx, None).unwrap(), "127.0.0.1", 0).unwrap());

    let inputs = vec![("input_1".to_string(), vec![1, 32, 32, 3])];
    let set = Dataset::load(&bench("data/ic_cifar10.npz"), &inputs, None, Some("eval_idx")).unwrap();
    let rows = 8;
    let data: Vec<f32> = (0..rows).flat_map(|r| set.row(0, r).to_vec()).collect();
    let request = InferRequest { id: "same-8".into(), inputs: vec![Tensor::new("input_1", vec![rows, 32, 32, 3], data).unwrap()], binary_output: false };

    let mut answers = vec![];
    for (who, url, binary) in [("mote serve", &mote, false), ("mote serve binary", &mote, true), ("MLServer", &mlserver.url, false), ("KServe", &kserve.url, false), ("KServe binary", &kserve.url, true)] {
        let c = client(url, name, binary);
        assert!(c.live(T).unwrap() && c.ready(T).unwrap() && c.model_ready(T).unwrap(), "{who} is not ready");
        assert_eq!(c.metadata(T).unwrap().name, name, "{who}");
        let r = c.infer(&request, T).unwrap_or_else(|e| panic!("{who}: {e}"));
        assert_eq!(r.outputs[0].shape, vec![rows, 10], "{who}");
        answers.push((who, r.outputs[0].data.clone()));
    }
    let (_, want) = &answers[0];
    for (who, got) in &answers[1..] {
        let d = max_abs_diff(got, want);
        assert!(d <= 1e-4, "{who} differs from mote serve by {d}");
    }

    // Their own error bodies: 4xx with {"error"} or {"detail"}, read as a message either way.
    for (who, url) in [("MLServer", &mlserver.url), ("KServe", &kserve.url), ("mote serve", &mote)] {
        let (status, body) = raw_post(url, &format!("/v2/models/{name}/infer"), b"{\"inputs\": [");
        assert!((400..500).contains(&status), "{who}: malformed JSON answered {status}");
        assert!(!error_message(&body).is_empty(), "{who}: empty error body");
        let missing = client(url, "no_such_model", false).infer(&request, T);
        assert!(matches!(&missing, Err(e @ CloudError::Status { .. }) if !e.retryable()), "{who}: {missing:?}");
    }

    // The hybrid client with KServe (binary) as its cloud: escalated answers are KServe's.
    let policy = Policy { measure: Measure::MaxProb, scores: Scores::Probabilities, threshold: 1.01 };
    let mut h = Hybrid::new(client(&kserve.url, name, true), HybridConfig { deadline: Duration::from_secs(10), ..HybridConfig::new(policy) });
    for r in 0..3 {
        let x = Tensor::new("input_1", vec![1, 32, 32, 3], set.row(0, r).to_vec()).unwrap();
        let a = h.classify(&x, |_| vec![0.1; 10]);
        assert_eq!(a.reason, Reason::Escalated);
        assert!(max_abs_diff(a.cloud.as_ref().unwrap(), &want[r * 10..(r + 1) * 10]) <= 1e-4);
    }
}
