//! # mote-targets
//!
//! One TOML file per board in `boards/`: the rustc target to build for, the core and its ISA
//! features, the memory the chip has, how Mote's firmware lays itself out in that memory, and how
//! to run it: a QEMU machine with its arguments, or a probe-rs chip name for a real board.
//!
//! ## Design
//! - **The TOML file is the single source.** The linker's `memory.x` is rendered from it
//!   ([`Target::memory_x`]) by the firmware's build script, and the QEMU runner reads the same
//!   regions to know where to load a model and how large an arena the board offers. Nothing about
//!   a board is written down twice.
//! - **Physical memory and layout are separate.** `[memory]` lists what the chip has, named as
//!   its datasheet or QEMU's machine does; `[layout]` places the four regions Mote's firmware
//!   uses (`firmware`, `model`, `ram`, `arena`) inside it. Loading checks that every layout region
//!   lies inside one memory and that none overlap, so a typo is an error here, not a hard fault
//!   on the device.
//! - **The model is not linked into the firmware.** The `model` region receives the `.mote` file
//!   (and, under QEMU, the input) from the runner or a flasher, so one firmware per board runs
//!   every model. A deployment's flash cost is the firmware plus the model bytes.
//!
//! ```
//! let t = mote_targets::Target::load(&mote_targets::boards_dir().join("mps2-an386.toml")).unwrap();
//! assert_eq!(t.rustc_target, "thumbv7em-none-eabihf");
//! assert!(t.memory_x().contains("ARENA"));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why a board description could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid board description: {source}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("no board named {name:?} in {dir}; known boards: {known}")]
    Unknown { name: String, dir: PathBuf, known: String },
}

/// The `boards/` folder of this crate, where every description lives.
pub fn boards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("boards")
}

/// Every description in `dir`, sorted by name.
pub fn load_all(dir: &Path) -> Result<Vec<Target>, TargetError> {
    let io = |source| TargetError::Io { path: dir.to_path_buf(), source };
    let mut targets = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            targets.push(Target::load(&path)?);
        }
    }
    targets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(targets)
}

/// The description named `name` in `dir`.
pub fn find(dir: &Path, name: &str) -> Result<Target, TargetError> {
    let path = dir.join(format!("{name}.toml"));
    if path.exists() {
        return Target::load(&path);
    }
    let known: Vec<String> = load_all(dir)?.into_iter().map(|t| t.name).collect();
    Err(TargetError::Unknown { name: name.to_string(), dir: dir.to_path_buf(), known: known.join(", ") })
}

/// One board.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The file's stem; also the firmware's cargo feature that selects this board.
    pub name: String,
    /// One line for people: vendor, board, core.
    pub summary: String,
    /// The rustc target triple to build firmware with.
    pub rustc_target: String,
    /// The CPU core, e.g. `Cortex-M4F`, `RV32IMAC`.
    pub core: String,
    /// ISA extensions the core has and the rustc target may or may not use (documentation, and
    /// the key for choosing fast kernels later).
    pub isa: Vec<String>,
    /// The `-C target-cpu` firmware for this board is built with, when the rustc target's default
    /// leaves out extensions the kernels use (`cortex-m55`: Helium). `None`: the firmware crate's
    /// own `.cargo/config.toml` decides.
    #[serde(default)]
    pub target_cpu: Option<String>,
    /// Core clock of the real silicon, for turning cycle counts into time.
    #[serde(default)]
    pub clock_hz: Option<u64>,
    /// The memories the chip has, by name.
    pub memory: BTreeMap<String, Region>,
    pub layout: Layout,
    /// How to run it under QEMU, for boards QEMU emulates.
    #[serde(default)]
    pub qemu: Option<Qemu>,
    /// How to flash and run it on real hardware.
    #[serde(default)]
    pub probe_rs: Option<ProbeRs>,
    /// Whether `examples/hil-firmware` builds for this board as it is. False for boards that need
    /// a vendor boot stage or linker script first (said in `note`).
    #[serde(default = "yes")]
    pub firmware: bool,
    /// What a user must know that the fields above cannot say.
    #[serde(default)]
    pub note: Option<String>,
}

fn yes() -> bool {
    true
}

/// Where Mote's firmware puts things, each one a region of the generated `memory.x`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// `FLASH`: vector table, code, read-only data and the initial values of `.data`.
    pub firmware: Region,
    /// `MODEL`: the `.mote` file (16-byte aligned), written by a flasher or QEMU's loader.
    pub model: Region,
    /// `RAM`: `.data`, `.bss` and the stack, which grows down from the region's end.
    pub ram: Region,
    /// `ARENA`: the interpreter's activations.
    pub arena: Region,
}

