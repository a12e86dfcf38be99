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
//! - A tampered B, B signed with another key, B at version 1 and an unsigned B are each refused
//!   with their own error, and A stays active. A corrupted active slot boots the previous model.
//! - Updates follow one another (A at odd versions, B at even ones) until one of them also turns
//!   over a page of the boot-record map (sequential-storage's page housekeeping: the 114th), and
//!   that update gets the same cut matrix.
//!
//! A boot that has to repair the record map after a cut (a torn page turnover) is cut in turn at
//! each of its own flash operations, and the boot after it must still run the same model.
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

struct Setup {
    elf: PathBuf,
    root: PathBuf,
    seed: [u8; 32],
    /// Model A (odd versions) and model B (even versions), unsigned, and the host's outputs.
    a: Vec<u8>,
    b: Vec<u8>,
    a_outputs: Vec<Vec<u8>>,
    b_outputs: Vec<Vec<u8>>,
    /// The flash with A installed at version 1.
    flash_a: Vec<u8>,
    /// Flash operations of A's install on an erased flash.
    install_ops: u32,
}

/// How a cut update ended: the operation cut, whether half of it was done, the version booted,
/// the flash operations of that boot (repairs).
type Cut = (u32, bool, u32, u32);

impl Setup {
    /// The update file for `version`: A signed at odd versions, B at even ones.
    fn signed(&self, version: u32) -> Vec<u8> {
        signature::sign(if version % 2 == 1 { &self.a } else { &self.b }, &self.seed, version).unwrap()
    }

    /// A fresh folder holding `flash` as `flash.bin`, `files`, and the input.
    fn case(&self, name: &str, flash: &[u8], files: &[(&str, &[u8])]) -> PathBuf {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("flash.bin"), flash).unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        std::fs::copy(self.root.join("input.bin"), dir.join("input.bin")).unwrap();
        dir
    }

    /// Boots in `dir`; checks that a valid model booted with the host's outputs for it (A at odd
    /// versions, B at even ones) and returns its version.
    fn boot(&self, dir: &Path, what: &str) -> u32 {
        self.boot_counting(dir, what).0
    }

    /// [`Setup::boot`], and the flash operations the boot did (repairs of the record map).
    fn boot_counting(&self, dir: &Path, what: &str) -> (u32, u32) {
        let out = qemu(&self.elf, dir, &["flash.bin", "boot", "input.bin"]);
        assert_eq!(out.exit, Some(0), "{what}: the device did not boot a model:\n{}", out.transcript());
        let line = out.stdout.lines().find(|l| l.starts_with("boot slot")).unwrap_or_else(|| panic!("{what}: no boot line:\n{}", out.transcript()));
        let version: u32 = line.split_whitespace().nth(4).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{what}: bad boot line {line}"));
        let ops = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("boot done, "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{what}: no operation count:\n{}", out.transcript()));
        let expected = if version % 2 == 1 { &self.a_outputs } else { &self.b_outputs };
        let device: Vec<Vec<u8>> = out
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("output "))
            .map(|l| hex(l.split_whitespace().nth(1).unwrap_or("")))
            .collect();
        assert_eq!(&device, expected, "{what}: version {version}'s outputs differ from the host's:\n{}", out.transcript());
        (version, ops)
    }

    /// From the flash `before`, sends the update to `version` (`operations` flash operations
    /// uncut) cut at each operation, none and half of it done: the next boot must run `version`
    /// or the one before, byte-exact; then the update is sent again and must complete (or, if the
    /// new version already booted, be refused as a rollback). Returns the runs and each cut's end.
    fn cut_matrix(&self, tag: &str, before: &[u8], version: u32, operations: u32) -> (usize, Vec<Cut>) {
        let file = self.signed(version);
        let cases: Vec<(u32, bool)> = (0..operations).flat_map(|n| [(n, false), (n, true)]).collect();
        let booted = Mutex::new(Vec::new());
        let runs = std::sync::atomic::AtomicUsize::new(0);
        parallel(&cases, |&(n, half)| {
            let cut = if half { format!("cut={n}:half") } else { format!("cut={n}") };
            let dir = self.case(&format!("{tag}-{}", cut.replace([':', '='], "-")), before, &[("u.mote", &file)]);
            let out = qemu(&self.elf, &dir, &["flash.bin", "update", "u.mote", &cut]);
            assert_eq!(out.exit, Some(CUT_EXIT), "{tag} {cut}: the power cut did not hit:\n{}", out.transcript());
            assert!(out.stdout.contains(&format!("power cut at flash operation {n}")), "{}", out.transcript());
            let cut_flash = std::fs::read(dir.join("flash.bin")).unwrap();
            let (booted_version, repairs) = self.boot_counting(&dir, &format!("{tag}: boot after {cut}"));
            assert!(booted_version == version || booted_version + 1 == version, "{tag} {cut}: booted version {booted_version}");
            // The boot repaired the record map: cut that boot too, at each of its operations.
            for (k, half) in (0..repairs).flat_map(|k| [(k, false), (k, true)]) {
                let again = if half { format!("cut={k}:half") } else { format!("cut={k}") };
                let sub = self.case(&format!("{tag}-{}-boot-{}", cut.replace([':', '='], "-"), again.replace([':', '='], "-")), &cut_flash, &[("u.mote", &file)]);
                let out = qemu(&self.elf, &sub, &["flash.bin", "boot", "input.bin", &again]);
                assert_eq!(out.exit, Some(CUT_EXIT), "{tag} {cut}, boot {again}: the power cut did not hit:\n{}", out.transcript());
                let v = self.boot(&sub, &format!("{tag}: boot after {cut} and a boot cut at {again}"));
                assert_eq!(v, booted_version, "{tag} {cut}, boot {again}");
                runs.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
            }
            let retry = qemu(&self.elf, &dir, &["flash.bin", "update", "u.mote"]);
            if booted_version < version {
                assert_eq!(retry.exit, Some(0), "{tag} {cut}: retrying the update after the cut:\n{}", retry.transcript());
                assert_eq!(self.boot(&dir, &format!("{tag}: boot after {cut} and a retry")), version);
            } else {
                let refused = format!("error: verify: RolledBack {{ version: {version}, minimum: {} }}", version + 1);
                assert!(retry.exit == Some(2) && retry.stdout.contains(&refused), "{tag} {cut}: the update is active; sending it again must be refused:\n{}", retry.transcript());
            }
            runs.fetch_add(if booted_version < version { 4 } else { 3 }, std::sync::atomic::Ordering::Relaxed);
            booted.lock().unwrap().push((n, half, booted_version, repairs));
        });
        let mut booted = booted.into_inner().unwrap();
        booted.sort();
        (runs.into_inner(), booted)
    }
}

