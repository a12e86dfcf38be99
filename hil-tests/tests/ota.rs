//! The over-the-air swap example (`examples/ota-swap`) under QEMU, its flash a file that outlives
//! each QEMU run, so that a power cut is the process exiting mid-update and the next boot a new
//! run on what the file holds.
//!
//! - Model A (the int8 digits CNN, version 1) is installed on an erased flash; model B (the same
//!   network kept f32, version 2) is then sent as an update. Both are signed with the HIL test key.
//! - Uncut, B boots. Cut at every flash operation of the update — each erase, each chunk written,
//!   each write of the switch — with none of that operation done and with half of it done, the
//!   next boot runs A or B, and its outputs equal the host's for that model byte for byte. An
//!   update that was cut before the switch is then sent again and completes; one cut after it is
//!   refused as a rollback.
//! - A first install cut at any of its flash operations leaves a flash that boots nothing (and
//!   says so, exit 3) and takes the install again.
//! - A tampered B, B signed with another key, and B at version 1 are each refused with their own
//!   error, and A stays active. A corrupted active slot boots the previous model.
//!
//! Each run gets its own copy of the flash; the runs go `MOTE_HIL_JOBS` (default: the CPUs) at
//! a time.

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mote_hil::{firmware, host, models, repo_root};
use mote_runtime::format::writer::reseal;
use mote_runtime::signature;

/// `slots::FLASH_BYTES` of the firmware: the boot-record map (8 KiB) and two 32 KiB slots.
const FLASH_BYTES: usize = 8 * 1024 + 2 * 32 * 1024;
/// Offset of slot 1 in the flash.
const SLOT1: usize = 8 * 1024 + 32 * 1024;
const CUT_EXIT: i32 = 42;

struct Outcome {
    exit: Option<i32>,
    stdout: String,
    replay: String,
}

impl Outcome {
    fn transcript(&self) -> String {
        format!("{}--- replay (in the case's folder) ---\n{}", self.stdout, self.replay)
    }
}

/// Boots the firmware once in `dir` with `args` as its command line.
fn qemu(elf: &Path, dir: &Path, args: &[&str]) -> Outcome {
    let mut config = String::from("enable=on,target=native,arg=ota");
    for a in args {
        config += ",arg=";
        config += a;
    }
    let mut cmd = Command::new("qemu-system-arm");
    cmd.args(["-M", "mps2-an386", "-display", "none", "-monitor", "none", "-serial", "null", "-semihosting-config", &config, "-kernel"]).arg(elf);
    let replay = format!("cd {} && qemu-system-arm -M mps2-an386 -nographic -semihosting-config {config} -kernel {}", dir.display(), elf.display());
    let mut child = cmd
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start qemu-system-arm ({e}): apt-get install -y qemu-system-arm"));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    Outcome { exit: status.and_then(|s| s.code()), stdout: stdout + &stderr, replay }
}

/// A model as the device must run it: its signed file and the host's output bytes.
struct Expected {
    version: u32,
    outputs: Vec<Vec<u8>>,
}

struct Setup {
    elf: PathBuf,
    root: PathBuf,
    /// The flash with A installed.
    flash_a: Vec<u8>,
    /// Flash operations of A's install on an erased flash.
    install_ops: u32,
    a: Expected,
    b: Expected,
    b_file: Vec<u8>,
}

impl Setup {
    /// A fresh folder holding `flash` as `flash.bin`, B as `b.mote` and the input.
    fn case(&self, name: &str, flash: &[u8]) -> PathBuf {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("flash.bin"), flash).unwrap();
        std::fs::write(dir.join("b.mote"), &self.b_file).unwrap();
        std::fs::copy(self.root.join("input.bin"), dir.join("input.bin")).unwrap();
        dir
    }

    /// Boots in `dir`; checks that a valid model booted with the host's outputs and returns its
    /// version.
    fn boot(&self, dir: &Path, what: &str) -> u32 {
        let out = qemu(&self.elf, dir, &["flash.bin", "boot", "input.bin"]);
        assert_eq!(out.exit, Some(0), "{what}: the device did not boot a model:\n{}", out.transcript());
        let line = out.stdout.lines().find(|l| l.starts_with("boot slot")).unwrap_or_else(|| panic!("{what}: no boot line:\n{}", out.transcript()));
        let version: u32 = line.split_whitespace().nth(4).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{what}: bad boot line {line}"));
        let expected = [&self.a, &self.b].into_iter().find(|e| e.version == version).unwrap_or_else(|| panic!("{what}: booted unknown version {version}"));
        let device: Vec<Vec<u8>> = out
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("output "))
            .map(|l| hex(l.split_whitespace().nth(1).unwrap_or("")))
            .collect();
        assert_eq!(device, expected.outputs, "{what}: version {version}'s outputs differ from the host's:\n{}", out.transcript());
        version
    }
}

