//! The HIL matrix: every model on every QEMU board, byte-exact against the host, within budget.
//!
//! Environment:
//! - `MOTE_BLESS=1` rewrites `budgets.toml` (and, for a full run, `REPORT.md`) from this run.
//! - `MOTE_HIL_BOARDS=mps2-an386,riscv32-virt` and `MOTE_HIL_MODELS=kws_dscnn` run a subset;
//!   budgets of the other cells are neither checked nor touched.
//! - `MOTE_HIL_TIMEOUT_S` (default 120): the limit for one QEMU run.
//! - `MOTE_HIL_JOBS` (default: the CPU count): QEMU runs at once.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mote_hil::budget::{self, Budgets};
use mote_hil::matrix::{self, CellResult, Model};
use mote_hil::qemu::Run;
use mote_hil::{firmware, host, job, models, qemu};
use mote_converter::target::{Core as TargetCore, Target as ConvertTarget};
use mote_targets::Target;

/// The cells whose per-op profiles go into the report: KWS, IC, VWW and AD on the Cortex-M4, KWS,
/// IC and VWW on the Cortex-M55.
const PROFILED: [(&str, &str); 7] = [
    ("mps2-an386", "kws_dscnn"),
    ("mps2-an386", "ic_resnet8"),
    ("mps2-an386", "vww_mobilenetv1_025"),
    ("mps2-an386", "ad_fc_autoencoder"),
    ("mps3-an547", "kws_dscnn"),
    ("mps3-an547", "ic_resnet8"),
    ("mps3-an547", "vww_mobilenetv1_025"),
];

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hil");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn filter(var: &str) -> Option<Vec<String>> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty()).map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
}

fn selected(var: &str, name: &str) -> bool {
    filter(var).is_none_or(|names| names.iter().any(|n| n == name))
}

fn timeout() -> Duration {
    Duration::from_secs(std::env::var("MOTE_HIL_TIMEOUT_S").ok().and_then(|v| v.parse().ok()).unwrap_or(120))
}

fn qemu_boards() -> Vec<Target> {
    let all = mote_targets::load_all(&mote_targets::boards_dir()).unwrap();
    all.into_iter().filter(|t| t.qemu.is_some() && selected("MOTE_HIL_BOARDS", &t.name)).collect()
}

fn ready(name: &str, bytes: Vec<u8>, input: &[f32]) -> Model {
    let reference = host::reference(name, &bytes, input).unwrap_or_else(|e| panic!("{e}"));
    Model { name: name.to_string(), bytes, reference }
}

#[test]
fn the_firmware_has_a_feature_for_exactly_the_boards_it_runs_on() {
    let manifest = firmware::crate_dir().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let parsed: toml::Table = toml::from_str(&text).unwrap();
    let mut features: Vec<String> = parsed["features"].as_table().unwrap().keys().filter(|f| *f != "verify").cloned().collect();
    features.sort();
    let boards = mote_targets::load_all(&mote_targets::boards_dir()).unwrap();
    let runnable: Vec<String> = boards.iter().filter(|b| b.firmware).map(|b| b.name.clone()).collect();
    assert_eq!(features, runnable, "[features] of {} must list every board with firmware = true (and `verify`)", manifest.display());
}

#[test]
fn boards_without_qemu_still_link() {
    let out = work_dir().join("firmware");
    let boards = mote_targets::load_all(&mote_targets::boards_dir()).unwrap();
    for board in boards.iter().filter(|b| b.qemu.is_none() && b.firmware && selected("MOTE_HIL_BOARDS", &b.name)) {
        let fw = firmware::build(board, &out).unwrap_or_else(|e| panic!("{e}"));
        assert!(fw.image.flash <= board.layout.firmware.size.0, "{}: {} B of firmware", board.name, fw.image.flash);
    }
}

