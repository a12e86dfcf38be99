//! The inner loops, as `global_asm!` leaf routines: they need all fourteen free registers (Rust
//! code keeps `r7` as the frame pointer on these targets), and they end in the output stage
//! (see [`super::requant`]), so that a call produces output bytes.
//!
//! # Operand layouts
//! `SXTB16` splits a word of four int8 values `[v0, v1, v2, v3]` into the halfword pairs
//! `[v0, v2]` ("even") and `[v1, v3]` ("odd"). An operand that is widened ahead of time
//! ("q15": int16 pairs) is stored in that same order, so that
//! `SMLAD(even_a, even_b) + SMLAD(odd_a, odd_b)` is the dot product of the four values. A group
//! `g` covers `K` indices `4g .. 4g + 4`.
//!
//! - **Weight block** ([`block_s8x8`]): eight channels' weights widened, per group
//!   `[even_0, odd_0, even_1, odd_1, …, even_7, odd_7]`, 16 words. The other operand is int8,
//!   read in place four bytes at a time.
//! - **Column pair** ([`rows_q15x2`]): two input columns widened, per group
//!   `[even_a, odd_a, even_b, odd_b]`; **column** ([`rows_q15`], two weight rows at a time, and
//!   [`rows3_q15`], three): one, `[even, odd]`. The other operand is the int8 weight rows, read
//!   in place ([`rows3_q15`] reads eight bytes of a row at once with `LDRD`, so its rows must be
//!   4-byte aligned).
//!
//! int8 operands are read with `LDR` (except where `LDRD` is said), which tolerates any alignment
//! on ARMv7-M and ARMv8-M Mainline; widened operands must be 4-byte aligned (`LDRD`).
//!
//! # Overflow
//! Each `SMLAD` adds two products to the accumulator modulo `2^32`, as the reference's wrapping
//! `i32` sum does, and every operand fits int16: the sums agree exactly.

use crate::quant::Requant;

/// Output stage of a weight block: accumulator starts, per-channel constants, zero point and
/// clamp (see [`super::requant`]).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct BlockOut {
    pub start: [i32; 8],
    /// `(m2, em1)` per channel.
    pub scale: [[i32; 2]; 8],
    pub zp_round: i32,
    pub lo: u32,
    pub hi: u32,
    /// 0 when `lo`, `hi` are the whole int8 range: the clamp is skipped.
    pub clamp: u32,
}

/// A run of pixels through one weight block: for each of `count` pixels, 8 output bytes
/// `out[j] = stage(start[j] + x · w_j)` at `dst`, then `x += x_step`, `dst += dst_step`. The
/// routine advances `x`, `dst` and `count` to the end.
#[derive(Debug)]
#[repr(C)]
pub struct BlockJob {
    pub x: *const i8,
    pub x_step: usize,
    pub count: usize,
    pub dst: *mut i8,
    pub dst_step: usize,
    pub block: *const u32,
    pub groups: usize,
    pub out: *const BlockOut,
}

/// Weight rows against a column (pair): for each of `pairs` pairs of rows (channels `o`,
/// `o + 1`), the outputs `stage(bias[o] + col · w_o)`: 2 bytes at `dst` (column a), and for a
/// pair 2 more at `dst + dst_b` (column b); then `dst += 2`. The routine advances `w`, `bias`,
/// `requant`, `dst` and `pairs` to the end.
#[derive(Debug)]
#[repr(C)]
pub struct RowsJob {
    pub cols: *const u32,
    pub w: *const i8,
    pub groups: usize,
    pub pairs: usize,
    pub bias: *const i32,
    /// 4, or 0 for one bias shared by every channel.
    pub bias_step: usize,
    pub requant: *const Requant,
    /// 8 (per channel) or 0 (per tensor).
    pub requant_step: usize,
    pub zp_round: i32,
    pub lo: u32,
    pub hi: u32,
    pub dst: *mut i8,
    pub dst_b: usize,
    /// 0 when `lo`, `hi` are the whole int8 range: the clamp is skipped.
    pub clamp: u32,
}

impl RowsJob {
    /// A job over the weight rows at `w` (`groups` of four values a row, `pairs` passes), with
    /// `stage`'s requantization and bounds, writing from `dst` (`dst_b`: the second pixel's
    /// offset, where the routine writes two).
    #[allow(clippy::too_many_arguments)]
    pub fn new(cols: *const u32, w: *const i8, groups: usize, pairs: usize, bias: Option<&[i32]>, stage: &super::requant::OutputStage<'_>, dst: *mut i8, dst_b: usize) -> Self {
        static NO_BIAS: i32 = 0;
        let (requant, requant_step) = stage.requant_ptr();
        RowsJob {
            cols,
            w,
            groups,
            pairs,
            bias: bias.map_or(&NO_BIAS as *const i32, |b| b.as_ptr()),
            bias_step: if bias.is_some() { 4 } else { 0 },
            requant,
            requant_step,
            zp_round: stage.zp_round(),
            lo: stage.lo(),
            hi: stage.hi(),
            dst,
            dst_b,
            clamp: stage.clamps(),
        }
    }
}

