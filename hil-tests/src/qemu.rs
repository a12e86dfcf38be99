//! Running the firmware under QEMU and reading its report.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mote_targets::{Io, Target};

use crate::firmware::Firmware;
use crate::{io_err, repo_root, HilError, Result};

/// Builds the `qemu-insncount` plugin from `../shared/tools/qemu-insncount` into `out_dir`
/// (again only when its source is newer).
pub fn build_plugin(out_dir: &Path) -> Result<PathBuf> {
    let src_dir = repo_root().join("../shared/tools/qemu-insncount");
    let src = src_dir.join("insncount.c");
    if !src.exists() {
        return Err(HilError::Plugin { log: format!("{} is missing: the shared tools must sit beside the repository", src.display()) });
    }
    std::fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
    let lib = out_dir.join("libinsncount.so");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&lib).is_some() && modified(&lib) >= modified(&src) {
        return Ok(lib);
    }
    let output = Command::new("gcc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&lib)
        .arg(&src)
        .arg("-I")
        .arg(&src_dir)
        .output()
        .map_err(|e| missing_or("gcc", "apt-get install -y gcc", e))?;
    if !output.status.success() {
        return Err(HilError::Plugin { log: String::from_utf8_lossy(&output.stderr).into_owned() });
    }
    Ok(lib)
}

fn missing_or(tool: &str, install: &str, e: std::io::Error) -> HilError {
    if e.kind() == std::io::ErrorKind::NotFound {
        HilError::Missing { tool: tool.to_string(), install: install.to_string() }
    } else {
        HilError::Io { path: tool.into(), source: e }
    }
}

/// One QEMU invocation.
pub struct Run<'a> {
    pub board: &'a Target,
    pub firmware: &'a Firmware,
    /// The job, wrapped as an ELF whose segment lies at the board's `MODEL` region, if any.
    pub job: Option<&'a Path>,
    /// The instruction-counting plugin, watching the firmware's marker.
    pub plugin: Option<&'a Path>,
    pub timeout: Duration,
}

/// How a QEMU run ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The command line, to replay the run by hand.
    pub command: String,
    /// QEMU's exit code; `None` when it was killed.
    pub exit: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub wall: Duration,
}

impl Outcome {
    /// Everything the guest and QEMU printed, for failure messages.
    pub fn transcript(&self) -> String {
        let mut s = self.stdout.clone();
        let replay = format!("--- replay ---\n{}\n", self.command);
        let stderr: Vec<&str> = self.stderr.lines().filter(|l| !l.starts_with("insncount: mark")).collect();
        if !stderr.is_empty() {
            s += "--- qemu stderr ---\n";
            s += &stderr.join("\n");
        }
        const KEEP: usize = 6000;
        if s.len() > KEEP {
            let cut = s.len() - KEEP;
            let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(s.len());
            s = format!("[… {cut} bytes cut …]{}", &s[cut..]);
        }
        s + "\n" + &replay
    }
}

impl Run<'_> {
    /// The QEMU command line, also shown in reports so a failure can be replayed by hand.
    pub fn command(&self) -> Result<Command> {
        let q = self.board.qemu.as_ref().ok_or_else(|| HilError::Guest {
            board: self.board.name.clone(),
            problem: "has no [qemu] section".into(),
            output: String::new(),
        })?;
        let mut cmd = Command::new(&q.system);
        cmd.args(["-M", &q.machine]).args(&q.args).args(["-display", "none", "-monitor", "none", "-icount", "shift=0"]);
        match q.io {
            Io::Semihosting => cmd.args(["-serial", "null", "-semihosting-config", "enable=on,target=native"]),
            Io::Uart16550 { .. } => cmd.args(["-serial", "stdio"]),
        };
        cmd.arg("-kernel").arg(&self.firmware.elf);
        if let Some(job) = self.job {
            cmd.arg("-device").arg(format!("loader,file={}", job.display()));
        }
        if let Some(plugin) = self.plugin {
            cmd.arg("-plugin").arg(format!("{},mark={:#x}", plugin.display(), self.firmware.image.marker)).args(["-d", "plugin"]);
        }
        Ok(cmd)
    }

    /// Runs QEMU to its end or to the timeout, whichever comes first.
    pub fn run(&self) -> Result<Outcome> {
        let mut cmd = self.command()?;
        let command = std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ");
        let q = self.board.qemu.as_ref().expect("command() checked it");
        let start = Instant::now();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| missing_or(&q.system, &format!("apt-get install -y {}", q.package), e))?;
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                String::from_utf8_lossy(&buf).into_owned()
            })
        };
        let out = drain(Box::new(child.stdout.take().expect("piped")));
        let err = drain(Box::new(child.stderr.take().expect("piped")));
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(io_err(Path::new(&q.system)))? {
                break Some(status);
            }
            if start.elapsed() > self.timeout {
                timed_out = true;
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Ok(Outcome {
            command,
            exit: status.and_then(|s| s.code()),
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
            timed_out,
            wall: start.elapsed(),
        })
    }
}

/// What a successful run reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub outputs: Vec<Vec<u8>>,
    /// The firmware's own counter: `("systick", ticks)` or `("minstret", instructions)`.
    pub counter: Option<(String, u64)>,
    /// Op codes in order, when profiling.
    pub ops: Vec<String>,
    pub stack: u64,
    pub arena: u64,
    /// The plugin's running instruction count at every marker call.
    pub marks: Vec<u64>,
}

