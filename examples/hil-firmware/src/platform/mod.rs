//! Everything that differs between cores and boards: the entry point, fault handlers, the cycle
//! or instruction counter, the console and the exit path, and the linker's regions.

#[cfg(target_arch = "arm")]
mod cortex_m;
#[cfg(target_arch = "arm")]
pub use self::cortex_m::{exit_hook, stack_bottom, stack_top, undefined_instruction, Counter};

#[cfg(target_arch = "riscv32")]
mod riscv;
#[cfg(target_arch = "riscv32")]
pub use self::riscv::{exit_hook, stack_bottom, stack_top, undefined_instruction, Counter};

const PAINT: u32 = 0xC0DE_5AFE;

extern "C" {
    static _mote_model_start: u8;
    static _mote_model_end: u8;
    static mut _mote_arena_start: u8;
    static _mote_arena_end: u8;
}

/// The linker's `MODEL` region, where the host loads the job.
pub fn model_region() -> &'static [u8] {
    // SAFETY: the linker script defines both symbols as the bounds of MODEL, memory that nothing
    // in the firmware writes.
    unsafe {
        let start = core::ptr::addr_of!(_mote_model_start);
        let end = core::ptr::addr_of!(_mote_model_end);
        core::slice::from_raw_parts(start, end as usize - start as usize)
    }
}

/// The linker's `ARENA` region. Called once.
pub fn arena() -> &'static mut [u8] {
    // SAFETY: ARENA is reserved for this slice, which is handed out once, by `run`.
    unsafe {
        let start = core::ptr::addr_of_mut!(_mote_arena_start);
        let end = core::ptr::addr_of!(_mote_arena_end);
        core::slice::from_raw_parts_mut(start, end as usize - start as usize)
    }
}

fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads the stack pointer register.
    #[cfg(target_arch = "arm")]
    unsafe {
        core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    #[cfg(target_arch = "riscv32")]
    unsafe {
        core::arch::asm!("mv {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    sp
}

/// Fills the unused stack, from its lowest address to just below the caller's frame, with a
/// pattern, so that [`stack_high_water`] can find the deepest word ever written.
#[inline(never)]
pub fn paint_stack() {
    let bottom = stack_bottom();
    let below_frame = stack_pointer() - 16;
    let mut p = bottom;
    while p < below_frame {
        // SAFETY: between the end of .bss/.uninit and the live stack: memory nobody uses yet.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Bytes of stack used since [`paint_stack`], counted from the stack's top.
pub fn stack_high_water() -> usize {
    let (bottom, top) = (stack_bottom(), stack_top());
    let mut p = bottom;
    // SAFETY: reads words of the stack region, which are all initialised (painted or used).
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    top - p
}

/// The console: semihosting's stdout, or a 16550 UART.
pub struct Console {
    buf: [u8; 256],
    len: usize,
    #[cfg(mote_io = "semihosting")]
    stdout: Option<semihosting::io::Stdout>,
}

impl Console {
    pub fn new() -> Console {
        Console {
            buf: [0; 256],
            len: 0,
            #[cfg(mote_io = "semihosting")]
            stdout: semihosting::io::stdout().ok(),
        }
    }

    pub fn write_byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
        if self.len == self.buf.len() || b == b'\n' {
            self.flush();
        }
    }

    pub fn flush(&mut self) {
        let bytes = &self.buf[..self.len];
        #[cfg(mote_io = "semihosting")]
        if let Some(out) = self.stdout.as_mut() {
            let _ = semihosting::io::Write::write_all(out, bytes);
        }
        #[cfg(mote_io = "uart16550")]
        for &b in bytes {
            let uart = crate::board::UART as *mut u8;
            // SAFETY: the board's 16550 UART: poll the line status register's THR-empty bit,
            // then write the transmit holding register.
            unsafe {
                while core::ptr::read_volatile(uart.add(5)) & 0x20 == 0 {}
                core::ptr::write_volatile(uart, b);
            }
        }
        self.len = 0;
    }
}

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            self.write_byte(b);
        }
        Ok(())
    }
}

/// Ends the program with `code` as QEMU's exit status.
pub fn exit(code: i32) -> ! {
    exit_hook();
    #[cfg(mote_io = "semihosting")]
    semihosting::process::exit(code);
    #[cfg(mote_io = "uart16550")]
    {
        let value: u32 = if code == 0 { 0x5555 } else { ((code as u32) << 16) | 0x3333 };
        // SAFETY: the SiFive test device: a write ends the emulation with this status.
        unsafe { core::ptr::write_volatile(crate::board::FINISHER as *mut u32, value) };
        loop {
            core::hint::spin_loop();
        }
    }
}
