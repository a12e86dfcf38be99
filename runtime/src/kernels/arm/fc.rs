//! int8 fully connected layer: rows of `x`, widened with the zero point subtracted, times the
//! int8 weight rows streamed from the model. Each weight is used once per row (pair) of `x`, so
//! nothing is widened ahead of time on the weights' side.
//!
//! Rows of `x` go two at a time through [`columns_times_rows`] (two widened rows × two weight
//! rows, one `SMLAD` per two multiply-accumulates and per widened weight pair); a single row (a
//! batch of one, or the last of an odd batch) goes through [`column_times_rows`], three weight
//! rows per pass of the widened row (two when the weights are not 4-byte aligned), so that
//! loading the row is shared by the block's outputs.
//!
//! Weights in the `fc-q15` layout (widened by the converter: [`fully_connected_q15_s8`]) skip
//! the widening: each row of `x` goes through [`rows3_q15w`], two `LDRD` and four `SMLAD` per
//! eight multiply-accumulates of a row where the int8 rows take one `LDRD`, four `SXTB16` and
//! four `SMLAD`.

use super::conv::{columns_times_rows, widen, zero_point_pair};
use super::dsp::{smlad, sxtb16, sxtb16_ror8};
use super::matmul::{rows3_q15, rows3_q15w, rows_q15, RowsJob};
use super::requant::OutputStage;
use super::Scratch;
use crate::kernels::fully_connected::FcParams;

/// Whether [`fully_connected_s8`] computes `p`: the column pair of `inputs / 4` groups fits in
/// the scratch.
pub fn supports(p: &FcParams) -> bool {
    4 * (p.inputs / 4) <= Scratch::WORDS
}

/// Words of scratch [`fully_connected_s8`] takes for `p`: a column pair, or one column when
/// `x` has a single row.
pub fn scratch_words(p: &FcParams) -> usize {
    (if p.rows > 1 { 4 } else { 2 }) * (p.inputs / 4)
}

/// Fully connected layer, the arithmetic of
/// [`crate::kernels::fully_connected::fully_connected_i8`].
///
/// # Safety
/// [`supports`] holds, `stage` was made for `p.outputs` channels, `x_zero_point` is in
/// `-128..=127`, and the slices have the lengths `fully_connected_i8` documents.
#[allow(clippy::too_many_arguments)]
pub unsafe fn fully_connected_s8(
    p: &FcParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    stage: &OutputStage<'_>,
    out: &mut [i8],
    scratch: &mut Scratch,
) {
    let (k, m) = (p.inputs, p.outputs);
    let cols = scratch.words();
    let zp_pair = zero_point_pair(x_zero_point);
    let mut r = 0;
    while r < p.rows {
        let pair = r + 1 < p.rows;
        let stride = if pair { 4 } else { 2 };
        // SAFETY: rows `r` (and `r + 1`) of `x` and `out` exist; the columns fit (`supports`).
        unsafe {
            let src = x.as_ptr().add(r * k) as *const u8;
            let dst = out.as_mut_ptr().add(r * m);
            let tail_a = widen(src, k, zp_pair, x_zero_point, cols, stride);
            if pair {
                let tail_b = widen(src.add(k), k, zp_pair, x_zero_point, cols.add(2), stride);
                columns_times_rows(cols, true, [tail_a, tail_b], w, k, bias, stage, dst, m);
            } else {
                column_times_rows(cols, tail_a, w, k, bias, stage, dst, m);
            }
        }
        r += if pair { 2 } else { 1 };
    }
}