#[cfg(mote_arm_dsp)]
core::arch::global_asm!(
    dsp_cpu!(),
    // One output: acc = stage(acc), with m2 in \m, em1 in \e, zp_round in lr, \t a temporary.
    ".macro mote_requant acc, m, e, t",
    "smmlar \\t, \\acc, \\m, \\acc",
    "add.w \\t, \\t, \\t, asr #31",
    "asr \\t, \\t, \\e",
    "qadd \\t, \\t, lr",
    "ssat \\acc, #8, \\t, asr #1",
    ".endm",
    // Clamps the bytes of \v to [\lo, \hi] bytewise, \t a temporary.
    ".macro mote_clamp v, lo, hi, t",
    "ssub8 \\t, \\v, \\lo",
    "sel \\v, \\v, \\lo",
    "ssub8 \\t, \\hi, \\v",
    "sel \\v, \\v, \\hi",
    ".endm",
    //
    // mote_dsp_block_s8x8(job: *mut BlockJob)
    // Per pixel: r0 x, r1 block, r2-r9 accumulators, r10/r11 x widened, r12/lr weights.
    // [sp] job, [sp, #4] block end.
    ".section .text.mote_dsp_block_s8x8,\"ax\",%progbits",
    ".global mote_dsp_block_s8x8",
    ".type mote_dsp_block_s8x8,%function",
    ".p2align 2",
    ".thumb_func",
    "mote_dsp_block_s8x8:",
    "push {{r4-r11, lr}}",
    "sub sp, #8",
    "str r0, [sp]",
    "ldr r1, [r0, #20]",
    "ldr r2, [r0, #24]",
    "add.w r1, r1, r2, lsl #6",
    "str r1, [sp, #4]",
    ".macro mote_block_channel acc",
    "ldrd r12, lr, [r1], #8",
    "smlad \\acc, r10, r12, \\acc",
    "smlad \\acc, r11, lr, \\acc",
    ".endm",
    ".macro mote_block_group",
    "ldr r11, [r0], #4",
    "sxtb16 r10, r11",
    "sxtb16 r11, r11, ror #8",
    "mote_block_channel r2",
    "mote_block_channel r3",
    "mote_block_channel r4",
    "mote_block_channel r5",
    "mote_block_channel r6",
    "mote_block_channel r7",
    "mote_block_channel r8",
    "mote_block_channel r9",
    ".endm",
    "1:",
    "ldr r12, [sp]",
    "ldr r0, [r12]",
    "ldr r1, [r12, #20]",
    "ldr r3, [r12, #28]",
    "ldr lr, [r12, #24]",
    "ldm r3, {{r2-r9}}",
    // groups % 4 first: bit 0 into N, bit 1 into C (the groups leave the flags alone).
    "lsls lr, lr, #31",
    "bpl 2f",
    "mote_block_group",
    "2:",
    "bcc 5f",
    "mote_block_group",
    "mote_block_group",
    "5:",
    "ldr r12, [sp, #4]",
    "cmp r1, r12",
    "beq 4f",
    "3:",
    "mote_block_group",
    "mote_block_group",
    "mote_block_group",
    "mote_block_group",
    "ldr r12, [sp, #4]",
    "cmp r1, r12",
    "bne 3b",
    "4:",
    "ldr r12, [sp]",
    "ldrd r0, r1, [r12]",
    "add r0, r1",
    "str r0, [r12]",
    "ldr r12, [r12, #28]",
    "add r12, #32",
    "ldr lr, [r12, #64]",
    ".irp acc, r2, r3, r4, r5, r6, r7, r8, r9",
    "ldrd r10, r11, [r12], #8",
    "mote_requant \\acc, r10, r11, r0",
    ".endr",
    "bfi r2, r3, #8, #8",
    "bfi r2, r4, #16, #8",
    "bfi r2, r5, #24, #8",
    "bfi r6, r7, #8, #8",
    "bfi r6, r8, #16, #8",
    "bfi r6, r9, #24, #8",
    "ldr r0, [r12, #12]",
    "cbz r0, 6f",
    "ldrd r10, r11, [r12, #4]",
    "mote_clamp r2, r10, r11, r0",
    "mote_clamp r6, r10, r11, r0",
    "6:",
    "ldr r12, [sp]",
    "ldrd r0, r1, [r12, #12]",
    "str r2, [r0]",
    "str r6, [r0, #4]",
    "add r0, r1",
    "str r0, [r12, #12]",
    "ldr r0, [r12, #8]",
    "subs r0, #1",
    "str r0, [r12, #8]",
    "bne 1b",
    ".purgem mote_block_group",
    ".purgem mote_block_channel",
    "add sp, #8",
    "pop {{r4-r11, pc}}",
    ".size mote_dsp_block_s8x8, . - mote_dsp_block_s8x8",
    //
    // mote_dsp_rows_q15x2(job: *mut RowsJob): a column pair.
    // MAC loop: r0 cols, r1 w0, r2 w1, r3 groups left, r4-r7 accumulators (a·w0, a·w1, b·w0,
    // b·w1), r8-r11 weights widened, r12/lr columns. [sp] job.
    ".section .text.mote_dsp_rows_q15x2,\"ax\",%progbits",
    ".global mote_dsp_rows_q15x2",
    ".type mote_dsp_rows_q15x2,%function",
    ".p2align 2",
    ".thumb_func",
    "mote_dsp_rows_q15x2:",
    "push {{r4-r11, lr}}",
    "sub sp, #8",
    "str r0, [sp]",
    "ldrd r1, r3, [r0, #4]",
    "add.w r2, r1, r3, lsl #2",
    ".macro mote_rows_weights",
    "ldr r9, [r1], #4",
    "ldr r11, [r2], #4",
    "sxtb16 r8, r9",
    "sxtb16 r9, r9, ror #8",
    "sxtb16 r10, r11",
    "sxtb16 r11, r11, ror #8",
    ".endm",
    ".macro mote_rows2_group",
    "mote_rows_weights",
    "ldrd r12, lr, [r0], #8",
    "smlad r4, r12, r8, r4",
    "smlad r4, lr, r9, r4",
    "smlad r5, r12, r10, r5",
    "smlad r5, lr, r11, r5",
    "ldrd r12, lr, [r0], #8",
    "smlad r6, r12, r8, r6",
    "smlad r6, lr, r9, r6",
    "smlad r7, r12, r10, r7",
    "smlad r7, lr, r11, r7",
    ".endm",
    "1:",
    "ldr r12, [sp]",
    "ldrd r0, lr, [r12, #16]",
    "ldr r4, [r0]",
    "ldr r5, [r0, lr]",
    "add.w r0, r0, lr, lsl #1",
    "str r0, [r12, #16]",
    "mov r6, r4",
    "mov r7, r5",
    "ldr r0, [r12]",
    "ldr r3, [r12, #8]",
    "subs r3, #2",
    "blt 3f",
    "2:",
    "mote_rows2_group",
    "mote_rows2_group",
    "subs r3, #2",
    "bge 2b",
    "3:",
    "adds r3, #2",
    "beq 4f",
    "mote_rows2_group",
    "4:",
    "mov r1, r2",
    "ldr r12, [sp]",
    "ldr r3, [r12, #8]",
    "add.w r2, r1, r3, lsl #2",
    "ldrd r0, r3, [r12, #24]",
    "ldrd r8, r9, [r0]",
    "add r0, r3",
    "ldrd r10, r11, [r0]",
    "add r0, r3",
    "str r0, [r12, #24]",
    "lsl r8, r8, #1",
    "mvn r9, r9",
    "lsl r10, r10, #1",
    "mvn r11, r11",
    "ldr lr, [r12, #32]",
    "mote_requant r4, r8, r9, r3",
    "mote_requant r6, r8, r9, r3",
    "mote_requant r5, r10, r11, r3",
    "mote_requant r7, r10, r11, r3",
    "bfi r4, r5, #8, #8",
    "bfi r4, r6, #16, #8",
    "bfi r4, r7, #24, #8",
    "ldr r3, [r12, #52]",
    "cbz r3, 5f",
    "ldrd r8, r9, [r12, #36]",
    "mote_clamp r4, r8, r9, r3",
    "5:",
    "ldrd r8, r9, [r12, #44]",
    "strh r4, [r8]",
    "lsrs r4, r4, #16",
    "strh r4, [r8, r9]",
    "adds r8, #2",
    "str r8, [r12, #44]",
    "ldr r3, [r12, #12]",
    "subs r3, #1",
    "str r3, [r12, #12]",
    "bne 1b",
    "str r1, [r12, #4]",
    ".purgem mote_rows2_group",
    "add sp, #8",
    "pop {{r4-r11, pc}}",
    ".size mote_dsp_rows_q15x2, . - mote_dsp_rows_q15x2",
    //
    // mote_dsp_rows3_q15(job: *mut RowsJob): one column, three rows at a time (`pairs` counts
    // the blocks of three), each row's weights read eight at a time (LDRD: `w` 4-byte aligned).
    // MAC loop: r0 cols, r1-r3 the three rows, r4-r6 accumulators, r7 a temporary, r8-r11 the
    // column's two groups, r12/lr one row's eight weights. [sp] job, [sp, #4] end of the column.
    // The end of a pass of both rows3 routines: the three accumulators through the output stage
    // (bias, requant and output pointers in the job at [sp]), clamped, stored; the next three rows.
    ".macro mote_rows3_end",
    "mov r1, r3",
    "ldr r12, [sp]",
    "ldrd r0, r11, [r12, #24]",
    "ldr lr, [r12, #32]",
    ".irp acc, r4, r5, r6",
    "ldrd r8, r9, [r0]",
    "add r0, r11",
    "lsl r8, r8, #1",
    "mvn r9, r9",
    "mote_requant \\acc, r8, r9, r12",
    ".endr",
    "ldr r12, [sp]",
    "str r0, [r12, #24]",
    "bfi r4, r5, #8, #8",
    "bfi r4, r6, #16, #8",
    "ldr r0, [r12, #52]",
    "cbz r0, 6f",
    "ldrd r8, r9, [r12, #36]",
    "mote_clamp r4, r8, r9, r0",
    "6:",
    "ldr r8, [r12, #44]",
    "strh r4, [r8], #2",
    "lsrs r4, r4, #16",
    "strb r4, [r8], #1",
    "str r8, [r12, #44]",
    "ldr r0, [r12, #12]",
    "subs r0, #1",
    "str r0, [r12, #12]",
    "bne 1b",
    "str r1, [r12, #4]",
    ".endm",
    ".section .text.mote_dsp_rows3_q15,\"ax\",%progbits",
    ".global mote_dsp_rows3_q15",
    ".type mote_dsp_rows3_q15,%function",
    ".p2align 2",
    ".thumb_func",
    "mote_dsp_rows3_q15:",
    "push {{r4-r11, lr}}",
    "sub sp, #8",
    "str r0, [sp]",
    "ldrd r1, r2, [r0, #4]",
    "ldr r3, [r0]",
    "add.w r3, r3, r2, lsl #3",
    "str r3, [sp, #4]",
    // One row, one group: weights in r12, the column in r8/r9.
    ".macro mote_rows3_row1 acc, row",
    "ldr r12, [\\row], #4",
    "sxtb16 r7, r12",
    "sxtb16 r12, r12, ror #8",
    "smlad \\acc, r8, r7, \\acc",
    "smlad \\acc, r9, r12, \\acc",
    ".endm",
    // One row, two groups: weights in r12/lr, the column in r8-r11.
    ".macro mote_rows3_row2 acc, row",
    "ldrd r12, lr, [\\row], #8",
    "sxtb16 r7, r12",
    "sxtb16 r12, r12, ror #8",
    "smlad \\acc, r8, r7, \\acc",
    "smlad \\acc, r9, r12, \\acc",
    "sxtb16 r7, lr",
    "sxtb16 lr, lr, ror #8",
    "smlad \\acc, r10, r7, \\acc",
    "smlad \\acc, r11, lr, \\acc",
    ".endm",
    ".macro mote_rows3_group2",
    "ldm r0!, {{r8-r11}}",
    "mote_rows3_row2 r4, r1",
    "mote_rows3_row2 r5, r2",
    "mote_rows3_row2 r6, r3",
    ".endm",
    "1:",
    "ldr r12, [sp]",
    "ldr r2, [r12, #8]",
    "add.w r2, r1, r2, lsl #2",
    "rsb r3, r1, r2, lsl #1",
    "ldrd r0, lr, [r12, #16]",
    "ldr r4, [r0]",
    "ldr r5, [r0, lr]",
    "add.w r0, r0, lr, lsl #1",
    "ldr r6, [r0]",
    "add r0, lr",
    "str r0, [r12, #16]",
    "ldr r7, [r12, #8]",
    "ldr r0, [r12]",
    // groups % 4 first: bit 0 into N, bit 1 into C (the groups leave the flags alone).
    "lsls r7, r7, #31",
    "bpl 2f",
    "ldrd r8, r9, [r0], #8",
    "mote_rows3_row1 r4, r1",
    "mote_rows3_row1 r5, r2",
    "mote_rows3_row1 r6, r3",
    "2:",
    "bcc 3f",
    "mote_rows3_group2",
    // Then eight groups a pass, entering the first pass halfway when four are left over: bit 5
    // of the column bytes left (eight per group) into N.
    "3:",
    "ldr r12, [sp, #4]",
    "subs r7, r12, r0",
    "beq 5f",
    "lsls r7, r7, #26",
    "bmi 7f",
    "4:",
    "mote_rows3_group2",
    "mote_rows3_group2",
    "7:",
    "mote_rows3_group2",
    "mote_rows3_group2",
    "ldr r12, [sp, #4]",
    "cmp r0, r12",
    "bne 4b",
    "5:",
    "mote_rows3_end",
    ".purgem mote_rows3_group2",
    ".purgem mote_rows3_row2",
    ".purgem mote_rows3_row1",
    "add sp, #8",
    "pop {{r4-r11, pc}}",
    ".size mote_dsp_rows3_q15, . - mote_dsp_rows3_q15",
    //
    // mote_dsp_rows3_q15w(job: *mut RowsJob): as mote_dsp_rows3_q15, with the weights widened
    // ahead of time (the fc-q15 layout: per group the pairs [even, odd], as the column): each
    // row's two groups are two LDRD and four SMLAD, no SXTB16. `w` 4-byte aligned.
    // MAC loop: r0 cols, r1-r3 the three rows, r4-r6 accumulators, r8-r11 the column's two
    // groups, r12/lr one row's group. [sp] job, [sp, #4] end of the column.
    ".section .text.mote_dsp_rows3_q15w,\"ax\",%progbits",
    ".global mote_dsp_rows3_q15w",
    ".type mote_dsp_rows3_q15w,%function",
    ".p2align 2",
    ".thumb_func",
    "mote_dsp_rows3_q15w:",
    "push {{r4-r11, lr}}",
    "sub sp, #8",
    "str r0, [sp]",
    "ldrd r1, r2, [r0, #4]",
    "ldr r3, [r0]",
    "add.w r3, r3, r2, lsl #3",
    "str r3, [sp, #4]",
    ".macro mote_rows3w_row1 acc, row",
    "ldrd r12, lr, [\\row], #8",
    "smlad \\acc, r8, r12, \\acc",
    "smlad \\acc, r9, lr, \\acc",
    ".endm",
    ".macro mote_rows3w_row2 acc, row",
    "ldrd r12, lr, [\\row], #8",
    "smlad \\acc, r8, r12, \\acc",
    "smlad \\acc, r9, lr, \\acc",
    "ldrd r12, lr, [\\row], #8",
    "smlad \\acc, r10, r12, \\acc",
    "smlad \\acc, r11, lr, \\acc",
    ".endm",
    ".macro mote_rows3w_group2",
    "ldm r0!, {{r8-r11}}",
    "mote_rows3w_row2 r4, r1",
    "mote_rows3w_row2 r5, r2",
    "mote_rows3w_row2 r6, r3",
    ".endm",
    "1:",
    "ldr r12, [sp]",
    "ldr r2, [r12, #8]",
    "add.w r2, r1, r2, lsl #3",
    "rsb r3, r1, r2, lsl #1",
    "ldrd r0, lr, [r12, #16]",
    "ldr r4, [r0]",
    "ldr r5, [r0, lr]",
    "add.w r0, r0, lr, lsl #1",
    "ldr r6, [r0]",
    "add r0, lr",
    "str r0, [r12, #16]",
    "ldr r7, [r12, #8]",
    "ldr r0, [r12]",
    // groups % 4 first: bit 0 into N, bit 1 into C (the groups leave the flags alone).
    "lsls r7, r7, #31",
    "bpl 2f",
    "ldrd r8, r9, [r0], #8",
    "mote_rows3w_row1 r4, r1",
    "mote_rows3w_row1 r5, r2",
    "mote_rows3w_row1 r6, r3",
    "2:",
    "bcc 3f",
    "mote_rows3w_group2",
    "3:",
    "ldr r12, [sp, #4]",
    "cmp r0, r12",
    "beq 5f",
    "4:",
    "mote_rows3w_group2",
    "mote_rows3w_group2",
    "ldr r12, [sp, #4]",
    "cmp r0, r12",
    "bne 4b",
    "5:",
    "mote_rows3_end",
    ".purgem mote_rows3w_group2",
    ".purgem mote_rows3w_row2",
    ".purgem mote_rows3w_row1",
    ".purgem mote_rows3_end",
    "add sp, #8",
    "pop {{r4-r11, pc}}",
    ".size mote_dsp_rows3_q15w, . - mote_dsp_rows3_q15w",
    //
    // mote_dsp_rows_q15(job: *mut RowsJob): one column; as above with r4, r5 (a·w0, a·w1).
    ".section .text.mote_dsp_rows_q15,\"ax\",%progbits",
    ".global mote_dsp_rows_q15",
    ".type mote_dsp_rows_q15,%function",
    ".p2align 2",
    ".thumb_func",
    "mote_dsp_rows_q15:",
    "push {{r4-r11, lr}}",
    "sub sp, #8",
    "str r0, [sp]",
    "ldrd r1, r3, [r0, #4]",
    "add.w r2, r1, r3, lsl #2",
    ".macro mote_rows1_group",
    "mote_rows_weights",
    "ldrd r12, lr, [r0], #8",
    "smlad r4, r12, r8, r4",
    "smlad r4, lr, r9, r4",
    "smlad r5, r12, r10, r5",
    "smlad r5, lr, r11, r5",
    ".endm",
    "1:",
    "ldr r12, [sp]",
    "ldrd r0, lr, [r12, #16]",
    "ldr r4, [r0]",
    "ldr r5, [r0, lr]",
    "add.w r0, r0, lr, lsl #1",
    "str r0, [r12, #16]",
    "ldr r0, [r12]",
    "ldr r3, [r12, #8]",
    "subs r3, #2",
    "blt 3f",
    "2:",
    "mote_rows1_group",
    "mote_rows1_group",
    "subs r3, #2",
    "bge 2b",
    "3:",
    "adds r3, #2",
    "beq 4f",
    "mote_rows1_group",
    "4:",
    "mov r1, r2",
    "ldr r12, [sp]",
    "ldr r3, [r12, #8]",
    "add.w r2, r1, r3, lsl #2",
    "ldrd r0, r3, [r12, #24]",
    "ldrd r8, r9, [r0]",
    "add r0, r3",
    "ldrd r10, r11, [r0]",
    "add r0, r3",
    "str r0, [r12, #24]",
    "lsl r8, r8, #1",
    "mvn r9, r9",
    "lsl r10, r10, #1",
    "mvn r11, r11",
    "ldr lr, [r12, #32]",
    "mote_requant r4, r8, r9, r3",
    "mote_requant r5, r10, r11, r3",
    "bfi r4, r5, #8, #8",
    "ldr r3, [r12, #52]",
    "cbz r3, 5f",
    "ldrd r8, r9, [r12, #36]",
    "mote_clamp r4, r8, r9, r3",
    "5:",
    "ldr r8, [r12, #44]",
    "strh r4, [r8], #2",
    "str r8, [r12, #44]",
    "ldr r3, [r12, #12]",
    "subs r3, #1",
    "str r3, [r12, #12]",
    "bne 1b",
    "str r1, [r12, #4]",
    ".purgem mote_rows1_group",
    ".purgem mote_rows_weights",
    ".purgem mote_requant",
    ".purgem mote_clamp",
    "add sp, #8",
    "pop {{r4-r11, pc}}",
    ".size mote_dsp_rows_q15, . - mote_dsp_rows_q15",
    ".text",
);

