//! The anomaly-detection example (`examples/anomaly-i2c`): its firmware reads recorded real
//! feature windows through the embedded-hal `I2c` driver, runs the int8 AD model embedded with
//! `include_bytes!`, and logs each anomaly score with defmt. Under QEMU, decoded by
//! `defmt-print`, every score must carry the same f32 bits as the host's.

use std::path::Path;
use std::process::{Command, Stdio};

use mote_hil::{firmware, models, repo_root};
use mote_runtime::format::writer::AlignedBytes;
use mote_runtime::{Interpreter, Model};

const WINDOWS: usize = 4;

/// The host's scores: the same model, windows and summation order as the firmware's
/// `anomaly_score`.
fn host_scores(model: &[u8], windows: &[f32]) -> Vec<u32> {
    let aligned = AlignedBytes::new(model);
    let m = Model::from_bytes(&aligned).unwrap();
    let mut arena = vec![0u8; m.arena_bytes() + 16];
    let mut it = Interpreter::new(&m, &mut arena).unwrap();
    windows
        .chunks(640)
        .map(|x| {
            it.set_input_f32(0, x).unwrap();
            it.invoke().unwrap();
            let mut y = vec![0f32; 640];
            it.output_to_f32(0, &mut y).unwrap();
            let mut sum = 0f32;
            for (a, b) in x.iter().zip(&y) {
                let d = a - b;
                sum += d * d;
            }
            (sum / x.len() as f32).to_bits()
        })
        .collect()
}

fn tool(name: &str, install: &str) {
    if Command::new(name).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        panic!("{name} is missing: {install}");
    }
}

#[test]
fn anomaly_example_scores_match_the_host_bit_for_bit() {
    tool("qemu-system-arm", "apt-get install -y qemu-system-arm");
    tool("defmt-print", "cargo install defmt-print --locked");
    let ad = &models::BENCH[2];
    let model = models::model_bytes(ad).unwrap_or_else(|e| panic!("{e}"));
    let x = mote_converter::data::read_f32(&ad.data_path(), ad.key).unwrap();
    let windows = &x.data[..WINDOWS * 640];
    let dir = repo_root().join("target/anomaly-i2c");
    std::fs::create_dir_all(&dir).unwrap();
    let (model_path, windows_path) = (dir.join("ad.mote"), dir.join("ad_windows.bin"));
    std::fs::write(&model_path, &model).unwrap();
    std::fs::write(&windows_path, windows.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();

    let example = repo_root().join("examples/anomaly-i2c");
    let build = firmware::cargo_build(&example).env("MOTE_MODEL", &model_path).env("MOTE_WINDOWS", &windows_path).output().unwrap();
    assert!(build.status.success(), "building the example failed:\n{}", String::from_utf8_lossy(&build.stderr));
    let elf = example.join("target/thumbv7em-none-eabihf/release/anomaly");

    let qemu = Command::new("qemu-system-arm")
        .args(["-M", "mps2-an386", "-nographic", "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel"])
        .arg(&elf)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let log = decode(&elf, &qemu.stdout);
    assert_eq!(qemu.status.code(), Some(0), "the firmware failed:\n{log}\n{}", String::from_utf8_lossy(&qemu.stderr));
    let device: Vec<u32> = log
        .lines()
        .filter_map(|l| l.split("bits 0x").nth(1))
        .map(|h| u32::from_str_radix(h.trim(), 16).unwrap_or_else(|_| panic!("bad bits in {log}")))
        .collect();
    let host = host_scores(&model, windows);
    assert_eq!(device.len(), WINDOWS, "expected {WINDOWS} scores:\n{log}");
    let floats = |v: &[u32]| v.iter().map(|&b| f32::from_bits(b)).collect::<Vec<f32>>();
    assert_eq!(device, host, "device scores {:?} vs host {:?}", floats(&device), floats(&host));
}

fn decode(elf: &Path, frames: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("defmt-print").arg("-e").arg(elf).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(frames).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}
