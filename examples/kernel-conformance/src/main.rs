//! # Kernel conformance firmware
//!
//! Runs generated cases ([`cases`]) through the reference kernels
//! (`mote_runtime::kernels::conv::conv2d_i8`, `fully_connected::fully_connected_i8`) and the Arm
//! DSP kernels (`mote_runtime::kernels::arm`), or on the Cortex-M55 the Helium kernels
//! (`arm::mve`, which hand what they do not cover to the DSP kernels), on the device, and
//! compares every output byte. It only builds where mote-runtime has the DSP kernels
//! (Cortex-M4/M7, M33 with `-C target-cpu=cortex-m33`, see `.cargo/config.toml`, and M55 with
//! `-C target-cpu=cortex-m55`, which the HIL harness adds from the board file).
//!
//! ## Report (semihosting stdout)
//! ```text
//! kernel-conformance <board> seed <seed>
//! conv <cases> depthwise <n> block <n> im2col <n> reference <n> mve <n> mve_depthwise <n>
//! fc <cases> mve <n> fast <n> reference <n>
//! ok
//! ```
//! then exit code 0. The first mismatching case prints `error: case <i> ...` with its layer,
//! zero points, clamp and first differing byte, and exits 1; a panic exits 101, a CPU fault 102.
//! The seed is `MOTE_CONFORMANCE_SEED` at build time (default 1); case `i` of a seed is always
//! the same case.

#![no_std]
#![no_main]

mod board {
    include!(concat!(env!("OUT_DIR"), "/board.rs"));
}
mod cases;

use core::panic::PanicInfo;
use core::ptr::addr_of_mut;

use cortex_m_rt::{entry, exception, ExceptionFrame};
use mote_runtime::kernels::arm::{self, ConvPath};
use mote_runtime::kernels::{conv, fully_connected};
use semihosting::{print, println};

/// The kernels under test: the Helium wrappers on the Cortex-M55, the DSP wrappers elsewhere.
#[cfg(feature = "mps3-an547")]
use arm::mve::{conv2d_i8 as fast_conv2d_i8, fc_is_mve, fully_connected_i8 as fast_fully_connected_i8};
#[cfg(not(feature = "mps3-an547"))]
use arm::{conv2d_i8 as fast_conv2d_i8, fully_connected_i8 as fast_fully_connected_i8};

/// The Helium kernel a convolution takes: 0 none (the DSP wrapper), 1 the matmul, 2 depthwise.
#[cfg(feature = "mps3-an547")]
fn mve_conv_path(p: &mote_runtime::kernels::conv::Conv2dParams, x_zero_point: i32, requant: &[mote_runtime::quant::Requant], out_zero_point: i32) -> usize {
    match arm::mve::conv_path(p, x_zero_point, requant, out_zero_point) {
        arm::mve::MvePath::Dsp => 0,
        arm::mve::MvePath::Matmul => 1,
        arm::mve::MvePath::Depthwise => 2,
    }
}

#[cfg(not(feature = "mps3-an547"))]
fn mve_conv_path(_: &mote_runtime::kernels::conv::Conv2dParams, _: i32, _: &[mote_runtime::quant::Requant], _: i32) -> usize {
    0
}

#[cfg(not(feature = "mps3-an547"))]
fn fc_is_mve(_: &mote_runtime::kernels::fully_connected::FcParams, _: i32, _: &[mote_runtime::quant::Requant], _: i32) -> bool {
    false
}

use cases::{Buffers, Layer, MAX_OUT};

/// Cases per run.
const CASES: usize = 8000;

const SEED: u64 = match option_env!("MOTE_CONFORMANCE_SEED") {
    Some(s) => parse_u64(s.as_bytes()),
    None => 1,
};

const fn parse_u64(digits: &[u8]) -> u64 {
    let mut v = 0u64;
    let mut i = 0;
    while i < digits.len() {
        assert!(digits[i].is_ascii_digit(), "MOTE_CONFORMANCE_SEED must be a decimal number");
        v = v * 10 + (digits[i] - b'0') as u64;
        i += 1;
    }
    v
}