#[cfg(mote_arm_dsp)]
extern "C" {
    fn mote_dsp_block_s8x8(job: *mut BlockJob);
    fn mote_dsp_rows_q15x2(job: *mut RowsJob);
    fn mote_dsp_rows_q15(job: *mut RowsJob);
    fn mote_dsp_rows3_q15(job: *mut RowsJob);
    fn mote_dsp_rows3_q15w(job: *mut RowsJob);
}

/// Runs a [`BlockJob`].
///
/// # Safety
/// `count >= 1`; every pixel's `4 * groups` bytes are readable; `block` is 4-byte aligned and
/// holds `16 * groups` words; every pixel's 8 output bytes are writable.
#[cfg(mote_arm_dsp)]
#[inline(always)]
pub unsafe fn block_s8x8(job: &mut BlockJob) {
    // SAFETY: forwarded to the caller.
    unsafe { mote_dsp_block_s8x8(job) }
}

/// Runs a [`RowsJob`] on a column pair.
///
/// # Safety
/// `pairs >= 1`; `cols` is 4-byte aligned and holds `4 * groups` words; `w` holds `2 * pairs`
/// rows of `4 * groups` bytes; `bias` and `requant` hold what their steps reach; both columns'
/// outputs are writable.
#[cfg(mote_arm_dsp)]
#[inline(always)]
pub unsafe fn rows_q15x2(job: &mut RowsJob) {
    // SAFETY: forwarded to the caller.
    unsafe { mote_dsp_rows_q15x2(job) }
}

