//! The DSP-extension instructions the kernels use outside their inner loops, one
//! `#[inline(always)]` function each (stable Rust has no Arm DSP intrinsics).
//!
//! Every function has a portable twin with the Arm Architecture Reference Manual's definition,
//! compiled where `mote_arm_dsp` is off, so that the host test suite runs the kernels' logic;
//! the device conformance firmware (`examples/kernel-conformance`) runs the instructions. The
//! portable side also has the byte packing and clamping that only the assembly routines do, for
//! their twins.
//!
//! Packed operands are `u32`: `[lo, hi]` halfwords or `[b0, b1, b2, b3]` bytes, lowest first.

#[cfg(mote_arm_dsp)]
use core::arch::asm;

/// `SXTB16 x`: bytes 0 and 2 sign-extended into the two halfwords.
#[cfg(mote_arm_dsp)]
#[inline(always)]
pub fn sxtb16(x: u32) -> u32 {
    let r: u32;
    // SAFETY: register-only arithmetic.
    unsafe { asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack, preserves_flags)) };
    r
}

/// `SXTB16 x, ROR #8`: bytes 1 and 3 sign-extended into the two halfwords.
#[cfg(mote_arm_dsp)]
#[inline(always)]
pub fn sxtb16_ror8(x: u32) -> u32 {
    let r: u32;
    // SAFETY: register-only arithmetic.
    unsafe { asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x, options(pure, nomem, nostack, preserves_flags)) };
    r
}

