//! Data movement without arithmetic: Concat, Slice, Transpose, Pad.
//!
//! Every kernel here is generic over the element type (`T: Copy`: the interpreter uses `i8`,
//! `i32` and `f32`) and only copies elements, so results are exact. Shapes are row-major
//! `&[usize]` of rank `r <= MAX_RANK`; all shapes passed to one call have the same rank.
//! Contiguous innermost runs are moved with `copy_from_slice`.

use crate::tensor::MAX_RANK;

/// Row-major strides of `shape` (`strides[r - 1] == 1`); entries past the rank are 0.
fn strides(shape: &[usize]) -> [usize; MAX_RANK] {
    let mut s = [0usize; MAX_RANK];
    let mut acc = 1usize;
    for (st, &d) in s.iter_mut().zip(shape).rev() {
        *st = acc;
        acc *= d;
    }
    s
}

/// Calls `f(row, offset)` for every innermost row of `shape` in row-major order, where `row`
/// counts rows from 0 and `offset = base + sum_k idx_k * stride[k]` over the outer `r - 1` axes.
/// A rank-0 shape has a single row. Does nothing when the shape has no elements.
fn for_each_row(shape: &[usize], stride: &[usize], base: usize, mut f: impl FnMut(usize, usize)) {
    if shape.contains(&0) {
        return;
    }
    let outer = shape.len().saturating_sub(1);
    let rows: usize = shape[..outer].iter().product();
    let mut idx = [0usize; MAX_RANK];
    let mut off = base;
    for row in 0..rows {
        f(row, off);
        // Odometer increment over the outer axes; `off` never underflows because the amount
        // subtracted on a wrap was added by the increments that led to it.
        for k in (0..outer).rev() {
            idx[k] += 1;
            off += stride[k];
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
            off -= shape[k] * stride[k];
        }
    }
}

/// `out[i] = x[base + sum_k i_k * src_stride[k]]` for every index `i` of `out_shape`.
fn gather<T: Copy>(out_shape: &[usize], src_stride: &[usize], base: usize, x: &[T], out: &mut [T]) {
    let n = out_shape.last().copied().unwrap_or(1);
    let inner = src_stride
        .get(out_shape.len().wrapping_sub(1))
        .copied()
        .unwrap_or(1);
    for_each_row(out_shape, src_stride, base, |row, off| {
        let dst = &mut out[row * n..(row + 1) * n];
        if inner == 1 {
            dst.copy_from_slice(&x[off..off + n]);
        } else {
            for (j, d) in dst.iter_mut().enumerate() {
                *d = x[off + j * inner];
            }
        }
    });
}

/// Concatenates tensors along `axis` (ONNX `Concat`, TFLite `CONCATENATION`).
///
/// `inputs` are `(shape, data)` pairs of equal rank whose dimensions are equal except at `axis`;
/// `out` has their shape with `out_shape[axis] = sum of inputs' shape[axis]`. For every index of
/// the axes before `axis`, the inputs' contiguous blocks (`shape[axis..]` elements each) are
/// copied one after another. Exact.
pub fn concat<T: Copy>(axis: usize, inputs: &[(&[usize], &[T])], out: &mut [T]) {
    let Some(&(first, _)) = inputs.first() else {
        return;
    };
    let outer: usize = first.iter().take(axis).product();
    let block = |s: &[usize]| -> usize { s.iter().skip(axis).product() };
    let out_row: usize = inputs.iter().map(|&(s, _)| block(s)).sum();
    if outer == 0 || out_row == 0 {
        return;
    }
    for (o, dst) in out.chunks_exact_mut(out_row).take(outer).enumerate() {
        let mut at = 0;
        for &(s, data) in inputs {
            let len = block(s);
            dst[at..at + len].copy_from_slice(&data[o * len..(o + 1) * len]);
            at += len;
        }
    }
}

/// Strided slice (ONNX `Slice` with non-negative steps, TFLite `STRIDED_SLICE`).
///
/// `out[i_0, .., i_{r-1}] = x[begin[0] + i_0 * step[0], .., begin[r-1] + i_{r-1} * step[r-1]]`
/// for every index of `out_shape`. `begin`, `step` (`>= 1`) and `out_shape` have the input's
/// rank and every addressed element lies inside `in_shape`. Innermost runs with `step == 1` are
/// copied contiguously. Exact.
pub fn slice<T: Copy>(
    in_shape: &[usize],
    x: &[T],
    begin: &[usize],
    step: &[usize],
    out_shape: &[usize],
    out: &mut [T],
) {
    let s = strides(in_shape);
    let mut src = [0usize; MAX_RANK];
    let mut base = 0;
    for k in 0..in_shape.len() {
        src[k] = s[k] * step[k];
        base += begin[k] * s[k];
    }
    gather(out_shape, &src[..in_shape.len()], base, x, out);
}

