//! Over-the-air model swap on a Cortex-M4F (QEMU's mps2-an386): two model slots in a NOR flash,
//! a signed update received in chunks into the inactive slot, checked in place, then switched to
//! in one power-safe step. Design and flash layout: `README.md`, `src/slots.rs`.
//!
//! One boot does one job, named on the semihosting command line (`run.sh` builds it from
//! `cargo run` arguments); file names are the host's, relative to QEMU's folder:
//!
//! ```text
//! ota FLASH update FILE [cut=N[:half]]   receive FILE as an update, verify it, switch to it
//! ota FLASH boot INPUT                   pick the model to boot, run it once on INPUT
//! ```
//!
//! `FLASH` is the flash image (`slots::FLASH_BYTES` bytes, `0xFF` when new). `cut=N` cuts the
//! power at flash operation N (with `:half`, half of that operation done). `INPUT` holds the
//! model's input as little-endian f32 values, as a sensor front-end would deliver them. `boot` prints `boot slot S version V`, one
//! `output I HEX` line per graph output, and the flash operations it did (none, unless the
//! record map had to be repaired after a cut).
//!
//! Exit status: 0 done; 1 flash, record or host I/O error; 2 update refused; 3 nothing valid to
//! boot; 4 the model failed to run; 42 power cut; 101 panic; 102 HardFault. Errors are printed
//! first as `error: ...`.
#![no_std]
#![no_main]

mod flash;
mod slots;

use core::ffi::CStr;

use cortex_m_rt::{entry, exception, ExceptionFrame};
use mote_runtime::signature::{self, PublicKey};
use mote_runtime::{Arena, Interpreter, Model, RunError};
use semihosting::fs::File;
use semihosting::io::Read;
use semihosting::println;

use flash::{Cut, FileFlash};
use slots::{OtaError, Storage, FLASH_BYTES, SLOT_BYTES};

/// The keys updates must be signed with: the HIL test key. A product compiles in its own
/// (`mote keygen`), and may list a second one while it rotates keys.
const KEYS: [PublicKey; 1] = [signature::public_key_from_hex(include_str!("../../hil-firmware/test-key.pub"))];

const ARENA_BYTES: usize = 64 * 1024;
/// The most input values a boot reads.
const INPUT_VALUES: usize = 1024;

/// A slot's file copied to RAM, aligned as `Model::from_bytes` requires.
#[repr(C, align(16))]
struct SlotBuf([u8; SLOT_BYTES as usize]);

/// Why this boot's job failed.
enum AppError {
    Usage(&'static str),
    Ota(OtaError),
    Run(RunError),
    /// The input file is missing or does not match the model's inputs.
    Input(&'static str),
}

impl From<OtaError> for AppError {
    fn from(e: OtaError) -> Self {
        AppError::Ota(e)
    }
}

impl From<RunError> for AppError {
    fn from(e: RunError) -> Self {
        AppError::Run(e)
    }
}

impl AppError {
    fn exit_code(&self) -> i32 {
        match self {
            AppError::Ota(OtaError::Verify(_) | OtaError::CrcMismatch { .. } | OtaError::TooLarge { .. } | OtaError::VersionMismatch { .. }) => 2,
            AppError::Ota(OtaError::NothingInstalled | OtaError::NoValidModel { .. }) => 3,
            AppError::Run(_) => 4,
            _ => 1,
        }
    }
}

impl core::fmt::Display for AppError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AppError::Usage(what) => write!(f, "usage: ota FLASH update FILE [cut=N[:half]] | ota FLASH boot INPUT ({what})"),
            AppError::Ota(e) => write!(f, "{e}"),
            AppError::Run(e) => write!(f, "run: {e}"),
            AppError::Input(what) => write!(f, "input: {what}"),
        }
    }
}

#[entry]
fn main() -> ! {
    let code = match run() {
        Ok(()) => 0,
        Err(e) => {
            println!("error: {e}");
            e.exit_code()
        }
    };
    semihosting::process::exit(code)
}

/// A command-line argument as a C string for semihosting's `open`.
fn c_path<'b>(arg: &str, buf: &'b mut [u8; 128]) -> Result<&'b CStr, AppError> {
    let n = arg.len();
    if n >= buf.len() {
        return Err(AppError::Usage("path too long"));
    }
    buf[..n].copy_from_slice(arg.as_bytes());
    buf[n] = 0;
    CStr::from_bytes_with_nul(&buf[..=n]).map_err(|_| AppError::Usage("path with a NUL byte"))
}

