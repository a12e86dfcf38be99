//! The one-pixel, four-channel micro-kernel in ARMv6-M assembly (Cortex-M0/M0+, and every
//! Arm core without the DSP extension).
//!
//! Thumb-1 has 8 low registers for loads and `MULS`; LLVM keeps the four sums of
//! [`super::dot::dot_1x4`] on the stack there (about 11 instructions per MAC). Here the sums live
//! in the high registers `r8`–`r11`, which `ADD` reaches, and the negated zero point in `r12`;
//! the five runs share one negative index counting up to zero, so each load is one
//! register-offset `LDRSB`. One step, four MACs, is 16 instructions:
//!
//! ```text
//! ldrsb r0, [x, i]; add r0, r12                   x - zp
//! 4 × (ldrsb r7, [wj, i]; muls r7, r0, r7; add rj, r7)
//! adds i, #1; bne
//! ```

use core::arch::global_asm;

/// The operands of [`dot_1x4`], read and written by the assembly at fixed offsets.
#[repr(C)]
struct Args {
    x: *const i8,
    w: [*const i8; 4],
    n: usize,
    neg_zp: i32,
    acc: [i32; 4],
}

extern "C" {
    fn mote_dot_s8_1x4(args: *mut Args);
}

global_asm!(
    ".syntax unified",
    ".section .text.mote_dot_s8_1x4,\"ax\",%progbits",
    ".global mote_dot_s8_1x4",
    ".type mote_dot_s8_1x4,%function",
    ".thumb_func",
    ".p2align 2",
    "mote_dot_s8_1x4:",
    "push {{r4, r5, r6, r7, lr}}",
    "mov r1, r8",
    "mov r2, r9",
    "mov r3, r10",
    "mov r4, r11",
    "push {{r0, r1, r2, r3, r4}}",
    "ldr r1, [r0, #20]",
    "ldr r2, [r0, #24]",
    "mov r12, r2",
    "ldr r2, [r0, #28]",
    "mov r8, r2",
    "ldr r2, [r0, #32]",
    "mov r9, r2",
    "ldr r2, [r0, #36]",
    "mov r10, r2",
    "ldr r2, [r0, #40]",
    "mov r11, r2",
    "cmp r1, #0",
    "beq 2f",
    "ldr r2, [r0, #0]",
    "adds r2, r2, r1",
    "ldr r3, [r0, #4]",
    "adds r3, r3, r1",
    "ldr r4, [r0, #8]",
    "adds r4, r4, r1",
    "ldr r5, [r0, #12]",
    "adds r5, r5, r1",
    "ldr r6, [r0, #16]",
    "adds r6, r6, r1",
    "rsbs r1, r1, #0",
    "1:",
    "ldrsb r0, [r2, r1]",
    "add r0, r12",
    "ldrsb r7, [r3, r1]",
    "muls r7, r0, r7",
    "add r8, r7",
    "ldrsb r7, [r4, r1]",
    "muls r7, r0, r7",
    "add r9, r7",
    "ldrsb r7, [r5, r1]",
    "muls r7, r0, r7",
    "add r10, r7",
    "ldrsb r7, [r6, r1]",
    "muls r7, r0, r7",
    "add r11, r7",
    "adds r1, #1",
    "bne 1b",
    "2:",
    "ldr r0, [sp]",
    "mov r1, r8",
    "str r1, [r0, #28]",
    "mov r1, r9",
    "str r1, [r0, #32]",
    "mov r1, r10",
    "str r1, [r0, #36]",
    "mov r1, r11",
    "str r1, [r0, #40]",
    "pop {{r0, r1, r2, r3, r4}}",
    "mov r8, r1",
    "mov r9, r2",
    "mov r10, r3",
    "mov r11, r4",
    "pop {{r4, r5, r6, r7, pc}}",
    ".size mote_dot_s8_1x4, . - mote_dot_s8_1x4",
);

/// `acc[j] += Σ_i (x[i] - zp) · w[j][i]` for one pixel and four channels; `zp` in the int8
/// range.
#[inline(always)]
pub fn dot_1x4(x: &[i8], w: [&[i8]; 4], zp: i32, acc: &mut [i32; 4]) {
    let n = x.len();
    let w = [&w[0][..n], &w[1][..n], &w[2][..n], &w[3][..n]];
    let mut args = Args { x: x.as_ptr(), w: w.map(|r| r.as_ptr()), n, neg_zp: -zp, acc: *acc };
    // SAFETY: the five runs hold `n` bytes each (sliced above); the routine reads those, writes
    // `args.acc` and follows the AAPCS.
    unsafe { mote_dot_s8_1x4(&mut args) };
    *acc = args.acc;
}