/// Runs a [`RowsJob`] on one column (`dst_b` unused).
///
/// # Safety
/// As [`rows_q15x2`], with `cols` holding `2 * groups` words.
#[cfg(mote_arm_dsp)]
#[inline(always)]
pub unsafe fn rows_q15(job: &mut RowsJob) {
    // SAFETY: forwarded to the caller.
    unsafe { mote_dsp_rows_q15(job) }
}

/// Runs a [`RowsJob`] on one column, three rows at a time: `pairs` counts blocks of three rows,
/// each writing 3 bytes at `dst` (then `dst += 3`); `dst_b` is unused. Each row's weights are
/// read eight bytes at a time, so that one load and four `SXTB16` feed four `SMLAD`.
///
/// # Safety
/// As [`rows_q15`], with `w` 4-byte aligned and holding `3 * pairs` rows.
#[cfg(mote_arm_dsp)]
#[inline(always)]
pub unsafe fn rows3_q15(job: &mut RowsJob) {
    // SAFETY: forwarded to the caller.
    unsafe { mote_dsp_rows3_q15(job) }
}

/// Runs a [`RowsJob`] as [`rows3_q15`] does, with `w` pointing at int16 weights in the `fc-q15`
/// layout ([`crate::kernels::fully_connected::q15_index`]): each group of a row is the pair
/// words `[even, odd]` of the column's order, so one `LDRD` feeds two `SMLAD`.
///
/// # Safety
/// As [`rows3_q15`], with `w` holding `3 * pairs` rows of `8 * groups` bytes.
#[cfg(mote_arm_dsp)]
#[inline(always)]
pub unsafe fn rows3_q15w(job: &mut RowsJob) {
    // SAFETY: forwarded to the caller.
    unsafe { mote_dsp_rows3_q15w(job) }
}