impl Report {
    /// Instructions between the two markers around the measured inference.
    pub fn instructions(&self) -> Option<u64> {
        Some(self.marks.get(1)? - self.marks.first()?)
    }

    /// Instructions of op `i` in the profiled inference.
    pub fn op_instructions(&self, i: usize) -> Option<u64> {
        Some(self.marks.get(3 + 2 * i)? - self.marks.get(2 + 2 * i)?)
    }
}

/// Checks that the run exited 0 after `ok`, and parses its report.
pub fn parse(board: &str, outcome: &Outcome) -> Result<Report> {
    let fail = |problem: String| HilError::Guest { board: board.to_string(), problem, output: outcome.transcript() };
    if outcome.timed_out {
        return Err(fail(format!("no exit after {:.0} s: the guest hangs or is too slow (MOTE_HIL_TIMEOUT_S raises the limit)", outcome.wall.as_secs_f64())));
    }
    match outcome.exit {
        Some(0) => {}
        Some(code) => return Err(fail(format!("exit code {code}"))),
        None => return Err(fail("QEMU was killed by a signal".into())),
    }
    let mut r = Report::default();
    let mut finished = false;
    for line in outcome.stdout.lines() {
        let mut words = line.split_whitespace();
        let number = |w: Option<&str>| w.and_then(|w| w.parse::<u64>().ok());
        match words.next() {
            Some("out") => {
                let index = number(words.next()).ok_or_else(|| fail(format!("bad line {line:?}")))?;
                if index as usize != r.outputs.len() {
                    return Err(fail(format!("output {index} out of order")));
                }
                r.outputs.push(decode_hex(words.next().unwrap_or("")).ok_or_else(|| fail(format!("bad hex in output {index}")))?);
            }
            Some("count") => {
                let name = words.next().unwrap_or("").to_string();
                r.counter = Some((name, number(words.next()).ok_or_else(|| fail(format!("bad line {line:?}")))?));
            }
            Some("op") => {
                let _index = words.next();
                r.ops.push(words.next().unwrap_or("?").to_string());
            }
            Some("stack") => r.stack = number(words.next()).ok_or_else(|| fail(format!("bad line {line:?}")))?,
            Some("model") => {
                let fields: Vec<&str> = words.collect();
                r.arena = fields.iter().position(|&w| w == "arena").and_then(|i| number(fields.get(i + 1).copied())).unwrap_or(0);
            }
            Some("ok") => finished = true,
            _ => {}
        }
    }
    if !finished {
        return Err(fail("exit code 0 without the final `ok` line".into()));
    }
    for line in outcome.stderr.lines() {
        if let Some(rest) = line.strip_prefix("insncount: mark ") {
            let total = rest.split_whitespace().nth(2).and_then(|w| w.parse::<u64>().ok());
            r.marks.push(total.ok_or_else(|| fail(format!("bad plugin line {line:?}")))?);
        }
    }
    Ok(r)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(stdout: &str, stderr: &str, exit: Option<i32>) -> Outcome {
        Outcome { command: "qemu".into(), exit, stdout: stdout.into(), stderr: stderr.into(), timed_out: false, wall: Duration::ZERO }
    }

    #[test]
    fn a_report_is_parsed() {
        let o = outcome(
            "mote-hil b\nmodel 10 arena 64 ops 2\nout 0 00ff10\ncount minstret 99\nop 0 Conv2d\nop 1 Softmax\nstack 512\nok\n",
            "insncount: mark 0 at 100 (+100 since last mark)\ninsncount: mark 1 at 190 (+90 since last mark)\n\
             insncount: mark 2 at 200 (+10 since last mark)\ninsncount: mark 3 at 250 (+50 since last mark)\ninsncount: total 300\n",
            Some(0),
        );
        let r = parse("b", &o).unwrap();
        assert_eq!(r.outputs, vec![vec![0x00, 0xff, 0x10]]);
        assert_eq!(r.counter, Some(("minstret".into(), 99)));
        assert_eq!((r.stack, r.arena, r.ops.len()), (512, 64, 2));
        assert_eq!(r.instructions(), Some(90));
        assert_eq!(r.op_instructions(0), Some(50));
        assert_eq!(r.op_instructions(1), None);
    }

    #[test]
    fn failures_carry_the_guest_output() {
        let e = parse("b", &outcome("mote-hil b\npanicked: boom\n", "", Some(101))).unwrap_err().to_string();
        assert!(e.contains("exit code 101") && e.contains("panicked: boom"), "{e}");
        let e = parse("b", &outcome("mote-hil b\nout 0 abc\n", "", Some(0))).unwrap_err().to_string();
        assert!(e.contains("bad hex"), "{e}");
        let e = parse("b", &outcome("mote-hil b\n", "", Some(0))).unwrap_err().to_string();
        assert!(e.contains("`ok`"), "{e}");
        let mut hung = outcome("mote-hil b\n", "", None);
        hung.timed_out = true;
        assert!(parse("b", &hung).unwrap_err().to_string().contains("hangs"));
    }
}
