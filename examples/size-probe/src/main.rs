//! Loads a model from flash, runs it once and reads its output: what every firmware that runs a
//! Mote model does, and nothing else, so `.text + .rodata + .data` is the runtime's flash. The
//! model is not linked in: its bytes are opaque to the compiler (`black_box`), so every kernel
//! the enabled features compile in is linked, and the figure does not depend on a model file.
#![no_std]
#![no_main]

use core::panic::PanicInfo;

use cortex_m_rt::entry;
use mote_runtime::{Arena, Interpreter, Model};

static mut ARENA: Arena<4096> = Arena::new();

#[entry]
fn main() -> ! {
    // SAFETY: the only reference to ARENA, taken once before any interrupt is enabled.
    let arena = unsafe { &mut *core::ptr::addr_of_mut!(ARENA) };
    let model: &'static [u8] = core::hint::black_box(&[]);
    if let Ok(model) = load(model) {
        if let Ok(mut it) = Interpreter::new(&model, &mut arena.0) {
            if let Ok(input) = it.input_i8_mut(0) {
                core::hint::black_box(input);
            }
            let _ = it.invoke();
            core::hint::black_box(it.output_bytes(0).ok());
        }
    }
    loop {
        cortex_m::asm::wfi();
    }
}

#[cfg(not(feature = "verify"))]
fn load(bytes: &[u8]) -> Result<Model<'_>, mote_runtime::FormatError> {
    Model::from_bytes(bytes)
}

#[cfg(feature = "verify")]
fn load(bytes: &[u8]) -> Result<Model<'_>, mote_runtime::signature::VerifyError> {
    const KEYS: [mote_runtime::signature::PublicKey; 1] = [[0x5a; 32]];
    Model::from_signed_bytes(bytes, &KEYS, 1).map(|(model, _)| model)
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {
        cortex_m::asm::udf();
    }
}