#[cfg(not(mote_arm_dsp))]
mod portable {
    use super::super::dsp::{clamp_i8x4, pack_i8x4, requantize, smlad, sxtb16, sxtb16_ror8};
    use super::{BlockJob, RowsJob};

    unsafe fn word(p: *const i8) -> u32 {
        // SAFETY: the caller's range covers these four bytes.
        unsafe { core::ptr::read_unaligned(p as *const u32) }
    }

    /// `(m2, em1)` of a requant entry, as the routines derive them.
    fn scale(r: crate::quant::Requant) -> (i32, u32) {
        ((r.multiplier as u32).wrapping_shl(1) as i32, !r.shift as u32)
    }

    /// Portable twin of the Arm routine, for the host tests.
    ///
    /// # Safety
    /// As the Arm routine.
    pub unsafe fn block_s8x8(job: &mut BlockJob) {
        // SAFETY: within the caller's ranges.
        unsafe {
            let out = &*job.out;
            while job.count > 0 {
                let mut acc = out.start;
                for g in 0..job.groups {
                    let v = word(job.x.add(4 * g));
                    let ws = core::slice::from_raw_parts(job.block.add(16 * g), 16);
                    for (j, a) in acc.iter_mut().enumerate() {
                        *a = smlad(sxtb16_ror8(v), ws[2 * j + 1], smlad(sxtb16(v), ws[2 * j], *a));
                    }
                }
                let r: [i32; 8] = core::array::from_fn(|j| requantize(acc[j], out.scale[j][0], out.scale[j][1] as u32, out.zp_round));
                let lo = clamp_i8x4(pack_i8x4(r[0], r[1], r[2], r[3]), out.lo, out.hi);
                let hi = clamp_i8x4(pack_i8x4(r[4], r[5], r[6], r[7]), out.lo, out.hi);
                core::ptr::write_unaligned(job.dst as *mut u32, lo);
                core::ptr::write_unaligned(job.dst.add(4) as *mut u32, hi);
                job.x = job.x.add(job.x_step);
                job.dst = job.dst.add(job.dst_step);
                job.count -= 1;
            }
        }
    }

