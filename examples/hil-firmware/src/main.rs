//! # Mote HIL firmware
//!
//! Runs one Mote model on one input and reports, as text lines on the console, everything the
//! host needs to check the result and the cost. Built once per board; the model and its input are
//! not linked in but read from the board's `MODEL` region, where QEMU's `-device loader` (or a
//! flasher) put a *job*. So one build serves every model, and the flash a deployment needs is this
//! firmware plus the model file.
//!
//! ## Job (little-endian, at the start of `MODEL`)
//! ```text
//!  0  b"MOTEJOB1"
//!  8  u32 flags: bit 0 profile (a second inference with a marker around every op),
//!                bit 1 panic on purpose, bit 2 execute an undefined instruction on purpose
//!                (check that panics and CPU faults exit non-zero)
//! 12  u32 model offset (from the job's start, a multiple of 16)   16  u32 model length
//! 20  u32 input offset                                            24  u32 input length
//! ```
//! The input is the raw bytes of every graph input in order, in each input's dtype.
//!
//! ## Report
//! ```text
//! mote-hil <board>
//! verify <model version>            with feature `verify`, once the signature holds
//! model <file bytes> arena <bytes> ops <count>
//! out <index> <hex bytes>          one per graph output
//! count <systick|minstret> <n>     SysTick ticks (Cortex-M) or retired instructions (RISC-V)
//! op <index> <OpCode>              one per op, when profiling
//! stack <bytes>                    high-water mark of the painted stack
//! ok
//! ```
//! then exit code 0. Failures print `error: ...` (a panic: `error: panicked at ...`) and exit 2 (model rejected, run error), 3 (no
//! job), 101 (panic) or 102 (CPU fault); a hang is the host's timeout.
//!
//! `mote_hil_marker` is called right before and after the measured inference and around every
//! op when profiling (built with feature `verify`: first around the signature verification,
//! then around a second hashing of the file alone, then as without it); the host's instruction-counting QEMU plugin watches its address, which
//! gives exact instruction counts on any core.

#![no_std]
#![no_main]

mod board {
    include!(concat!(env!("OUT_DIR"), "/board.rs"));
}
mod platform;

use core::fmt::Write;

use mote_runtime::{DType, Interpreter, Model, OpHook, RunError};
use platform::Console;

const MAGIC: &[u8; 8] = b"MOTEJOB1";
const FLAG_PROFILE: u32 = 1;
const FLAG_PANIC: u32 = 2;
const FLAG_FAULT: u32 = 4;

/// What the host can tell apart from the exit code alone.
#[derive(Clone, Copy)]
enum Exit {
    Ok = 0,
    Failed = 2,
    NoJob = 3,
}

/// The place the plugin watches. Not inlined and not removable: the empty `asm!` counts as a
/// side effect.
#[inline(never)]
#[no_mangle]
pub extern "C" fn mote_hil_marker() {
    // SAFETY: an empty instruction sequence.
    unsafe { core::arch::asm!("", options(nostack, preserves_flags)) };
}

struct MarkEveryOp;

impl OpHook for MarkEveryOp {
    fn before_op(&mut self, _: usize, _: mote_runtime::ops::OpCode) {
        mote_hil_marker();
    }
    fn after_op(&mut self, _: usize, _: mote_runtime::ops::OpCode) {
        mote_hil_marker();
    }
}

struct Job<'a> {
    flags: u32,
    model: &'a [u8],
    input: &'a [u8],
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The job in `region`, or `None` when the region holds no job or its lengths do not fit.
fn parse_job(region: &[u8]) -> Option<Job<'_>> {
    if region.get(..8)? != MAGIC {
        return None;
    }
    let slice = |off: usize, len: usize| region.get(u32_at(region, off)? as usize..).and_then(|r| r.get(..u32_at(region, len)? as usize));
    Some(Job { flags: u32_at(region, 8)?, model: slice(12, 16)?, input: slice(20, 24)? })
}

fn write_hex(out: &mut Console, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.write_byte(DIGITS[(b >> 4) as usize]);
        out.write_byte(DIGITS[(b & 15) as usize]);
    }
}

/// Copies the job's input bytes into the graph inputs, in order.
fn set_inputs(it: &mut Interpreter<'_, '_>, mut bytes: &[u8]) -> Result<(), &'static str> {
    for index in 0..it.model().inputs().len() {
        let info = it.input(index).map_err(|_| "graph input missing")?;
        match info.dtype {
            DType::F32 => {
                let dst = it.input_f32_mut(index).map_err(|_| "f32 input")?;
                let (src, rest) = bytes.split_at_checked(dst.len() * 4).ok_or("input shorter than the model's inputs")?;
                for (d, s) in dst.iter_mut().zip(src.chunks_exact(4)) {
                    *d = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                }
                bytes = rest;
            }
            DType::I8 => {
                let dst = it.input_i8_mut(index).map_err(|_| "i8 input")?;
                let (src, rest) = bytes.split_at_checked(dst.len()).ok_or("input shorter than the model's inputs")?;
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = s as i8;
                }
                bytes = rest;
            }
            DType::I32 => return Err("i32 graph inputs are not supported"),
        }
    }
    if bytes.is_empty() {
        Ok(())
    } else {
        Err("input longer than the model's inputs")
    }
}

