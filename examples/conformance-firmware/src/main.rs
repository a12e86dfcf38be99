//! Every kernel conformance suite, run on the target against the reference kernels: the same
//! one-line calls a fast variant (DSP, Helium, RISC-V P) adds for itself, here in firmware,
//! without std or heap. Prints one line per suite through semihosting and exits 0 when every
//! suite passes, 1 with the first mismatch otherwise, 101 on a panic.
//!
//! ```text
//! cargo run --release                               # Cortex-M4F, mps2-an386 under QEMU
//! cargo run --release --target thumbv6m-none-eabi   # Cortex-M0 code, mps2-an385 under QEMU
//! cargo run --release --target riscv32imac-unknown-none-elf   # RV32IMAC, QEMU virt
//! cargo run --release --target thumbv8m.main-none-eabihf  # Cortex-M55 (Helium), mps3-an547
//! ```
#![no_std]
#![no_main]
// The suites return their `Mismatch` by value (there is no heap to box it in).
#![allow(clippy::result_large_err)]

use core::fmt::Write;
use core::panic::PanicInfo;

use mote_runtime::conformance::{self, Cases, Mismatch};
use mote_runtime::kernels::*;

/// Cases per suite: enough to cycle through every category of every suite several times.
const CASES: u32 = 60;
const SEED: u64 = 7;
/// Cases for the target's own int8 convolution and fully connected variants, whose code differs
/// from the host's: enough to meet every block shape and remainder of each.
const VARIANT_CASES: u32 = 2000;

struct Out;

impl Write for Out {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        match semihosting::io::stdout() {
            Ok(mut out) => semihosting::io::Write::write_all(&mut out, s.as_bytes()).map_err(|_| core::fmt::Error),
            Err(_) => Err(core::fmt::Error),
        }
    }
}

/// Runs the suites in order, stopping at the first mismatch.
fn run(out: &mut Out) -> Result<(), Mismatch> {
    let c = Cases::new(SEED, CASES);
    let mut suite = |name: &str, result: Result<(), Mismatch>| {
        if result.is_ok() {
            let _ = writeln!(out, "{name} ok");
        }
        result
    };
    suite("conv2d_f32", conformance::conv2d_f32(conv::conv2d_f32, c))?;
    suite("conv2d_i8", conformance::conv2d_i8(conv::conv2d_i8, c))?;
    suite("fully_connected_f32", conformance::fully_connected_f32(fully_connected::fully_connected_f32, c))?;
    suite("fully_connected_i8", conformance::fully_connected_i8(fully_connected::fully_connected_i8, c))?;
    // The variants the interpreter runs on this target: the Arm DSP kernels on the Cortex-M4F,
    // the blocked scalar kernels on ARMv6-M and RISC-V.
    let many = Cases::new(SEED, VARIANT_CASES);
    suite("conv2d_i8 (target's variant)", conformance::conv2d_i8(mote_runtime::kernels::conv2d_i8, many))?;
    suite("fully_connected_i8 (target's variant)", conformance::fully_connected_i8(mote_runtime::kernels::fully_connected_i8, many))?;
    suite("fully_connected_q15_i8", conformance::fully_connected_q15_i8(fully_connected::fully_connected_q15_i8, c))?;
    suite("fully_connected_q15_i8 (target's variant)", conformance::fully_connected_q15_i8(mote_runtime::kernels::fully_connected_q15_i8, many))?;
    suite("binary_f32", conformance::binary_f32(elementwise::binary_f32, c))?;
    suite("binary_inplace_f32", conformance::binary_inplace_f32(elementwise::binary_inplace_f32, c))?;
    suite("binary_i8", conformance::binary_i8(elementwise::binary_i8, c))?;
    suite("binary_inplace_i8", conformance::binary_inplace_i8(elementwise::binary_inplace_i8, c))?;
    // The int8 binary ops the interpreter runs on this target (tabulated Add / Sub; with the DSP
    // output stage on the Cortex-M4F).
    suite("binary_i8 (target's variant)", conformance::binary_i8(mote_runtime::kernels::binary_i8, c))?;
    suite("binary_inplace_i8 (target's variant)", conformance::binary_inplace_i8(mote_runtime::kernels::binary_inplace_i8, c))?;
    suite("unary_f32", conformance::unary_f32(activation::unary_f32, c))?;
    suite("unary_inplace_f32", conformance::unary_inplace_f32(activation::unary_inplace_f32, c))?;
    suite("lut_i8", conformance::lut_i8(activation::lut_i8, c))?;
    suite("lut_inplace_i8", conformance::lut_inplace_i8(activation::lut_inplace_i8, c))?;
    suite("avg_pool2d_f32", conformance::avg_pool2d_f32(pool::avg_pool2d_f32, c))?;
    suite("max_pool2d_f32", conformance::max_pool2d_f32(pool::max_pool2d_f32, c))?;
    suite("avg_pool2d_i8", conformance::avg_pool2d_i8(pool::avg_pool2d_i8, c))?;
    suite("max_pool2d_i8", conformance::max_pool2d_i8(pool::max_pool2d_i8, c))?;
    suite("global_avg_pool_f32", conformance::global_avg_pool_f32(pool::global_avg_pool_f32, c))?;
    suite("global_avg_pool_i8", conformance::global_avg_pool_i8(pool::global_avg_pool_i8, c))?;
    suite("softmax_f32", conformance::softmax_f32(softmax::softmax_f32, c))?;
    suite("softmax_i8", conformance::softmax_i8(softmax::softmax_i8, c))?;
    suite("resize_nearest i8", conformance::resize_nearest::<i8>(resize::resize_nearest, c))?;
    suite("resize_nearest u32", conformance::resize_nearest::<u32>(resize::resize_nearest, c))?;
    suite("resize_bilinear_f32", conformance::resize_bilinear_f32(resize::resize_bilinear_f32, c))?;
    suite("resize_bilinear_i8", conformance::resize_bilinear_i8(resize::resize_bilinear_i8, c))?;
    suite("concat i8", conformance::concat::<i8>(shape::concat, c))?;
    suite("concat u32", conformance::concat::<u32>(shape::concat, c))?;
    suite("slice i8", conformance::slice::<i8>(shape::slice, c))?;
    suite("slice u32", conformance::slice::<u32>(shape::slice, c))?;
    suite("transpose i8", conformance::transpose::<i8>(shape::transpose, c))?;
    suite("transpose u32", conformance::transpose::<u32>(shape::transpose, c))?;
    suite("pad i8", conformance::pad::<i8>(shape::pad, c))?;
    suite("pad u32", conformance::pad::<u32>(shape::pad, c))?;
    suite("quantize_f32_i8", conformance::quantize_f32_i8(quantize::quantize_f32_i8, c))?;
    suite("dequantize_i8_f32", conformance::dequantize_i8_f32(quantize::dequantize_i8_f32, c))
}

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    let mut out = Out;
    match run(&mut out) {
        Ok(()) => {
            let _ = writeln!(out, "conformance: every suite passed");
            semihosting::process::exit(0)
        }
        Err(m) => {
            let _ = writeln!(out, "error: {m}");
            semihosting::process::exit(1)
        }
    }
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    let _ = writeln!(Out, "error: {info}");
    semihosting::process::exit(101)
}
