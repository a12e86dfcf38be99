//! RISC-V: riscv-rt's entry, `minstret` as the counter, exceptions reported and exited.

use core::fmt::Write;

extern "C" {
    static _stack_start: u8;
    static __estack: u8;
}

/// The stack\'s first address above its top.
pub fn stack_top() -> usize {
    core::ptr::addr_of!(_stack_start) as usize
}

/// The lowest address the stack may grow to: the end of the statics.
pub fn stack_bottom() -> usize {
    core::ptr::addr_of!(__estack) as usize
}

pub fn exit_hook() {}

/// Retired instructions, exact under QEMU with `-icount` and on silicon.
pub struct Counter(());

impl Counter {
    pub const NAME: &'static str = "minstret";

    pub fn start() -> Counter {
        Counter(())
    }

    pub fn read(&self) -> u64 {
        riscv::register::minstret::read64()
    }
}

pub fn undefined_instruction() -> ! {
    // SAFETY: traps at once; the exception handler reports it and exits.
    unsafe { core::arch::asm!("unimp", options(noreturn)) }
}

#[riscv_rt::entry]
fn main() -> ! {
    crate::firmware_main()
}

#[export_name = "ExceptionHandler"]
fn exception_handler(frame: &riscv_rt::TrapFrame) -> ! {
    let mut out = super::Console::new();
    let cause = riscv::register::mcause::read().bits();
    let pc = riscv::register::mepc::read();
    let _ = writeln!(out, "\nerror: exception {cause} at pc {pc:#010x}, ra {:#010x}", frame.ra);
    out.flush();
    super::exit(102)
}
