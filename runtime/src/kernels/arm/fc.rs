//! int8 fully connected layer: rows of `x`, widened two at a time with the zero point
//! subtracted, times the int8 weight rows streamed from the model, two at a time. Each weight is
//! used once per pair of rows, so nothing is widened ahead of time on the weights' side.

use super::conv::{columns_times_rows, widen, zero_point_pair};
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
            let tail_a = widen(src, k, zp_pair, x_zero_point, cols, stride);
            let tail_b = if pair { widen(src.add(k), k, zp_pair, x_zero_point, cols.add(2), stride) } else { [0; 3] };
            columns_times_rows(cols, pair, [tail_a, tail_b], w, k, bias, stage, out.as_mut_ptr().add(r * m), m);
        }
        r += if pair { 2 } else { 1 };
    }
}