fn summary(cuts: &[Cut], version: u32) -> String {
    let show = |&(n, half, v, repairs): &Cut| {
        let repaired = if repairs > 0 { format!(" (boot repaired: {repairs} operations, each cut)") } else { String::new() };
        format!("{n}{}→{}{repaired}", if half { "½" } else { "" }, if v == version { "new" } else { "old" })
    };
    cuts.iter().map(show).collect::<Vec<_>>().join(" ")
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

    let (a, input) = models::digits().unwrap_or_else(|e| panic!("{e}"));
    let onnx = repo_root().join("examples/demo/digits.onnx");
    let opts = mote_converter::Options { name: Some("digits-f32".into()), float: true, ..Default::default() };
    let b = mote_converter::convert(&onnx, &opts).unwrap_or_else(|e| panic!("{e}")).bytes;
    let outputs = |bytes: &[u8]| host::reference("digits", bytes, &input).unwrap_or_else(|e| panic!("{e}")).outputs;
    let (a_outputs, b_outputs) = (outputs(&a), outputs(&b));
    assert_ne!(a_outputs, b_outputs, "A and B must be told apart by their outputs");
    std::fs::write(root.join("input.bin"), input.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();

    let mut s = Setup { elf, root, seed: test_seed(), a, b, a_outputs, b_outputs, flash_a: Vec::new(), install_ops: 0 };
    let dir = s.case("install-a", &vec![0xFF; FLASH_BYTES], &[("a.mote", &s.signed(1))]);
    let out = qemu(&s.elf, &dir, &["flash.bin", "update", "a.mote"]);
    assert_eq!(out.exit, Some(0), "installing A on an erased flash:\n{}", out.transcript());
    assert!(out.stdout.contains("updated: slot 0 version 1"), "{}", out.transcript());
    s.install_ops = operations(&out);
    s.flash_a = std::fs::read(dir.join("flash.bin")).unwrap();
    s
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

    let dir = s.case("uncut", &s.flash_a, &[("u.mote", &s.signed(2))]);
    assert_eq!(s.boot(&dir, "A installed"), 1);
    let out = qemu(&s.elf, &dir, &["flash.bin", "update", "u.mote"]);
    assert_eq!(out.exit, Some(0), "the uncut update:\n{}", out.transcript());
    assert!(out.stdout.contains("updated: slot 1 version 2"), "{}", out.transcript());
    let update_ops = operations(&out);
    assert_eq!(s.boot(&dir, "after the uncut update"), 2);
    count(3);
    let (n, update_cuts) = s.cut_matrix("update", &s.flash_a, 2, update_ops);
    count(n);

    // A first install cut anywhere leaves nothing to boot, said as such, and can be redone.
    let install_cuts: Vec<(u32, bool)> = (0..s.install_ops).flat_map(|n| [(n, false), (n, true)]).collect();
    let a1 = s.signed(1);
    parallel(&install_cuts, |&(n, half)| {
        let cut = if half { format!("cut={n}:half") } else { format!("cut={n}") };
        let dir = s.case(&format!("install-{}", cut.replace([':', '='], "-")), &vec![0xFF; FLASH_BYTES], &[("a.mote", &a1)]);
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

    let mut tampered = s.signed(2);
    let at = tampered.len() / 2;
    tampered[at] ^= 0x10;
    reseal(&mut tampered);
    let refusals = [
        ("tampered", tampered, "verify: Tampered"),
        ("other-key", signature::sign(&s.b, &[0x33; 32], 2).unwrap(), "verify: WrongKey"),
        ("rollback", signature::sign(&s.b, &s.seed, 1).unwrap(), "verify: RolledBack { version: 1, minimum: 2 }"),
        ("unsigned", s.b.clone(), "verify: Unsigned"),
    ];
    parallel(&refusals, |(name, file, error)| {
        let dir = s.case(name, &s.flash_a, &[("bad.mote", file)]);
        let out = qemu(&s.elf, &dir, &["flash.bin", "update", "bad.mote"]);
        assert_eq!(out.exit, Some(2), "{name}: the update must be refused:\n{}", out.transcript());
        assert!(out.stdout.contains(&format!("error: {error}")), "{name}: expected `{error}`:\n{}", out.transcript());
        assert_eq!(s.boot(&dir, &format!("boot after the {name} update")), 1, "{name}: A must stay active");
        count(2);
    });

    // B active, A previous; a flipped bit in B's slot makes the boot fall back to A.
    let after_b = std::fs::read(s.root.join("uncut/flash.bin")).unwrap();
    let mut flash = after_b.clone();
    flash[SLOT1 + 100] ^= 0x01;
    let dir = s.case("corrupt-active", &flash, &[]);
    let out = qemu(&s.elf, &dir, &["flash.bin", "boot", "input.bin"]);
    assert!(out.stdout.contains("active slot 1 rejected: CRC mismatch") && out.stdout.contains("boot slot 0 version 1 (fallback)"), "{}", out.transcript());
    assert_eq!(s.boot(&dir, "boot with a corrupt active slot"), 1);
    count(2);

    // A device's later life: updates one after another (A and B in turn) until one also turns
    // over a page of the boot-record map (more operations than the same file took before), then
    // the cut matrix on exactly that update.
    let dir = s.case("lifetime", &after_b, &[]);
    let mut usual = [0u32; 2];
    let mut version = 3;
    let (before, turnover_ops) = loop {
        assert!(version < 400, "no update turned over a page of the boot-record map");
        let before = std::fs::read(dir.join("flash.bin")).unwrap();
        std::fs::write(dir.join("u.mote"), s.signed(version)).unwrap();
        let out = qemu(&s.elf, &dir, &["flash.bin", "update", "u.mote"]);
        assert_eq!(out.exit, Some(0), "update to version {version}:\n{}", out.transcript());
        count(1);
        let ops = operations(&out);
        let parity = (version % 2) as usize;
        if usual[parity] == 0 {
            usual[parity] = ops;
        } else if ops > usual[parity] {
            break (before, ops);
        }
        version += 1;
    };
    assert_eq!(s.boot(&dir, "after the page turnover"), version);
    count(1);
    let (n, turnover_cuts) = s.cut_matrix("turnover", &before, version, turnover_ops);
    count(n);

    eprintln!(
        "ota: install {} flash operations, {} cuts; update {update_ops} operations, {} cuts: {}; update {version} turns a record page over: {turnover_ops} operations, {} cuts: {}; {} QEMU runs in {:.1} s",
        s.install_ops,
        install_cuts.len(),
        update_cuts.len(),
        summary(&update_cuts, 2),
        turnover_cuts.len(),
        summary(&turnover_cuts, version),
        runs.into_inner(),
        started.elapsed().as_secs_f64()
    );
}