/// Before any model: each board boots, prints, and turns each kind of failure into its own
/// non-zero exit code rather than a hang.
#[test]
fn every_board_boots_and_fails_with_an_exit_code() {
    let dir = work_dir();
    let tiny = models::tiny_dscnn().unwrap();
    let mut corrupt = tiny.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0x40;
    let cases: [(&str, Option<Vec<u8>>, i32, &str); 4] = [
        ("no-job", None, 3, "error: no job at"),
        ("panic", Some(job::job(&[], &[], job::PANIC)), 101, "requested by the job"),
        ("fault", Some(job::job(&[], &[], job::FAULT)), 102, "error: "),
        ("corrupt", Some(job::job(&corrupt, &[], 0)), 2, "error: model rejected: ChecksumMismatch"),
    ];
    let mut failures = Vec::new();
    for board in qemu_boards() {
        let fw = firmware::build(&board, &dir.join("firmware")).unwrap_or_else(|e| panic!("{e}"));
        for (case, job_bytes, code, says) in &cases {
            let job_path = dir.join(format!("{}-{case}.job.elf", board.name));
            if let Some(bytes) = job_bytes {
                job::write(&board, bytes, &job_path).unwrap_or_else(|e| panic!("{e}"));
            }
            let run = Run { board: &board, firmware: &fw, job: job_bytes.as_ref().map(|_| job_path.as_path()), plugin: None, timeout: Duration::from_secs(60) };
            let outcome = run.run().unwrap_or_else(|e| panic!("{e}"));
            let banner = format!("mote-hil {}", board.name);
            if outcome.exit != Some(*code) || !outcome.stdout.contains(says) || !outcome.stdout.starts_with(&banner) {
                failures.push(format!("{} / {case}: expected exit {code} and {says:?}, got {:?}:\n{}", board.name, outcome.exit, outcome.transcript()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_model_matches_the_host_on_every_board() {
    let started = Instant::now();
    let dir = work_dir();
    let boards = qemu_boards();

    // Every model is converted even when a filter leaves it out: which boards fall back to the
    // tiny network must not depend on the filter. Each benchmark model is converted for each
    // board (`--target`: packed weights on the DSP cores), once per distinct target; the demo
    // model keeps the reference layout everywhere, so that path runs on every board too.
    let mut models = Vec::new();
    let mut per_board: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for bench in &models::BENCH {
        let input = models::first_row(&bench.data_path(), bench.key).unwrap_or_else(|e| panic!("{e}"));
        let mut converted: Vec<((TargetCore, Option<u64>), usize)> = Vec::new();
        for board in &boards {
            let target = ConvertTarget::resolve(&board.name).unwrap_or_else(|e| panic!("{e}"));
            let key = (target.core, target.model_flash);
            let index = match converted.iter().find(|(k, _)| *k == key) {
                Some(&(_, i)) => i,
                None => {
                    let bytes = models::model_bytes_for(bench, &target).unwrap_or_else(|e| panic!("{e}"));
                    let i = match models.iter().position(|m: &Model| m.name == bench.name && m.bytes == bytes) {
                        Some(i) => i,
                        None => {
                            models.push(ready(bench.name, bytes, &input));
                            models.len() - 1
                        }
                    };
                    converted.push((key, i));
                    i
                }
            };
            per_board.entry(board.name.clone()).or_default().push(index);
        }
    }
    let (digits, digits_input) = models::digits().unwrap_or_else(|e| panic!("{e}"));
    models.push(ready("digits", digits, &digits_input));
    for board in &boards {
        per_board.entry(board.name.clone()).or_default().push(models.len() - 1);
    }
    let kws = &models::BENCH[0];
    let kws_input = models::first_row(&kws.data_path(), kws.key).unwrap_or_else(|e| panic!("{e}"));
    let tiny = ready("tiny_dscnn", models::tiny_dscnn().unwrap(), &kws_input);
    let prepared = started.elapsed();

    // Every model that fits runs; a board that fits none of them runs the tiny network.
    let mut cells: Vec<(&Target, &Model)> = Vec::new();
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for board in &boards {
        let mut fits_one = false;
        for model in per_board[&board.name].iter().map(|&i| &models[i]) {
            match matrix::misfit(board, model) {
                None => {
                    fits_one = true;
                    if selected("MOTE_HIL_MODELS", &model.name) {
                        cells.push((board, model));
                    }
                }
                Some(why) => skipped.push((board.name.clone(), model.name.clone(), why)),
            }
        }
        if !fits_one && selected("MOTE_HIL_MODELS", &tiny.name) {
            match matrix::misfit(board, &tiny) {
                None => cells.push((board, &tiny)),
                Some(why) => failures.push(format!("{}: not even the tiny network fits: {why}", board.name)),
            }
        }
    }

    let fw_dir = dir.join("firmware");
    let mut firmwares = BTreeMap::new();
    for board in &boards {
        firmwares.insert(board.name.clone(), firmware::build(board, &fw_dir).unwrap_or_else(|e| panic!("{e}")));
    }
    let plugin = qemu::build_plugin(&dir).unwrap_or_else(|e| panic!("{e}"));
    let built = started.elapsed();

    let queue = Mutex::new((0..cells.len()).collect::<VecDeque<_>>());
    let results: Mutex<Vec<(usize, CellResult)>> = Mutex::new(Vec::new());
    let jobs = std::env::var("MOTE_HIL_JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let Some(i) = queue.lock().unwrap().pop_front() else { break };
                let (board, model) = cells[i];
                let profile = PROFILED.contains(&(board.name.as_str(), model.name.as_str()));
                let r = matrix::run_cell(board, &firmwares[&board.name], model, profile, &dir, &plugin, timeout());
                println!("{:<14} {:<18} {:>6.1} s  {}", r.board, r.model, r.wall.as_secs_f64(), if r.problems.is_empty() { "ok" } else { "FAILED" });
                results.lock().unwrap().push((i, r));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    let results: Vec<CellResult> = results.into_iter().map(|(_, r)| r).collect();

    let mut measured = Budgets::new();
    for r in &results {
        failures.extend(r.problems.iter().map(|p| format!("{} × {}: {p}", r.board, r.model)));
        if let Some(f) = r.figures {
            measured.entry(r.board.clone()).or_default().insert(r.model.clone(), f);
        }
    }
    let report = matrix::markdown(&results, &skipped, &boards);
    std::fs::write(dir.join("REPORT.md"), &report).unwrap();
    println!("\n{report}");

    let complete = filter("MOTE_HIL_BOARDS").is_none() && filter("MOTE_HIL_MODELS").is_none();
    let budgets_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("budgets.toml");
    let budgets = budget::load(&budgets_path).unwrap_or_else(|e| panic!("{e}"));
    if std::env::var("MOTE_BLESS").is_ok_and(|v| v == "1") {
        if failures.is_empty() {
            // A complete run replaces the file, so cells that no longer exist leave it; a filtered
            // run updates only the cells it ran.
            let blessed = if complete { budget::merge(Default::default(), &measured) } else { budget::merge(budgets, &measured) };
            budget::save(&budgets_path, &blessed).unwrap_or_else(|e| panic!("{e}"));
            if complete {
                std::fs::write(Path::new(env!("CARGO_MANIFEST_DIR")).join("REPORT.md"), &report).unwrap();
            }
            println!("blessed {}", budgets_path.display());
        }
    } else {
        let verdict = budget::compare(&budgets, &measured, complete);
        for line in &verdict.improvements {
            println!("under budget: {line}");
        }
        failures.extend(verdict.failures);
    }
    println!(
        "HIL matrix: {} cells on {} boards; models and references {:.1} s, firmware and plugin {:.1} s, QEMU {:.1} s",
        results.len(),
        boards.len(),
        prepared.as_secs_f64(),
        (built - prepared).as_secs_f64(),
        (started.elapsed() - built).as_secs_f64()
    );
    assert!(failures.is_empty(), "{} problem(s):\n\n{}", failures.len(), failures.join("\n\n"));
}