impl Layout {
    /// The four regions with their `memory.x` names.
    pub fn regions(&self) -> [(&'static str, Region); 4] {
        [("FLASH", self.firmware), ("MODEL", self.model), ("RAM", self.ram), ("ARENA", self.arena)]
    }
}

/// A range of addresses: `origin` and `size` in bytes. In TOML a size is a number or a string
/// with a `K` or `M` suffix (`"256K"`), as in linker scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub origin: u64,
    pub size: Size,
}

impl Region {
    pub fn end(&self) -> u64 {
        self.origin + self.size.0
    }

    pub fn contains(&self, other: &Region) -> bool {
        other.origin >= self.origin && other.end() <= self.end()
    }

    pub fn contains_addr(&self, addr: u64) -> bool {
        addr >= self.origin && addr < self.end()
    }

    fn overlaps(&self, other: &Region) -> bool {
        self.origin < other.end() && other.origin < self.end()
    }
}

/// A size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(n) => Ok(Size(n)),
            Raw::Text(s) => parse_size(&s).map(Size).ok_or_else(|| {
                serde::de::Error::custom(format!("size {s:?} is not a byte count like 4096, \"64K\" or \"4M\""))
            }),
        }
    }
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, unit) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1024),
        b'M' | b'm' => (&s[..s.len() - 1], 1024 * 1024),
        _ => (s, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

/// A QEMU machine that emulates the board.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Qemu {
    /// The emulator binary, e.g. `qemu-system-arm`.
    pub system: String,
    /// `-M` argument.
    pub machine: String,
    /// Further arguments, e.g. `["-bios", "none"]`.
    #[serde(default)]
    pub args: Vec<String>,
    /// How the firmware prints and exits.
    pub io: Io,
    /// The SysTick clock under QEMU (Cortex-M). With `-icount shift=0` a guest instruction takes
    /// 1 ns of virtual time, so one tick is `1e9 / systick_hz` instructions.
    #[serde(default)]
    pub systick_hz: Option<u64>,
    /// The Debian package that provides `system`.
    pub package: String,
}

/// The firmware's console and exit path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Io {
    /// Semihosting `SYS_WRITE` and `SYS_EXIT_EXTENDED`: the exit code reaches QEMU's.
    Semihosting,
    /// A 16550 UART for text and a SiFive test finisher for the exit code (QEMU's RISC-V `virt`,
    /// whose semihosting has no usable exit).
    Uart16550 { uart: u64, finisher: u64 },
}

/// A real board reached through a debug probe.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeRs {
    /// `probe-rs run --chip <chip>`.
    pub chip: String,
}

/// Instruction-set family, from the rustc target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    CortexM,
    Riscv32,
}

impl Target {
    /// Reads and validates one description.
    pub fn load(path: &Path) -> Result<Target, TargetError> {
        let text = std::fs::read_to_string(path).map_err(|source| TargetError::Io { path: path.to_path_buf(), source })?;
        Self::parse(&text, path)
    }

