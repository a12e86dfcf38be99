//! Runs one `.mote` model on one QEMU board on a real input, checks the device's outputs
//! against the host byte for byte, and prints its answer, instructions per inference (from the
//! firmware's own counter: no plugin, no `../shared` needed), flash and RAM.
//!
//!     cargo run --release -p mote-hil --example run -- BOARD MODEL.mote DATA.npz [INDEX] [LABELS]
//!
//! The input is the first row selected by the integer array INDEX of DATA.npz (array `x`),
//! and LABELS, if given, names the label array to print beside the answer.

use std::path::PathBuf;
use std::time::Duration;

use mote_hil::matrix::{compare_outputs, counter_instructions, thousands};
use mote_hil::qemu::{self, Run};
use mote_hil::{firmware, host, job};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [board, model, data, rest @ ..] = &args[..] else {
        return Err("usage: run BOARD MODEL.mote DATA.npz [INDEX] [LABELS]".into());
    };
    let board = mote_targets::find(&mote_targets::boards_dir(), board)?;
    let bytes = std::fs::read(model).map_err(|e| format!("{model}: {e}"))?;
    let data = PathBuf::from(data);
    let x = mote_converter::data::read_f32(&data, "x")?;
    let row = match rest.first() {
        Some(ix) => mote_converter::data::read_i64(&data, ix)?.data.first().copied().ok_or("empty index")? as usize,
        None => 0,
    };
    let len = x.data.len() / x.shape.first().copied().unwrap_or(1).max(1);
    let input = x.data.get(row * len..(row + 1) * len).ok_or("row out of range")?;
    let label = match rest.get(1) {
        Some(key) => mote_converter::data::read_i64(&data, key)?.data.get(row).copied(),
        None => None,
    };

    let reference = host::reference("model", &bytes, input)?;
    let work = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/demo/hil");
    std::fs::create_dir_all(&work)?;
    let fw = firmware::build(&board, &work)?;
    let job_path = work.join(format!("{}.job.elf", board.name));
    job::write(&board, &job::job(&bytes, &reference.input, 0), &job_path)?;
    let outcome = Run { board: &board, firmware: &fw, job: Some(&job_path), plugin: None, timeout: Duration::from_secs(120) }.run()?;
    let report = qemu::parse(&board.name, &outcome)?;
    let problems = compare_outputs(&reference, &report);
    if !problems.is_empty() {
        return Err(format!("the device disagrees with the host:\n{}\n{}", problems.join("\n"), outcome.transcript()).into());
    }
    let out = &report.outputs[0];
    let scores: Vec<f32> = match reference.output_dtypes[0] {
        mote_runtime::DType::F32 => out.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        _ => out.iter().map(|&b| b as i8 as f32).collect(),
    };
    let answer = scores.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b }).0;
    println!("board        {} ({}), QEMU -M {}", board.name, board.core, board.qemu.as_ref().map(|q| q.machine.as_str()).unwrap_or("?"));
    match label {
        Some(l) => println!("answer       {answer} (label {l}); every output byte equals the host's"),
        None => println!("answer       {answer}; every output byte equals the host's"),
    }
    if let Some((n, resolution)) = counter_instructions(&board, &report) {
        println!("instructions {} per inference (firmware counter, ±{})", thousands(n.round() as u64), thousands(resolution.round() as u64));
    }
    let flash = fw.image.flash + bytes.len() as u64;
    let ram = fw.image.static_ram + report.stack + report.arena;
    println!("flash        {} B (firmware {} + model {})", thousands(flash), thousands(fw.image.flash), thousands(bytes.len() as u64));
    println!("RAM          {} B (statics {} + stack {} + arena {})", thousands(ram), thousands(fw.image.static_ram), thousands(report.stack), thousands(report.arena));
    Ok(())
}
