//! The hybrid client against an in-process server that misbehaves on purpose: down, slow past the
//! deadline, 5xx, 429 with Retry-After, malformed JSON, a connection closed mid-body, wrong shapes.
//! Whatever the server does, the device answer comes back, nothing queued is lost across an
//! outage and a restart, the queue's bound holds, and the requests sent are counted and bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mote_cloud::protocol::{InferRequest, InferResponse, Tensor, HEADER_LENGTH};
use mote_cloud::{BreakerConfig, ClientConfig, CloudError, DiskQueue, Hybrid, HybridConfig, Measure, OipClient, Policy, QueueLimits, Reason, RetryPolicy, Scores};

const CLASSES: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Ok,
    Slow(Duration),
    Status(u16, Option<u64>),
    Malformed,
    ResetMidBody,
    WrongShape,
    /// 429 with `Retry-After: 1` on the first infer request, then answers.
    BusyOnce,
}

#[derive(Default)]
struct Seen {
    infer: usize,
    ready: usize,
    ids: Vec<String>,
    batch_rows: Vec<usize>,
}

struct FaultServer {
    url: String,
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Seen>>,
}

/// The cloud's answer for a sample: class `(first value) mod CLASSES`, surely.
fn cloud_scores(x: &[f32]) -> Vec<f32> {
    let mut v = vec![0.0; CLASSES];
    v[x[0] as usize % CLASSES] = 1.0;
    v
}

fn respond(s: &mut TcpStream, status: u16, extra: &str, body: &[u8]) {
    let head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n", body.len());
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
}

fn handle(stream: TcpStream, mode: Mode, seen: &Mutex<Seen>) {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let (mut len, mut header_len) = (0usize, None);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or(("", ""));
        if k.eq_ignore_ascii_case("content-length") {
            len = v.trim().parse().unwrap_or(0);
        }
        if k.eq_ignore_ascii_case(HEADER_LENGTH) {
            header_len = v.trim().parse().ok();
        }
    }
    let mut body = vec![0; len];
    if r.read_exact(&mut body).is_err() {
        return;
    }
    let mut s = r.into_inner();
    if path.ends_with("/ready") {
        seen.lock().unwrap().ready += 1;
        let ok = !matches!(mode, Mode::Status(..));
        respond(&mut s, if ok { 200 } else { 503 }, "", b"");
        return;
    }
    let first = {
        let mut seen = seen.lock().unwrap();
        seen.infer += 1;
        seen.infer == 1
    };
    let mode = match mode {
        Mode::BusyOnce if first => Mode::Status(429, Some(1)),
        Mode::BusyOnce => Mode::Ok,
        m => m,
    };
    let req = InferRequest::decode(&body, header_len).expect("the client sends valid requests");
    let rows = req.inputs[0].shape[0];
    {
        let mut seen = seen.lock().unwrap();
        seen.ids.push(req.id.clone());
        seen.batch_rows.push(rows);
    }
    match mode {
        Mode::Ok | Mode::Slow(_) | Mode::WrongShape => {
            if let Mode::Slow(d) = mode {
                std::thread::sleep(d);
            }
            let data: Vec<f32> = req.inputs[0].rows().iter().flat_map(|t| cloud_scores(&t.data)).collect();
            let classes = if mode == Mode::WrongShape { CLASSES + 1 } else { CLASSES };
            let data = if mode == Mode::WrongShape { vec![0.5; rows * classes] } else { data };
            let resp = InferResponse { model_name: "m".into(), model_version: None, id: Some(req.id), outputs: vec![Tensor::new("y", vec![rows, classes], data).unwrap()] };
            let (b, _) = resp.encode(false);
            respond(&mut s, 200, "Content-Type: application/json\r\n", &b);
        }
        Mode::Status(code, retry_after) => {
            let extra = retry_after.map(|s| format!("Retry-After: {s}\r\n")).unwrap_or_default();
            respond(&mut s, code, &extra, br#"{"error":"injected"}"#);
        }
        Mode::BusyOnce => unreachable!("resolved above"),
        Mode::Malformed => respond(&mut s, 200, "Content-Type: application/json\r\n", b"{\"outputs\": [{\"name\": "),
        Mode::ResetMidBody => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{\"outputs\":");
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl FaultServer {
    fn start(mode: Mode) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mode = Arc::new(Mutex::new(mode));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (m, s) = (mode.clone(), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (m, s) = (*m.lock().unwrap(), s.clone());
                std::thread::spawn(move || handle(stream, m, &s));
            }
        });
        FaultServer { url, mode, seen }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn infer_requests(&self) -> usize {
        self.seen.lock().unwrap().infer
    }
}

/// An address where nothing listens.
fn down_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", l.local_addr().unwrap())
}

fn config() -> HybridConfig {
    let mut c = HybridConfig::new(Policy { measure: Measure::MaxProb, scores: Scores::Probabilities, threshold: 0.6 });
    c.deadline = Duration::from_millis(400);
    c.retry = RetryPolicy { max_retries: 2, min_delay: Duration::from_millis(1), max_delay: Duration::from_millis(5) };
    c.breaker = BreakerConfig { failures_to_open: 3, cool_down: Duration::from_millis(300) };
    c.batch_size = 4;
    c
}