    /// Parses and validates a description; `path` names it in errors and gives its expected name.
    pub fn parse(text: &str, path: &Path) -> Result<Target, TargetError> {
        let t: Target = toml::from_str(text).map_err(|e| TargetError::Parse { path: path.to_path_buf(), source: Box::new(e) })?;
        t.validate().map_err(|reason| TargetError::Invalid { path: path.to_path_buf(), reason })?;
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
            if stem != t.name {
                return Err(TargetError::Invalid {
                    path: path.to_path_buf(),
                    reason: format!("name {:?} differs from the file name {stem:?}", t.name),
                });
            }
        }
        Ok(t)
    }

    pub fn arch(&self) -> Arch {
        if self.rustc_target.starts_with("riscv32") {
            Arch::Riscv32
        } else {
            Arch::CortexM
        }
    }

    fn validate(&self) -> Result<(), String> {
        if !(self.rustc_target.starts_with("thumbv") || self.rustc_target.starts_with("riscv32")) {
            return Err(format!("rustc_target {:?} is neither a Cortex-M (thumbv*) nor a RISC-V 32 target", self.rustc_target));
        }
        let regions = self.layout.regions();
        for (name, r) in regions {
            if r.size.0 == 0 {
                return Err(format!("layout region {name} is empty"));
            }
            if r.origin % 16 != 0 || r.size.0 % 16 != 0 {
                return Err(format!("layout region {name} must start and end on a 16-byte boundary"));
            }
            if !self.memory.values().any(|m| m.contains(&r)) {
                return Err(format!("layout region {name} ({:#x}..{:#x}) lies in no [memory] entry", r.origin, r.end()));
            }
        }
        for (i, (a, ra)) in regions.iter().enumerate() {
            for (b, rb) in &regions[i + 1..] {
                if ra.overlaps(rb) {
                    return Err(format!("layout regions {a} and {b} overlap"));
                }
            }
        }
        if let Some(q) = &self.qemu {
            if self.arch() == Arch::CortexM && q.systick_hz.is_none() {
                return Err("a Cortex-M board under QEMU needs qemu.systick_hz".into());
            }
        }
        Ok(())
    }

    /// The linker script fragment `cortex-m-rt` and `riscv-rt` include as `memory.x`.
    ///
    /// Besides the four regions it defines `_mote_model_start/_end` and `_mote_arena_start/_end`
    /// for the firmware, and on RISC-V the `REGION_*` aliases riscv-rt requires.
    pub fn memory_x(&self) -> String {
        let mut s = format!("/* {}: {}. Generated by mote-targets from boards/{}.toml; edit that file. */\n", self.name, self.summary, self.name);
        s.push_str("MEMORY\n{\n");
        for (name, r) in self.layout.regions() {
            let _ = writeln!(s, "  {name:<5} : ORIGIN = {:#010x}, LENGTH = {:#x}", r.origin, r.size.0);
        }
        s.push_str("}\n\n");
        for region in ["MODEL", "ARENA"] {
            let sym = region.to_lowercase();
            let _ = writeln!(s, "_mote_{sym}_start = ORIGIN({region});");
            let _ = writeln!(s, "_mote_{sym}_end = ORIGIN({region}) + LENGTH({region});");
        }
        if self.arch() == Arch::Riscv32 {
            s.push('\n');
            for (alias, region) in [("TEXT", "FLASH"), ("RODATA", "FLASH"), ("DATA", "RAM"), ("BSS", "RAM"), ("HEAP", "RAM"), ("STACK", "RAM")] {
                let _ = writeln!(s, "REGION_ALIAS(\"REGION_{alias}\", {region});");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        name = "b"
        summary = "a board"
        rustc_target = "thumbv7em-none-eabihf"
        core = "Cortex-M4F"
        isa = ["dsp"]
        [memory]
        flash = { origin = 0x0, size = "1M" }
        sram = { origin = 0x2000_0000, size = "128K" }
        [layout]
        firmware = { origin = 0x0, size = "256K" }
        model = { origin = 0x4_0000, size = "768K" }
        ram = { origin = 0x2000_0000, size = "32K" }
        arena = { origin = 0x2000_8000, size = "96K" }
    "#;

    fn parse(text: &str) -> Result<Target, TargetError> {
        Target::parse(text, Path::new("b.toml"))
    }

    #[test]
    fn sizes_accept_numbers_and_suffixes() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("64K"), Some(65536));
        assert_eq!(parse_size("4M"), Some(4 << 20));
        assert_eq!(parse_size("4G"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn a_good_description_renders_every_region() {
        let t = parse(GOOD).unwrap();
        let x = t.memory_x();
        assert!(x.contains("FLASH : ORIGIN = 0x00000000, LENGTH = 0x40000"), "{x}");
        assert!(x.contains("ARENA : ORIGIN = 0x20008000, LENGTH = 0x18000"), "{x}");
        assert!(x.contains("_mote_model_start = ORIGIN(MODEL);"), "{x}");
        assert!(!x.contains("REGION_ALIAS"), "{x}");
        let riscv = parse(&GOOD.replace("thumbv7em-none-eabihf", "riscv32imac-unknown-none-elf")).unwrap();
        assert!(riscv.memory_x().contains("REGION_ALIAS(\"REGION_STACK\", RAM);"));
    }

    #[test]
    fn layout_errors_are_caught() {
        let outside = GOOD.replace("arena = { origin = 0x2000_8000, size = \"96K\" }", "arena = { origin = 0x2000_8000, size = \"128K\" }");
        assert!(matches!(parse(&outside), Err(TargetError::Invalid { reason, .. }) if reason.contains("ARENA")));
        let overlap = GOOD.replace("model = { origin = 0x4_0000", "model = { origin = 0x3_0000");
        assert!(matches!(parse(&overlap), Err(TargetError::Invalid { reason, .. }) if reason.contains("overlap")));
        let unaligned = GOOD.replace("size = \"32K\"", "size = 1000");
        assert!(matches!(parse(&unaligned), Err(TargetError::Invalid { .. })));
        let misnamed = Target::parse(GOOD, Path::new("other.toml"));
        assert!(matches!(misnamed, Err(TargetError::Invalid { reason, .. }) if reason.contains("file name")));
        assert!(matches!(parse(&GOOD.replace("\"1M\"", "\"1X\"")), Err(TargetError::Parse { .. })));
        assert!(matches!(parse(&format!("{GOOD}\nbogus = 1")), Err(TargetError::Parse { .. })));
    }

    #[test]
    fn every_shipped_board_loads() {
        let all = load_all(&boards_dir()).unwrap();
        assert!(all.len() >= 8, "{} boards", all.len());
        for t in &all {
            assert!(t.qemu.is_some() || t.probe_rs.is_some(), "{}: neither QEMU nor probe-rs can run it", t.name);
        }
        assert!(matches!(find(&boards_dir(), "nope"), Err(TargetError::Unknown { .. })));
    }
}