/// The flash operations an update reports: `updated: slot S version V (N B), K flash operations`.
fn operations(out: &Outcome) -> u32 {
    out.stdout
        .split(", ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no operation count:\n{}", out.transcript()))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
}

fn test_seed() -> [u8; 32] {
    let text = std::fs::read_to_string(repo_root().join("examples/hil-firmware/test-key")).unwrap();
    let hex = text.trim();
    std::array::from_fn(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
}

fn setup() -> Setup {
    let example = repo_root().join("examples/ota-swap");
    let build = firmware::cargo_build(&example).output().unwrap();
    assert!(build.status.success(), "building examples/ota-swap failed:\n{}", String::from_utf8_lossy(&build.stderr));
    let elf = example.join("target/thumbv7em-none-eabihf/release/ota");
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ota");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();

    let seed = test_seed();
    let (digits, input) = models::digits().unwrap_or_else(|e| panic!("{e}"));
    let onnx = repo_root().join("examples/demo/digits.onnx");
    let opts = mote_converter::Options { name: Some("digits-f32".into()), float: true, ..Default::default() };
    let digits_f32 = mote_converter::convert(&onnx, &opts).unwrap_or_else(|e| panic!("{e}")).bytes;
    let expect = |bytes: &[u8], version| Expected { version, outputs: host::reference("digits", bytes, &input).unwrap_or_else(|e| panic!("{e}")).outputs };
    let (a, b) = (expect(&digits, 1), expect(&digits_f32, 2));
    assert_ne!(a.outputs, b.outputs, "A and B must be told apart by their outputs");
    std::fs::write(root.join("input.bin"), input.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();

    let dir = root.join("install-a");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("flash.bin"), vec![0xFF; FLASH_BYTES]).unwrap();
    std::fs::write(dir.join("a.mote"), signature::sign(&digits, &seed, 1).unwrap()).unwrap();
    let out = qemu(&elf, &dir, &["flash.bin", "update", "a.mote"]);
    assert_eq!(out.exit, Some(0), "installing A on an erased flash:\n{}", out.transcript());
    assert!(out.stdout.contains("updated: slot 0 version 1"), "{}", out.transcript());
    let install_ops = operations(&out);
    let flash_a = std::fs::read(dir.join("flash.bin")).unwrap();
    let b_file = signature::sign(&digits_f32, &seed, 2).unwrap();
    Setup { elf, root, flash_a, install_ops, a, b, b_file }
}

/// Runs `f` on every item, `MOTE_HIL_JOBS` (default: the CPUs) at a time.
fn parallel<T: Sync>(items: &[T], f: impl Fn(&T) + Sync) {
    let queue = Mutex::new(items.iter().collect::<VecDeque<_>>());
    let jobs = std::env::var("MOTE_HIL_JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let Some(item) = queue.lock().unwrap().pop_front() else { break };
                f(item);
            });
        }
    });
}