fn hybrid(url: &str, c: HybridConfig) -> Hybrid {
    let mut cc = ClientConfig::new(url, "m");
    cc.connect_timeout = Duration::from_millis(200);
    Hybrid::new(OipClient::new(cc), c)
}

fn sample(v: f32) -> Tensor {
    Tensor::new("x", vec![1, 3], vec![v, 0.5, 0.25]).unwrap()
}

/// A device model that is unsure (max 0.4) of class 0.
fn unsure(_: &Tensor) -> Vec<f32> {
    vec![0.4, 0.3, 0.2, 0.1]
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mote-cloud-faults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn confident_inputs_stay_local_and_unsure_ones_get_the_cloud_answer() {
    let server = FaultServer::start(Mode::Ok);
    let mut h = hybrid(&server.url, config());
    let sure = h.classify(&sample(1.0), |_| vec![0.9, 0.05, 0.03, 0.02]);
    assert_eq!((sure.reason.clone(), sure.class()), (Reason::Confident, 0));
    assert_eq!(server.infer_requests(), 0);
    let a = h.classify(&sample(2.0), unsure);
    assert_eq!(a.reason, Reason::Escalated);
    assert_eq!((a.class(), a.cloud.as_deref()), (2, Some(&cloud_scores(&[2.0])[..])));
    assert_eq!(a.local, unsure(&sample(2.0)));
    // The same input again: the cache answers, nothing is sent.
    let again = h.classify(&sample(2.0), |_| panic!("the device model must not run on a cached input"));
    assert!(again.cached);
    assert_eq!(again.cloud, a.cloud);
    assert_eq!(server.infer_requests(), 1);
    assert_eq!(server.seen.lock().unwrap().ids, vec![a.id.clone()]);
}

/// Runs one escalation against `mode` and returns the answer, the infer requests sent and the
/// waits between retries.
fn one_fault(mode: Mode) -> (mote_cloud::Answer, usize, Vec<Duration>) {
    let server = FaultServer::start(mode);
    let mut h = hybrid(&server.url, config());
    let waits = Arc::new(Mutex::new(vec![]));
    let w = waits.clone();
    h.set_sleep(move |d| w.lock().unwrap().push(d));
    let a = h.classify(&sample(3.0), unsure);
    assert_eq!(a.output(), &unsure(&sample(3.0))[..], "{mode:?}: the device answer stands");
    assert_eq!(a.cloud, None);
    let waits = waits.lock().unwrap().clone();
    (a, server.infer_requests(), waits)
}

fn error_of(a: &mote_cloud::Answer) -> CloudError {
    match &a.reason {
        Reason::CloudUnavailable { error, .. } => error.clone(),
        r => panic!("expected the cloud to be unavailable, got {r:?}"),
    }
}

#[test]
fn every_fault_returns_the_device_answer_with_bounded_requests() {
    let (a, n, waits) = one_fault(Mode::Status(503, None));
    assert!(matches!(error_of(&a), CloudError::Status { status: 503, .. }));
    assert_eq!((n, waits.len()), (3, 2), "503 is retried twice");
    assert!(waits.iter().all(|w| *w <= Duration::from_millis(5)));

    let (a, n, waits) = one_fault(Mode::Status(429, Some(1)));
    assert!(matches!(error_of(&a), CloudError::Status { status: 429, .. }));
    assert_eq!((n, waits.len()), (1, 0), "a Retry-After of 1 s past the 400 ms deadline stops the retries");

    for code in [400, 404, 422, 500, 501] {
        let (a, n, _) = one_fault(Mode::Status(code, None));
        assert!(matches!(error_of(&a), CloudError::Status { status, .. } if status == code));
        assert_eq!(n, 1, "HTTP {code} is not retried");
    }

    let (a, n, _) = one_fault(Mode::Malformed);
    assert!(matches!(error_of(&a), CloudError::Malformed(_)), "{:?}", a.reason);
    assert_eq!(n, 1);

    let (a, n, _) = one_fault(Mode::ResetMidBody);
    assert!(matches!(error_of(&a), CloudError::Transport(_)), "{:?}", a.reason);
    assert_eq!(n, 3, "a broken connection is retried");

    let (a, n, _) = one_fault(Mode::WrongShape);
    assert!(matches!(error_of(&a), CloudError::Shape(_)), "{:?}", a.reason);
    assert_eq!(n, 1);
    assert!(matches!(a.reason, Reason::CloudUnavailable { queued: false, .. }));
}

#[test]
fn retry_after_is_waited_for_when_it_fits_the_deadline() {
    let server = FaultServer::start(Mode::BusyOnce);
    let mut c = config();
    c.deadline = Duration::from_secs(5);
    let mut h = hybrid(&server.url, c);
    let waits = Arc::new(Mutex::new(vec![]));
    let w = waits.clone();
    h.set_sleep(move |d| w.lock().unwrap().push(d));
    let a = h.classify(&sample(5.0), unsure);
    assert_eq!(a.reason, Reason::Escalated);
    assert_eq!(a.class(), 1);
    assert_eq!(*waits.lock().unwrap(), vec![Duration::from_secs(1)], "the server's Retry-After, not the 5 ms backoff");
    assert_eq!(server.infer_requests(), 2);
    let ids = server.seen.lock().unwrap().ids.clone();
    assert_eq!(ids, vec![a.id.clone(), a.id.clone()], "the retry carries the same request id");
}

#[test]
fn slow_and_down_clouds_cost_at_most_the_deadline() {
    let server = FaultServer::start(Mode::Slow(Duration::from_secs(2)));
    let mut h = hybrid(&server.url, config());
    let start = Instant::now();
    let a = h.classify(&sample(4.0), unsure);
    let took = start.elapsed();
    assert!(matches!(error_of(&a), CloudError::Timeout(_)), "{:?}", a.reason);
    assert!(took < Duration::from_millis(900), "the escalation took {took:?}, past its 400 ms deadline");
    assert_eq!(a.output(), &unsure(&sample(4.0))[..]);

    let mut h = hybrid(&down_url(), config());
    let start = Instant::now();
    let a = h.classify(&sample(4.0), unsure);
    assert!(matches!(error_of(&a), CloudError::Connect(_)), "{:?}", a.reason);
    assert!(start.elapsed() < Duration::from_millis(900));
}

#[test]
fn the_breaker_stops_sending_during_an_outage_and_probes_ready_to_close() {
    let server = FaultServer::start(Mode::Status(503, None));
    let mut c = config();
    c.retry.max_retries = 0;
    c.breaker.cool_down = Duration::from_secs(1);
    let mut h = hybrid(&server.url, c);
    for i in 0..20 {
        let a = h.classify(&sample(10.0 + i as f32), unsure);
        assert_eq!(a.output(), &unsure(&sample(0.0))[..]);
    }
    assert_eq!(server.infer_requests(), 3, "the breaker opened after 3 failures: no retry storm");
    assert!(h.breaker_open());
    server.set(Mode::Ok);
    std::thread::sleep(Duration::from_millis(1050));
    let a = h.classify(&sample(40.0), unsure);
    assert_eq!(a.reason, Reason::Escalated);
    assert_eq!(server.seen.lock().unwrap().ready, 1, "one readiness probe closed it");
    assert!(!h.breaker_open());
}

#[test]
fn queued_escalations_survive_an_outage_and_a_restart_and_replay_in_batches_with_their_ids() {
    let dir = temp_dir("replay");
    let limits = QueueLimits { max_entries: 100, max_bytes: 1 << 20 };
    let server = FaultServer::start(Mode::Status(503, None));
    let mut ids = vec![];
    {
        let mut c = config();
        c.retry.max_retries = 0;
        let mut h = hybrid(&server.url, c).with_queue(DiskQueue::open(&dir, limits).unwrap());
        for i in 0..10 {
            let a = h.classify(&sample(i as f32), unsure);
            assert!(matches!(a.reason, Reason::CloudUnavailable { queued: true, .. }), "{:?}", a.reason);
            ids.push(a.id);
        }
        assert_eq!(h.queue().unwrap().len(), 10);
    }
    // A new process: the queue is read back from disk, and the cloud is up again.
    server.set(Mode::Ok);
    let before = server.infer_requests();
    let mut h = hybrid(&server.url, config()).with_queue(DiskQueue::open(&dir, limits).unwrap());
    assert_eq!(h.queue().unwrap().len(), 10);
    let answers = h.replay().unwrap();
    assert_eq!(answers.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), ids, "every sample, in order, under its id");
    for (i, (_, scores)) in answers.iter().enumerate() {
        assert_eq!(scores, &cloud_scores(&[i as f32]));
    }
    assert_eq!(server.infer_requests() - before, 3, "10 samples in batches of 4");
    assert_eq!(server.seen.lock().unwrap().batch_rows[before..], [4, 4, 2]);
    assert!(h.queue().unwrap().is_empty());
    assert_eq!(DiskQueue::open(&dir, limits).unwrap().len(), 0, "the replayed entries are gone from disk");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_queue_bound_holds_through_a_long_outage() {
    let dir = temp_dir("bound");
    let mut c = config();
    c.retry.max_retries = 0;
    c.breaker.cool_down = Duration::from_secs(600);
    let mut h = hybrid(&down_url(), c).with_queue(DiskQueue::open(&dir, QueueLimits { max_entries: 5, max_bytes: 1 << 20 }).unwrap());
    for i in 0..40 {
        h.classify(&sample(i as f32), unsure);
        assert!(h.queue().unwrap().len() <= 5);
    }
    let q = h.queue().unwrap();
    assert_eq!((q.len(), q.dropped()), (5, 35));
    assert_eq!(q.peek(1).unwrap()[0].data[0], 35.0, "the newest samples are kept");
    assert_eq!(h.stats().requests, 3, "3 failed connections opened the breaker; nothing else was sent");
    let _ = std::fs::remove_dir_all(&dir);
}
