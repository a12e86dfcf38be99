//! Cortex-M: cortex-m-rt's entry, SysTick as the counter, HardFault reported and exited.

use core::fmt::Write;
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SCB, SYST};
use cortex_m_rt::{entry, exception, ExceptionFrame};

extern "C" {
    static _stack_start: u8;
    static _stack_end: u8;
}

/// The stack\'s first address above its top.
pub fn stack_top() -> usize {
    core::ptr::addr_of!(_stack_start) as usize
}

/// The lowest address the stack may grow to: the end of the statics.
pub fn stack_bottom() -> usize {
    core::ptr::addr_of!(_stack_end) as usize
}

pub fn exit_hook() {
    cortex_m::interrupt::disable();
}

const RELOAD: u32 = 0x00FF_FFFF;
static WRAPS: AtomicU32 = AtomicU32::new(0);

/// SysTick from the core clock, extended to 64 bits by counting reloads in its exception. On a
/// board that is cycles; under QEMU with `-icount shift=0` it is virtual time, one tick per
/// `1e9 / systick_hz` instructions.
pub struct Counter(());

impl Counter {
    pub const NAME: &'static str = "systick";

    pub fn start() -> Counter {
        // SAFETY: SysTick is used by this counter only.
        let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        // QEMU reads the current value as 0 until the counter has reloaded once.
        while SYST::get_current() == 0 {}
        Counter(())
    }

    pub fn read(&self) -> u64 {
        cortex_m::interrupt::free(|_| {
            let mut wraps = WRAPS.load(Ordering::Relaxed);
            let mut current = SYST::get_current();
            // Reloaded, but the exception that counts it waits for this critical section to end.
            if SCB::is_pendst_pending() {
                wraps += 1;
                current = SYST::get_current();
            }
            u64::from(wraps) * u64::from(RELOAD + 1) + u64::from(RELOAD - current)
        })
    }
}

#[exception]
fn SysTick() {
    WRAPS.store(WRAPS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

pub fn undefined_instruction() -> ! {
    cortex_m::asm::udf()
}

#[entry]
fn main() -> ! {
    crate::firmware_main()
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    let mut out = super::Console::new();
    let _ = writeln!(out, "\nerror: HardFault at pc {:#010x}, lr {:#010x}", frame.pc(), frame.lr());
    out.flush();
    super::exit(102)
}