/// One widened row of `x` against every weight row: `dst[o] = stage(bias[o] + col · w_o)`.
///
/// With `k % 4 == 0`: when `w` is 4-byte aligned, blocks of three weight rows run in
/// [`rows3_q15`] (eight weights per load) and a last pair in [`rows_q15`]; otherwise pairs run in
/// [`rows_q15`]. A last single row runs in the loop below. With other `k`,
/// [`columns_times_rows`] takes them all.
///
/// # Safety
/// `cols` holds the column of `k / 4` groups and `tail` its last `k % 4` values; `w` holds `m`
/// rows of `k`; `bias`, when present, `m` values; `stage` was made for `m` channels; `dst` is
/// writable for `m` bytes.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn column_times_rows(cols: *const u32, tail: [i32; 3], w: &[i8], k: usize, bias: Option<&[i32]>, stage: &OutputStage<'_>, dst: *mut i8, m: usize) {
    // SAFETY: forwarded from the caller.
    unsafe {
        if k % 4 != 0 {
            return columns_times_rows(cols, false, [tail, [0; 3]], w, k, bias, stage, dst, m);
        }
        let groups = k / 4;
        let mut job = RowsJob::new(cols, w.as_ptr(), groups, 0, bias, stage, dst, 0);
        if w.as_ptr() as usize % 4 == 0 {
            job.pairs = m / 3;
            if job.pairs > 0 {
                rows3_q15(&mut job);
            }
            job.pairs = m % 3 / 2;
        } else {
            job.pairs = m / 2;
        }
        if job.pairs > 0 {
            rows_q15(&mut job);
        }
        let done = job.dst.offset_from(dst) as usize;
        for o in done..m {
            let row = w.as_ptr().add(o * k);
            let mut acc = bias.map_or(0, |b| b[o]);
            for g in 0..groups {
                let v = core::ptr::read_unaligned(row.add(4 * g) as *const u32);
                acc = smlad(*cols.add(2 * g + 1), sxtb16_ror8(v), smlad(*cols.add(2 * g), sxtb16(v), acc));
            }
            *dst.add(o) = stage.clamp1(stage.requantize(stage.channel(o), acc));
        }
    }
}

/// Fully connected layer on weights in the `fc-q15` layout (`w`: `outputs * inputs` int16,
/// [`crate::kernels::fully_connected::q15_index`]), the arithmetic of
/// [`crate::kernels::fully_connected::fully_connected_q15_i8`]: each row of `x` widened once,
/// then three weight rows per pass of [`rows3_q15w`], the last one or two in the loop below.
///
/// # Safety
/// [`supports`] holds, `p.inputs % 4 == 0`, `w` is 4-byte aligned, `stage` was made for
/// `p.outputs` channels, `x_zero_point` is in `-128..=127`, and the slices have the lengths
/// `fully_connected_q15_i8` documents.
#[allow(clippy::too_many_arguments)]
pub unsafe fn fully_connected_q15_s8(
    p: &FcParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i16],
    bias: Option<&[i32]>,
    stage: &OutputStage<'_>,
    out: &mut [i8],
    scratch: &mut Scratch,
) {
    let (k, m) = (p.inputs, p.outputs);
    let groups = k / 4;
    let cols = scratch.words();
    let zp_pair = zero_point_pair(x_zero_point);
    for r in 0..p.rows {
        // SAFETY: row `r` of `x` and `out` exists; the column fits (`supports`); `w` holds `m`
        // rows of `2 * k` bytes, 4-byte aligned.
        unsafe {
            let dst = out.as_mut_ptr().add(r * m);
            widen(x.as_ptr().add(r * k) as *const u8, k, zp_pair, x_zero_point, cols, 2);
            let mut job = RowsJob::new(cols, w.as_ptr() as *const i8, groups, m / 3, bias, stage, dst, 0);
            if job.pairs > 0 {
                rows3_q15w(&mut job);
            }
            let words = w.as_ptr() as *const u32;
            for o in m - m % 3..m {
                let row = words.add(o * 2 * groups);
                let mut acc = bias.map_or(0, |b| b[o]);
                for g in 0..2 * groups {
                    acc = smlad(*cols.add(g), *row.add(g), acc);
                }
                *dst.add(o) = stage.clamp1(stage.requantize(stage.channel(o), acc));
            }
        }
    }
}