static mut BUFFERS: Buffers = Buffers::new();
static mut REFERENCE: [i8; MAX_OUT] = [0; MAX_OUT];
static mut FAST: [i8; MAX_OUT] = [0; MAX_OUT];

#[entry]
fn main() -> ! {
    // SAFETY: the only references to these statics, taken once before any interrupt is enabled.
    let (buffers, reference, fast) = unsafe { (&mut *addr_of_mut!(BUFFERS), &mut *addr_of_mut!(REFERENCE), &mut *addr_of_mut!(FAST)) };
    println!("kernel-conformance {} seed {SEED}", board::BOARD);
    let (mut conv_cases, mut paths, mut conv_mve) = (0, [0usize; 4], [0usize; 3]);
    let (mut fc_cases, mut fc_fast, mut fc_mve) = (0, 0, 0);
    for i in 0..CASES {
        let Some((layer, ops)) = cases::case(SEED, i, buffers) else { continue };
        let (want, got) = (&mut reference[..ops.out], &mut fast[..ops.out]);
        // Different fills, so that an output byte the fast kernel never writes cannot match.
        want.fill(0x55);
        got.fill(-0x56);
        match layer {
            Layer::Conv(p) => {
                conv_cases += 1;
                let mve = mve_conv_path(&p, ops.x_zero_point, ops.requant, ops.out_zero_point);
                conv_mve[mve] += 1;
                if mve == 0 {
                    paths[arm::conv_path(&p, ops.x_zero_point, ops.requant, ops.out_zero_point) as usize] += 1;
                }
                conv::conv2d_i8(&p, ops.x, ops.x_zero_point, ops.w, ops.bias, ops.requant, ops.out_zero_point, want, ops.act);
                fast_conv2d_i8(&p, ops.x, ops.x_zero_point, ops.w, ops.bias, ops.requant, ops.out_zero_point, got, ops.act);
            }
            Layer::Fc(p) => {
                fc_cases += 1;
                if fc_is_mve(&p, ops.x_zero_point, ops.requant, ops.out_zero_point) {
                    fc_mve += 1;
                } else {
                    fc_fast += arm::fc_is_fast(&p, ops.x_zero_point, ops.requant, ops.out_zero_point) as usize;
                }
                fully_connected::fully_connected_i8(&p, ops.x, ops.x_zero_point, ops.w, ops.bias, ops.requant, ops.out_zero_point, want, ops.act);
                fast_fully_connected_i8(&p, ops.x, ops.x_zero_point, ops.w, ops.bias, ops.requant, ops.out_zero_point, got, ops.act);
            }
        }
        if let Some(at) = want.iter().zip(got.iter()).position(|(a, b)| a != b) {
            print!("error: case {i}: {layer:?}, x zero point {}, out zero point {}, act {:?}, ", ops.x_zero_point, ops.out_zero_point, ops.act);
            println!("bias {}, requant {:?}: out[{at}] = {}, reference {}", ops.bias.is_some(), ops.requant.first(), got[at], want[at]);
            exit(1);
        }
    }
    let [depthwise, block, im2col, reference_path] = [ConvPath::Depthwise, ConvPath::Block, ConvPath::Im2col, ConvPath::Reference].map(|p| paths[p as usize]);
    println!("conv {conv_cases} depthwise {depthwise} block {block} im2col {im2col} reference {reference_path} mve {} mve_depthwise {}", conv_mve[1], conv_mve[2]);
    println!("fc {fc_cases} mve {fc_mve} fast {fc_fast} reference {}", fc_cases - fc_mve - fc_fast);
    println!("ok");
    exit(0)
}

fn exit(code: i32) -> ! {
    cortex_m::interrupt::disable();
    semihosting::process::exit(code)
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    println!("error: panicked: {info}");
    exit(101)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    println!("error: HardFault at pc {:#010x}", frame.pc());
    exit(102)
}