fn parse_cut(arg: &str) -> Result<Cut, AppError> {
    let bad = AppError::Usage("cut=N or cut=N:half");
    let spec = arg.strip_prefix("cut=").ok_or(AppError::Usage("unknown option"))?;
    let (n, half) = match spec.split_once(':') {
        Some((n, "half")) => (n, true),
        Some(_) => return Err(bad),
        None => (spec, false),
    };
    Ok(Cut { at: n.parse().map_err(|_| bad)?, half })
}

fn run() -> Result<(), AppError> {
    let args = semihosting::experimental::env::args::<512>().map_err(|_| AppError::Usage("no command line"))?;
    let mut it = (&args).map(|a| a.unwrap_or(""));
    it.next();
    let flash_path = it.next().ok_or(AppError::Usage("no flash image"))?;
    let command = it.next().ok_or(AppError::Usage("no command"))?;
    let file_arg = it.next().ok_or(AppError::Usage("no file"))?;
    let cut = it.next().map(parse_cut).transpose()?;

    let mut path = [0u8; 128];
    let flash = FileFlash::open(c_path(flash_path, &mut path)?, FLASH_BYTES, cut).map_err(OtaError::from)?;
    let mut storage = Storage::new(flash);
    let buf = cortex_m::singleton!(: SlotBuf = SlotBuf([0; SLOT_BYTES as usize])).ok_or(AppError::Usage("entered twice"))?;

    match command {
        "update" => {
            let mut radio = File::open(c_path(file_arg, &mut path)?).map_err(|_| OtaError::Radio)?;
            let len = radio.metadata().map_err(|_| OtaError::Radio)?.len();
            let len = u32::try_from(len).map_err(|_| OtaError::TooLarge { len: u32::MAX })?;
            let mut receive = |chunk: &mut [u8]| radio.read_exact(chunk).map_err(|_| OtaError::Radio);
            let record = storage.update(&mut receive, len, &KEYS, &mut buf.0)?;
            println!(
                "updated: slot {} version {} ({} B), {} flash operations",
                record.active.slot,
                record.active.version,
                record.active.len,
                storage.operations()
            );
            Ok(())
        }
        "boot" => {
            let (info, fallback, file) = storage.boot(&KEYS, &mut buf.0)?;
            let model = Model::from_bytes(file).map_err(OtaError::from)?;
            println!("boot slot {} version {}{}", info.slot, info.version, if fallback { " (fallback)" } else { "" });
            let mut input = [0u8; INPUT_VALUES * 4];
            let mut f = File::open(c_path(file_arg, &mut path)?).map_err(|_| AppError::Input("cannot open"))?;
            let n = f.metadata().map_err(|_| AppError::Input("cannot read"))?.len() as usize;
            let input = input.get_mut(..n).ok_or(AppError::Input("longer than this example reads"))?;
            f.read_exact(input).map_err(|_| AppError::Input("cannot read"))?;
            infer(&model, input)?;
            println!("boot done, {} flash operations", storage.operations());
            Ok(())
        }
        _ => Err(AppError::Usage("unknown command")),
    }
}

/// Runs `model` once on `input` (little-endian f32 values, quantized by the runtime as on the
/// host when the model's input is int8) and prints every output's bytes in hex.
fn infer(model: &Model<'_>, input: &[u8]) -> Result<(), AppError> {
    let arena = cortex_m::singleton!(: Arena<ARENA_BYTES> = Arena::new()).ok_or(AppError::Usage("entered twice"))?;
    let mut it = Interpreter::new(model, &mut arena.0)?;
    if model.inputs().len() != 1 {
        return Err(AppError::Input("this example feeds models with one input"));
    }
    let mut values = [0f32; INPUT_VALUES];
    let n = input.len() / 4;
    if !input.len().is_multiple_of(4) || n > INPUT_VALUES {
        return Err(AppError::Input("not a whole number of f32 values, or too many"));
    }
    for (v, s) in values.iter_mut().zip(input.chunks_exact(4)) {
        *v = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    }
    it.set_input_f32(0, &values[..n])?;
    it.invoke()?;
    for index in 0..model.outputs().len() {
        semihosting::print!("output {index} ");
        for b in it.output_bytes(index)? {
            semihosting::print!("{b:02x}");
        }
        println!();
    }
    Ok(())
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("panic: {info}");
    semihosting::process::exit(101)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    println!("HardFault at pc {:#010x}, lr {:#010x}", frame.pc(), frame.lr());
    semihosting::process::exit(102)
}