    /// Both routines: `columns` is 2 for a pair, 1 for one column.
    unsafe fn rows(job: &mut RowsJob, columns: usize) {
        let k = 4 * job.groups;
        // SAFETY: within the caller's ranges.
        unsafe {
            while job.pairs > 0 {
                let (w0, w1) = (job.w, job.w.add(k));
                let (b0, b1) = (*job.bias, *job.bias.add(job.bias_step / 4));
                job.bias = job.bias.add(2 * job.bias_step / 4);
                let (r0, r1) = (*job.requant, *job.requant.add(job.requant_step / 8));
                job.requant = job.requant.add(2 * job.requant_step / 8);
                let mut acc = [[b0, b1]; 2];
                for (i, a) in acc.iter_mut().enumerate().take(columns) {
                    for g in 0..job.groups {
                        let c = core::slice::from_raw_parts(job.cols.add(2 * columns * g + 2 * i), 2);
                        for (j, w) in [w0, w1].into_iter().enumerate() {
                            let v = word(w.add(4 * g));
                            a[j] = smlad(c[1], sxtb16_ror8(v), smlad(c[0], sxtb16(v), a[j]));
                        }
                    }
                }
                let ((m0, e0), (m1, e1)) = (scale(r0), scale(r1));
                let q = |a: i32, m: i32, e: u32| requantize(a, m, e, job.zp_round);
                let v = pack_i8x4(q(acc[0][0], m0, e0), q(acc[0][1], m1, e1), q(acc[1][0], m0, e0), q(acc[1][1], m1, e1));
                let v = clamp_i8x4(v, job.lo, job.hi);
                core::ptr::write_unaligned(job.dst as *mut u16, v as u16);
                if columns == 2 {
                    core::ptr::write_unaligned(job.dst.add(job.dst_b) as *mut u16, (v >> 16) as u16);
                }
                job.dst = job.dst.add(2);
                job.w = job.w.add(2 * k);
                job.pairs -= 1;
            }
        }
    }