#[test]
fn ota_update_survives_a_power_cut_at_every_flash_operation() {
    let started = Instant::now();
    let s = setup();
    let runs = std::sync::atomic::AtomicUsize::new(1);
    let count = |n| {
        runs.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    };

    let dir = s.case("uncut", &s.flash_a);
    assert_eq!(s.boot(&dir, "A installed"), 1);
    let out = qemu(&s.elf, &dir, &["flash.bin", "update", "b.mote"]);
    assert_eq!(out.exit, Some(0), "the uncut update:\n{}", out.transcript());
    assert!(out.stdout.contains("updated: slot 1 version 2"), "{}", out.transcript());
    let operations = operations(&out);
    assert_eq!(s.boot(&dir, "after the uncut update"), 2);
    count(3);

    let cases: Vec<(u32, bool)> = (0..operations).flat_map(|n| [(n, false), (n, true)]).collect();
    let booted = Mutex::new(Vec::new());
    parallel(&cases, |&(n, half)| {
        let cut = if half { format!("cut={n}:half") } else { format!("cut={n}") };
        let dir = s.case(&cut.replace([':', '='], "-"), &s.flash_a);
        let out = qemu(&s.elf, &dir, &["flash.bin", "update", "b.mote", &cut]);
        assert_eq!(out.exit, Some(CUT_EXIT), "{cut}: the power cut did not hit:\n{}", out.transcript());
        assert!(out.stdout.contains(&format!("power cut at flash operation {n}")), "{}", out.transcript());
        let version = s.boot(&dir, &format!("boot after {cut}"));
        let retry = qemu(&s.elf, &dir, &["flash.bin", "update", "b.mote"]);
        if version == 1 {
            assert_eq!(retry.exit, Some(0), "{cut}: retrying the update after the cut:\n{}", retry.transcript());
            assert_eq!(s.boot(&dir, &format!("boot after {cut} and a retry")), 2);
        } else {
            assert_eq!(retry.exit, Some(2), "{cut}: B is active; sending it again must be refused:\n{}", retry.transcript());
            assert!(retry.stdout.contains("error: verify: RolledBack { version: 2, minimum: 3 }"), "{}", retry.transcript());
        }
        count(if version == 1 { 4 } else { 3 });
        booted.lock().unwrap().push((n, half, version));
    });
    let mut booted = booted.into_inner().unwrap();
    booted.sort();
    let summary: Vec<String> = booted.iter().map(|(n, h, v)| format!("{n}{}→{}", if *h { "½" } else { "" }, if *v == 1 { "A" } else { "B" })).collect();
    assert!(booted.iter().any(|b| b.2 == 1), "no cut left A active: {summary:?}");

    // A first install cut anywhere leaves nothing to boot, said as such, and can be redone.
    let install_ops = s.install_ops;
    let install_cuts: Vec<(u32, bool)> = (0..install_ops).flat_map(|n| [(n, false), (n, true)]).collect();
    parallel(&install_cuts, |&(n, half)| {
        let cut = if half { format!("cut={n}:half") } else { format!("cut={n}") };
        let dir = s.case(&format!("install-{}", cut.replace([':', '='], "-")), &vec![0xFF; FLASH_BYTES]);
        std::fs::copy(s.root.join("install-a/a.mote"), dir.join("a.mote")).unwrap();
        let out = qemu(&s.elf, &dir, &["flash.bin", "update", "a.mote", &cut]);
        assert_eq!(out.exit, Some(CUT_EXIT), "install {cut}:\n{}", out.transcript());
        let boot = qemu(&s.elf, &dir, &["flash.bin", "boot", "input.bin"]);
        assert_eq!(boot.exit, Some(3), "install {cut}: nothing valid to boot:\n{}", boot.transcript());
        assert!(boot.stdout.contains("error: no model installed"), "install {cut}:\n{}", boot.transcript());
        let retry = qemu(&s.elf, &dir, &["flash.bin", "update", "a.mote"]);
        assert_eq!(retry.exit, Some(0), "install {cut}, then again:\n{}", retry.transcript());
        assert_eq!(s.boot(&dir, &format!("boot after install {cut} and a retry")), 1);
        count(4);
    });

    let seed = test_seed();
    let (digits, _) = models::digits().unwrap();
    let mut tampered = s.b_file.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x10;
    reseal(&mut tampered);
    let f32_b = {
        let onnx = repo_root().join("examples/demo/digits.onnx");
        let opts = mote_converter::Options { name: Some("digits-f32".into()), float: true, ..Default::default() };
        mote_converter::convert(&onnx, &opts).unwrap().bytes
    };
    let refusals = [
        ("tampered", tampered, "verify: Tampered"),
        ("other-key", signature::sign(&f32_b, &[0x33; 32], 2).unwrap(), "verify: WrongKey"),
        ("rollback", signature::sign(&f32_b, &seed, 1).unwrap(), "verify: RolledBack { version: 1, minimum: 2 }"),
        ("unsigned", digits.clone(), "verify: Unsigned"),
    ];
    parallel(&refusals, |(name, file, error)| {
        let dir = s.case(name, &s.flash_a);
        std::fs::write(dir.join("bad.mote"), file).unwrap();
        let out = qemu(&s.elf, &dir, &["flash.bin", "update", "bad.mote"]);
        assert_eq!(out.exit, Some(2), "{name}: the update must be refused:\n{}", out.transcript());
        assert!(out.stdout.contains(&format!("error: {error}")), "{name}: expected `{error}`:\n{}", out.transcript());
        assert_eq!(s.boot(&dir, &format!("boot after the {name} update")), 1, "{name}: A must stay active");
        count(2);
    });

    // B active, A previous; a flipped bit in B's slot makes the boot fall back to A.
    let mut flash = std::fs::read(s.root.join("uncut/flash.bin")).unwrap();
    flash[SLOT1 + 100] ^= 0x01;
    let dir = s.case("corrupt-active", &flash);
    let out = qemu(&s.elf, &dir, &["flash.bin", "boot", "input.bin"]);
    assert!(out.stdout.contains("active slot 1 rejected: CRC mismatch") && out.stdout.contains("boot slot 0 version 1 (fallback)"), "{}", out.transcript());
    assert_eq!(s.boot(&dir, "boot with a corrupt active slot"), 1);
    count(2);

    let runs = runs.into_inner();
    eprintln!(
        "ota: install {install_ops} flash operations, {} cuts; update {operations} flash operations, {} cuts: {}; {runs} QEMU runs in {:.1} s",
        install_cuts.len(),
        cases.len(),
        summary.join(" "),
        started.elapsed().as_secs_f64()
    );
}