fn run(out: &mut Console) -> Exit {
    let _ = writeln!(out, "mote-hil {}", board::BOARD);
    let Some(job) = parse_job(platform::model_region()) else {
        let region = platform::model_region();
        let _ = writeln!(out, "error: no job at {:#x} (load one with -device loader)", region.as_ptr() as usize);
        return Exit::NoJob;
    };
    if job.flags & FLAG_PANIC != 0 {
        panic!("requested by the job");
    }
    if job.flags & FLAG_FAULT != 0 {
        platform::undefined_instruction();
    }
    #[cfg(feature = "verify")]
    if let Err(e) = verify(out, job.model) {
        let _ = writeln!(out, "error: signature: {e:?}");
        return Exit::Failed;
    }
    let model = match Model::from_bytes(job.model) {
        Ok(m) => m,
        Err(e) => {
            let _ = writeln!(out, "error: model rejected: {e:?}");
            return Exit::Failed;
        }
    };
    let _ = writeln!(out, "model {} arena {} ops {}", job.model.len(), model.arena_bytes(), model.op_count());
    let mut it = match Interpreter::new(&model, platform::arena()) {
        Ok(it) => it,
        Err(e) => {
            let _ = writeln!(out, "error: {e:?}");
            return Exit::Failed;
        }
    };
    if let Err(e) = set_inputs(&mut it, job.input) {
        let _ = writeln!(out, "error: {e}");
        return Exit::Failed;
    }

    let counter = platform::Counter::start();
    let before = counter.read();
    mote_hil_marker();
    let result = it.invoke();
    mote_hil_marker();
    let after = counter.read();
    if let Err(e) = result {
        let _ = writeln!(out, "error: invoke: {e:?}");
        return Exit::Failed;
    }
    for index in 0..model.outputs().len() {
        let bytes = match it.output_bytes(index) {
            Ok(b) => b,
            Err(e) => return report_run_error(out, e),
        };
        let _ = write!(out, "out {index} ");
        write_hex(out, bytes);
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "count {} {}", platform::Counter::NAME, after.wrapping_sub(before));

    if job.flags & FLAG_PROFILE != 0 {
        for (index, op) in model.ops().enumerate() {
            let _ = writeln!(out, "op {index} {}", op.kind.code());
        }
        if let Err(e) = it.invoke_with(&mut MarkEveryOp) {
            return report_run_error(out, e);
        }
    }
    let _ = writeln!(out, "stack {}", platform::stack_high_water());
    let _ = writeln!(out, "ok");
    Exit::Ok
}

/// The key the HIL tests sign with (its secret, `test-key`, is committed: it protects nothing).
#[cfg(feature = "verify")]
const KEYS: [mote_runtime::signature::PublicKey; 1] = [mote_runtime::signature::public_key_from_hex(include_str!("../test-key.pub"))];
#[cfg(feature = "verify")]
const MIN_VERSION: u32 = 2;

/// Verifies the model's signature between two markers, then hashes it again alone between two
/// more, so the host sees what the whole check and the linear part of it cost.
#[cfg(feature = "verify")]
fn verify(out: &mut Console, model: &[u8]) -> Result<(), mote_runtime::signature::VerifyError> {
    use mote_runtime::signature;
    mote_hil_marker();
    let verified = signature::verify(model, &KEYS, MIN_VERSION);
    mote_hil_marker();
    let verified = verified?;
    let offset = signature::read(model)?.map_or(0, |s| s.offset);
    mote_hil_marker();
    core::hint::black_box(signature::content_hash(core::hint::black_box(model), offset));
    mote_hil_marker();
    let _ = writeln!(out, "verify {}", verified.model_version);
    Ok(())
}

fn report_run_error(out: &mut Console, e: RunError) -> Exit {
    let _ = writeln!(out, "error: {e:?}");
    Exit::Failed
}

/// Called by the runtime crate's entry point (`cortex-m-rt` or `riscv-rt`) through `platform`.
fn firmware_main() -> ! {
    platform::paint_stack();
    let mut out = Console::new();
    let code = run(&mut out);
    out.flush();
    platform::exit(code as i32)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let mut out = Console::new();
    let _ = writeln!(out, "\nerror: {info}");
    out.flush();
    platform::exit(101)
}