    /// Portable twin of the Arm routine, for the host tests.
    ///
    /// # Safety
    /// As the Arm routine.
    pub unsafe fn rows_q15x2(job: &mut RowsJob) {
        // SAFETY: forwarded.
        unsafe { rows(job, 2) }
    }

    /// Portable twin of the Arm routine, for the host tests.
    ///
    /// # Safety
    /// As the Arm routine.
    pub unsafe fn rows_q15(job: &mut RowsJob) {
        // SAFETY: forwarded.
        unsafe { rows(job, 1) }
    }

    /// Portable twin of the Arm routine, for the host tests.
    ///
    /// # Safety
    /// As the Arm routine.
    pub unsafe fn rows3_q15(job: &mut RowsJob) {
        let k = 4 * job.groups;
        // SAFETY: within the caller's ranges.
        unsafe {
            while job.pairs > 0 {
                let v: [i32; 3] = core::array::from_fn(|j| {
                    let row = job.w.add(j * k);
                    let mut acc = *job.bias.add(j * job.bias_step / 4);
                    for g in 0..job.groups {
                        let c = core::slice::from_raw_parts(job.cols.add(2 * g), 2);
                        let x = word(row.add(4 * g));
                        acc = smlad(c[1], sxtb16_ror8(x), smlad(c[0], sxtb16(x), acc));
                    }
                    let (m, e) = scale(*job.requant.add(j * job.requant_step / 8));
                    requantize(acc, m, e, job.zp_round)
                });
                job.bias = job.bias.add(3 * job.bias_step / 4);
                job.requant = job.requant.add(3 * job.requant_step / 8);
                let packed = clamp_i8x4(pack_i8x4(v[0], v[1], v[2], 0), job.lo, job.hi);
                core::ptr::copy_nonoverlapping(packed.to_le_bytes().as_ptr(), job.dst as *mut u8, 3);
                job.dst = job.dst.add(3);
                job.w = job.w.add(3 * k);
                job.pairs -= 1;
            }
        }
    }