/// Permutes axes (ONNX / TFLite `Transpose`).
///
/// `out` has shape `out_shape[k] = in_shape[perm[k]]`, and
/// `out[i_0, .., i_{r-1}] = x[j]` where `j[perm[k]] = i_k`. `perm` is a permutation of `0..r`.
/// When `perm[r-1] == r-1` innermost runs are copied contiguously; otherwise an odometer walks
/// the output. Exact.
pub fn transpose<T: Copy>(in_shape: &[usize], x: &[T], perm: &[usize], out: &mut [T]) {
    let r = in_shape.len();
    let s = strides(in_shape);
    let mut out_shape = [0usize; MAX_RANK];
    let mut src = [0usize; MAX_RANK];
    for (k, &p) in perm.iter().enumerate().take(r) {
        out_shape[k] = in_shape[p];
        src[k] = s[p];
    }
    gather(&out_shape[..r], &src[..r], 0, x, out);
}

/// Constant padding (ONNX `Pad` mode `constant` with non-negative pads, TFLite `PAD`/`PADV2`).
///
/// `out_shape[k] = before[k] + in_shape[k] + after[k]`; `out[before + i] = x[i]` for every
/// index `i` of `in_shape` and `out = value` everywhere else. Input rows are copied
/// contiguously. Exact.
pub fn pad<T: Copy>(
    in_shape: &[usize],
    x: &[T],
    before: &[usize],
    out_shape: &[usize],
    value: T,
    out: &mut [T],
) {
    out.fill(value);
    let r = in_shape.len();
    let s = strides(out_shape);
    let base: usize = (0..r).map(|k| before[k] * s[k]).sum();
    let n = in_shape.last().copied().unwrap_or(1);
    for_each_row(in_shape, &s[..r], base, |row, off| {
        out[off..off + n].copy_from_slice(&x[row * n..(row + 1) * n]);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn concat_tiny() {
        // [2,2] ++ [2,1] along axis 1.
        let a = [1, 2, 3, 4];
        let b = [9, 8];
        let mut out = [0; 6];
        concat(1, &[(&[2, 2][..], &a[..]), (&[2, 1][..], &b[..])], &mut out);
        assert_eq!(out, [1, 2, 9, 3, 4, 8]);
        let mut out = [0.0f32; 6];
        concat(
            0,
            &[
                (&[1, 2][..], &[1.0f32, 2.0][..]),
                (&[2, 2][..], &[3.0, 4.0, 5.0, 6.0][..]),
            ],
            &mut out,
        );
        assert_eq!(out, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn slice_tiny() {
        // x = [[0,1,2,3],[4,5,6,7],[8,9,10,11]]; rows 1.., cols 0,2.
        let x: Vec<i8> = (0..12).collect();
        let mut out = [0i8; 4];
        slice(&[3, 4], &x, &[1, 0], &[1, 2], &[2, 2], &mut out);
        assert_eq!(out, [4, 6, 8, 10]);
        let mut out = [0i8; 2];
        slice(&[3, 4], &x, &[0, 1], &[2, 1], &[2, 1], &mut out);
        assert_eq!(out, [1, 9]);
    }

    #[test]
    fn transpose_tiny() {
        let x = [1, 2, 3, 4, 5, 6]; // [2,3]
        let mut out = [0; 6];
        transpose(&[2, 3], &x, &[1, 0], &mut out);
        assert_eq!(out, [1, 4, 2, 5, 3, 6]);
        // NHWC [1,1,2,2] -> NCHW
        let x = [1, 2, 3, 4];
        let mut out = [0; 4];
        transpose(&[1, 2, 1, 2], &x, &[0, 3, 1, 2], &mut out);
        assert_eq!(out, [1, 3, 2, 4]);
    }

    #[test]
    fn pad_tiny() {
        let x = [1, 2, 3, 4]; // [2,2]
        let mut out = [0; 12];
        pad(&[2, 2], &x, &[1, 0], &[3, 4], -1, &mut out);
        assert_eq!(out, [-1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1]);
        let mut out = [0.0f32; 3];
        pad(&[1], &[5.0f32], &[1], &[3], 0.5, &mut out);
        assert_eq!(out, [0.5, 5.0, 0.5]);
    }

    #[test]
    fn rank_zero_and_empty() {
        let mut out = [0; 1];
        slice(&[], &[7], &[], &[], &[], &mut out);
        assert_eq!(out, [7]);
        transpose(&[], &[8], &[], &mut out);
        assert_eq!(out, [8]);
        let mut out: [i32; 0] = [];
        transpose(&[2, 0, 3], &[], &[2, 0, 1], &mut out);
        let mut out = [0; 4];
        pad(&[0, 2], &[], &[1, 0], &[2, 2], 3, &mut out);
        assert_eq!(out, [3; 4]);
    }
}
