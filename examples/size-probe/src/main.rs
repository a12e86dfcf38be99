//! Loads a model from flash and runs it once. The model's bytes are opaque to the compiler, so
//! every kernel the interpreter dispatches to is linked: `.text + .rodata` is the runtime's cost.
#![no_std]
#![no_main]

use core::panic::PanicInfo;

use cortex_m_rt::entry;
use mote_runtime::{Arena, Interpreter, Model};

static MODEL: &[u8] = mote_runtime::include_model!(concat!(env!("OUT_DIR"), "/model.mote"));
static mut ARENA: Arena<4096> = Arena::new();

#[entry]
fn main() -> ! {
    // SAFETY: the only reference to ARENA, taken once before any interrupt is enabled.
    let arena = unsafe { &mut *core::ptr::addr_of_mut!(ARENA) };
    let input = core::hint::black_box(MODEL);
    if let Ok(model) = Model::from_bytes(input) {
        if let Ok(mut it) = Interpreter::new(&model, &mut arena.0) {
            let _ = it.invoke();
            core::hint::black_box(it.output_bytes(0).ok());
        }
    }
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {
        cortex_m::asm::udf();
    }
}