    /// Portable twin of the Arm routine, for the host tests.
    ///
    /// # Safety
    /// As the Arm routine.
    pub unsafe fn rows3_q15w(job: &mut RowsJob) {
        let k = 4 * job.groups;
        // SAFETY: within the caller's ranges.
        unsafe {
            while job.pairs > 0 {
                let w = job.w as *const u32;
                let v: [i32; 3] = core::array::from_fn(|j| {
                    let row = w.add(j * k / 2);
                    let mut acc = *job.bias.add(j * job.bias_step / 4);
                    for g in 0..job.groups {
                        acc = smlad(*job.cols.add(2 * g + 1), *row.add(2 * g + 1), smlad(*job.cols.add(2 * g), *row.add(2 * g), acc));
                    }
                    let (m, e) = scale(*job.requant.add(j * job.requant_step / 8));
                    requantize(acc, m, e, job.zp_round)
                });
                job.bias = job.bias.add(3 * job.bias_step / 4);
                job.requant = job.requant.add(3 * job.requant_step / 8);
                let packed = clamp_i8x4(pack_i8x4(v[0], v[1], v[2], 0), job.lo, job.hi);
                core::ptr::copy_nonoverlapping(packed.to_le_bytes().as_ptr(), job.dst as *mut u8, 3);
                job.dst = job.dst.add(3);
                job.w = job.w.add(6 * k);
                job.pairs -= 1;
            }
        }
    }
}

#[cfg(not(mote_arm_dsp))]
pub use portable::*;
