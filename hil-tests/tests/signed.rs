//! Signed models on the boards: the HIL firmware built with feature `verify` (the key
//! `examples/hil-firmware/test-key.pub` compiled in, minimum version 2) accepts each shared model
//! signed with that key, runs it byte-exact against the host, and rejects unsigned, tampered,
//! wrongly keyed and rolled-back files with their own errors. On the Cortex-M4 it measures what
//! verification costs per model (exact instruction counts, the `qemu-insncount` plugin) and
//! writes them to `target/tmp/hil/signed.md`.
//!
//! `MOTE_HIL_BOARDS` picks boards among `mps2-an386` and `riscv32-virt`; `MOTE_HIL_MODELS`
//! picks models on the Cortex-M4 (default: all four benchmark models and digits).

use std::path::{Path, PathBuf};
use std::time::Duration;

use mote_hil::qemu::{self, Run};
use mote_hil::{firmware, host, job, matrix, models, repo_root};
use mote_runtime::format::writer::reseal;
use mote_runtime::signature;
use mote_targets::Target;

const BOARDS: [&str; 2] = ["mps2-an386", "riscv32-virt"];

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hil");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn selected(var: &str, name: &str) -> bool {
    match std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
        Some(v) => v.split(',').any(|n| n.trim() == name),
        None => true,
    }
}

fn test_seed() -> [u8; 32] {
    let text = std::fs::read_to_string(repo_root().join("examples/hil-firmware/test-key")).unwrap();
    let hex = text.trim();
    std::array::from_fn(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
}

struct Case {
    name: String,
    bytes: Vec<u8>,
    reference: host::Reference,
}

fn cases(all: bool) -> Vec<Case> {
    let mut out = Vec::new();
    let (digits, input) = models::digits().unwrap_or_else(|e| panic!("{e}"));
    let reference = host::reference("digits", &digits, &input).unwrap_or_else(|e| panic!("{e}"));
    out.push(Case { name: "digits".into(), bytes: digits, reference });
    for m in models::BENCH.iter().filter(|m| all && selected("MOTE_HIL_MODELS", m.name)) {
        let bytes = models::model_bytes(m).unwrap_or_else(|e| panic!("{e}"));
        let input = models::first_row(&m.data_path(), m.key).unwrap_or_else(|e| panic!("{e}"));
        let reference = host::reference(m.name, &bytes, &input).unwrap_or_else(|e| panic!("{e}"));
        out.push(Case { name: m.name.into(), bytes, reference });
    }
    out
}

/// Runs `model` with `input` on the verifying firmware; the outcome, unparsed.
fn run(board: &Target, fw: &firmware::Firmware, plugin: &Path, tag: &str, model: &[u8], input: &[u8]) -> qemu::Outcome {
    let path = work_dir().join(format!("{}-signed-{tag}.job.elf", board.name));
    job::write(board, &job::job(model, input, 0), &path).unwrap();
    let run = Run { board, firmware: fw, job: Some(&path), plugin: Some(plugin), timeout: Duration::from_secs(300) };
    run.run().unwrap()
}

#[test]
fn signed_models_run_and_bad_ones_are_refused_on_the_boards() {
    let seed = test_seed();
    let boards: Vec<Target> = mote_targets::load_all(&mote_targets::boards_dir())
        .unwrap()
        .into_iter()
        .filter(|b| BOARDS.contains(&b.name.as_str()) && selected("MOTE_HIL_BOARDS", &b.name))
        .collect();
    let dir = work_dir();
    let plugin = qemu::build_plugin(&dir).unwrap_or_else(|e| panic!("{e}"));
    let mut report = String::from(
        "| board | model | file B | verify (instructions) | of which SHA-256 of the file | per KB hashed | inference |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    for board in &boards {
        let fw = firmware::build_variant(board, Some("verify"), &dir.join("firmware")).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("{}: firmware with the verifier {} B of flash", board.name, fw.image.flash);
        let measured = board.name == "mps2-an386";
        for case in cases(measured) {
            let signed = signature::sign(&case.bytes, &seed, 2).unwrap();
            let input = &case.reference.input;
            let outcome = run(board, &fw, &plugin, &case.name, &signed, input);
            let r = qemu::parse(&board.name, &outcome).unwrap_or_else(|e| panic!("{} on {}: {e}", case.name, board.name));
            let problems = matrix::compare_outputs(&case.reference, &r);
            assert!(problems.is_empty(), "{} on {}: {problems:?}\n{}", case.name, board.name, outcome.transcript());
            assert!(outcome.stdout.contains("verify 2"), "{}", outcome.transcript());
            assert_eq!(r.marks.len(), 6, "verify, hash and inference markers: {}", outcome.transcript());
            let (verify, hash, inference) = (r.marks[1] - r.marks[0], r.marks[3] - r.marks[2], r.marks[5] - r.marks[4]);
            let kb = signed.len() as f64 / 1024.0;
            report += &format!(
                "| {} | {} | {} | {} | {} | {:.0} | {} |\n",
                board.name,
                case.name,
                matrix::thousands(signed.len() as u64),
                matrix::thousands(verify),
                matrix::thousands(hash),
                hash as f64 / kb,
                matrix::thousands(inference)
            );
        }

        let (digits, input) = models::digits().unwrap();
        let input = host::reference("digits", &digits, &input).unwrap().input;
        let refused = |tag: &str, model: &[u8], error: &str| {
            let outcome = run(board, &fw, &plugin, tag, model, &input);
            assert_eq!(outcome.exit, Some(2), "{tag} on {}: {}", board.name, outcome.transcript());
            assert!(outcome.stdout.contains(&format!("error: signature: {error}")), "{tag} on {}: {}", board.name, outcome.transcript());
        };
        refused("unsigned", &digits, "Unsigned");
        let signed = signature::sign(&digits, &seed, 2).unwrap();
        let mut tampered = signed.clone();
        let at = tampered.len() - signature::SECTION_LEN - 20;
        tampered[at] ^= 4;
        reseal(&mut tampered);
        refused("tampered", &tampered, "Tampered");
        refused("rolled-back", &signature::sign(&digits, &seed, 1).unwrap(), "RolledBack { version: 1, minimum: 2 }");
        refused("other-key", &signature::sign(&digits, &[0x33; 32], 2).unwrap(), "WrongKey");
        let mut forged = signed.clone();
        let version = forged.len() - signature::SECTION_LEN + 4;
        forged[version] = 3;
        reseal(&mut forged);
        refused("forged", &forged, "BadSignature");
    }
    let path = dir.join("signed.md");
    std::fs::write(&path, &report).unwrap();
    eprintln!("{report}\n(written to {})", path.display());
}
