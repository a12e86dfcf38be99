//! A bounded load test for an OIP v2 endpoint on loopback: C clients, each sending R infer
//! requests of one input (all zeros but one varying value) back to back; prints p50/p95/p99
//! latency, errors and throughput.
//!
//! Usage: cargo run --release -p mote-cloud --example loadgen -- URL MODEL CLIENTS REQUESTS INPUT d0,d1,...
//! e.g.   loadgen http://127.0.0.1:8080 ic_resnet8 8 200 input_1 1,32,32,3

use std::time::{Duration, Instant};

use mote_cloud::protocol::{InferRequest, Tensor};
use mote_cloud::{ClientConfig, OipClient};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 6 {
        eprintln!("usage: loadgen URL MODEL CLIENTS REQUESTS INPUT d0,d1,...");
        std::process::exit(2);
    }
    let (url, model) = (args[0].clone(), args[1].clone());
    let clients: usize = args[2].parse().expect("CLIENTS is a number");
    let requests: usize = args[3].parse().expect("REQUESTS is a number");
    let input = args[4].clone();
    let shape: Vec<usize> = args[5].split(',').map(|d| d.parse().expect("a dimension")).collect();
    let len: usize = shape.iter().product();
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (url, model, input, shape) = (url.clone(), model.clone(), input.clone(), shape.clone());
            std::thread::spawn(move || {
                let client = OipClient::new(ClientConfig::new(url, model));
                let (mut lat, mut errors) = (vec![], 0usize);
                for r in 0..requests {
                    let mut data = vec![0.0f32; len];
                    data[(c * requests + r) % len] = 1.0;
                    let req = InferRequest { id: format!("load-{c}-{r}"), inputs: vec![Tensor { name: input.clone(), shape: shape.clone(), data }], binary_output: false };
                    let t = Instant::now();
                    match client.infer(&req, Duration::from_secs(30)) {
                        Ok(_) => lat.push(t.elapsed()),
                        Err(e) => {
                            errors += 1;
                            if errors <= 3 {
                                eprintln!("client {c}: {e}");
                            }
                        }
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let (mut lat, mut errors) = (vec![], 0);
    for h in handles {
        let (l, e) = h.join().expect("a client thread");
        lat.extend(l);
        errors += e;
    }
    let wall = start.elapsed();
    lat.sort();
    let q = |p: f64| lat.get(((lat.len() as f64 * p).ceil() as usize).saturating_sub(1)).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    let total = clients * requests;
    println!(
        "{clients} clients x {requests} requests: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, errors {errors}/{total} ({:.2} %), {:.0} req/s",
        q(0.50),
        q(0.95),
        q(0.99),
        errors as f64 * 100.0 / total as f64,
        lat.len() as f64 / wall.as_secs_f64()
    );
}