/// `SSUB16 a, b`: halfword-wise wrapping `a - b`.
#[cfg(mote_arm_dsp)]
#[inline(always)]
pub fn ssub16(a: u32, b: u32) -> u32 {
    let r: u32;
    // SAFETY: register-only arithmetic; it sets the GE flags, which no Rust code reads.
    unsafe { asm!("ssub16 {r}, {a}, {b}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, options(pure, nomem, nostack)) };
    r
}

/// `SMLAD a, b, acc`: `acc + a.lo * b.lo + a.hi * b.hi`, wrapping to 32 bits.
#[cfg(mote_arm_dsp)]
#[inline(always)]
pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    let r: i32;
    // SAFETY: register-only arithmetic; it may set the sticky Q flag, which nothing reads.
    unsafe { asm!("smlad {r}, {a}, {b}, {c}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, c = in(reg) acc, options(pure, nomem, nostack)) };
    r
}

/// `SMLABB a, b, acc`: `acc + a.lo * b.lo`, wrapping.
#[cfg(mote_arm_dsp)]
#[inline(always)]
pub fn smlabb(a: u32, b: u32, acc: i32) -> i32 {
    let r: i32;
    // SAFETY: register-only arithmetic; it may set the sticky Q flag, which nothing reads.
    unsafe { asm!("smlabb {r}, {a}, {b}, {c}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, c = in(reg) acc, options(pure, nomem, nostack)) };
    r
}

/// The output stage's five instructions for one accumulator (see [`super::requant`]):
/// `SMMLAR x, acc, m2, acc; ADD x, x, x, ASR #31; ASR x, x, em1; QADD x, x, zp_round;
/// SSAT x, #8, x, ASR #1`.
#[cfg(mote_arm_dsp)]
#[inline(always)]
pub fn requantize(acc: i32, m2: i32, em1: u32, zp_round: i32) -> i32 {
    let x: i32;
    // SAFETY: register-only arithmetic; QADD and SSAT may set the sticky Q flag, which nothing
    // reads.
    unsafe {
        asm!(
            "smmlar {x}, {acc}, {m2}, {acc}",
            "add.w {x}, {x}, {x}, asr #31",
            "asr {x}, {x}, {em1}",
            "qadd {x}, {x}, {zp}",
            "ssat {x}, #8, {x}, asr #1",
            acc = in(reg) acc, m2 = in(reg) m2, em1 = in(reg) em1, zp = in(reg) zp_round, x = out(reg) x,
            options(pure, nomem, nostack),
        )
    };
    x
}

/// Copies `words` (at least 1) unaligned words, four instructions each. A Rust loop would be
/// turned into a `memcpy` call, whose set-up costs more than the few words of a window row.
///
/// # Safety
/// Both ranges are valid for `4 * words` bytes and do not overlap.
#[cfg(mote_arm_dsp)]
#[inline(always)]
pub unsafe fn copy_words(dst: *mut u8, src: *const u8, words: usize) {
    // SAFETY: the caller's ranges; `words >= 1`.
    unsafe {
        asm!(
            "2:",
            "ldr {t}, [{s}], #4",
            "str {t}, [{d}], #4",
            "subs {n}, #1",
            "bne 2b",
            d = inout(reg) dst => _, s = inout(reg) src => _, n = inout(reg) words => _, t = out(reg) _,
            options(nostack),
        )
    };
}

/// Writes `word` to `words` (at least 1) unaligned words; see [`copy_words`].
///
/// # Safety
/// The range is valid for `4 * words` bytes.
#[cfg(mote_arm_dsp)]
#[inline(always)]
pub unsafe fn fill_words(dst: *mut u8, word: u32, words: usize) {
    // SAFETY: the caller's range; `words >= 1`.
    unsafe {
        asm!(
            "2:",
            "str {w}, [{d}], #4",
            "subs {n}, #1",
            "bne 2b",
            d = inout(reg) dst => _, w = in(reg) word, n = inout(reg) words => _,
            options(nostack),
        )
    };
}

#[cfg(not(mote_arm_dsp))]
mod portable {
    fn lo(x: u32) -> i32 {
        x as u16 as i16 as i32
    }

    fn hi(x: u32) -> i32 {
        (x >> 16) as u16 as i16 as i32
    }

    fn halves(lo: i32, hi: i32) -> u32 {
        (lo as u16 as u32) | ((hi as u16 as u32) << 16)
    }

    pub fn sxtb16(x: u32) -> u32 {
        halves(x as u8 as i8 as i32, (x >> 16) as u8 as i8 as i32)
    }

    pub fn sxtb16_ror8(x: u32) -> u32 {
        sxtb16(x.rotate_right(8))
    }

    pub fn ssub16(a: u32, b: u32) -> u32 {
        halves(lo(a) - lo(b), hi(a) - hi(b))
    }

    pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        (acc as i64 + (lo(a) * lo(b)) as i64 + (hi(a) * hi(b)) as i64) as i32
    }

    pub fn smlabb(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(lo(a) * lo(b))
    }

    pub fn requantize(acc: i32, m2: i32, em1: u32, zp_round: i32) -> i32 {
        let smmlar = ((acc as i64) << 32).wrapping_add(acc as i64 * m2 as i64).wrapping_add(1 << 31) >> 32;
        let x = smmlar as i32;
        let t = x.wrapping_add(x >> 31) >> em1;
        (t.saturating_add(zp_round) >> 1).clamp(-128, 127)
    }

    /// Four int8 values packed into bytes, `a` lowest (the routines' `BFI`s).
    pub fn pack_i8x4(a: i32, b: i32, c: i32, d: i32) -> u32 {
        u32::from_le_bytes([a as u8, b as u8, c as u8, d as u8])
    }

    /// # Safety
    /// As the Arm version.
    pub unsafe fn copy_words(dst: *mut u8, src: *const u8, words: usize) {
        // SAFETY: the caller's ranges.
        unsafe { core::ptr::copy_nonoverlapping(src, dst, 4 * words) }
    }

    /// # Safety
    /// As the Arm version.
    pub unsafe fn fill_words(dst: *mut u8, word: u32, words: usize) {
        for i in 0..words {
            // SAFETY: the caller's range.
            unsafe { core::ptr::write_unaligned(dst.add(4 * i) as *mut u32, word) };
        }
    }

    /// Byte-wise signed `v.max(lo).min(hi)` (the routines' `SSUB8` / `SEL` pairs).
    pub fn clamp_i8x4(v: u32, lo: u32, hi: u32) -> u32 {
        let (v, lo, hi) = (v.to_le_bytes(), lo.to_le_bytes(), hi.to_le_bytes());
        u32::from_le_bytes(core::array::from_fn(|i| (v[i] as i8).max(lo[i] as i8).min(hi[i] as i8) as u8))
    }
}

#[cfg(not(mote_arm_dsp))]
pub use portable::*;
