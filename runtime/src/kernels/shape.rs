//! Data movement without arithmetic: Concat, Slice, Transpose, Pad.
//!
//! Every kernel here is generic over the element type (`T: Copy`: the interpreter uses `i8`,
//! `i32` and `f32`) and only copies elements, so results are exact. Shapes are row-major
//! `&[usize]` of rank `r <= MAX_RANK`; all shapes passed to one call have the same rank.
//! Contiguous innermost runs are moved with `copy_from_slice`.

use super::MAX_RANK;

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
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    type ConcatFn = fn(usize, &[(&[usize], &[i32])], &mut [i32]);
    type SliceFn = fn(&[usize], &[i32], &[usize], &[usize], &[usize], &mut [i32]);
    type TransposeFn = fn(&[usize], &[i32], &[usize], &mut [i32]);
    type PadFn = fn(&[usize], &[i32], &[usize], &[usize], i32, &mut [i32]);

    /// Multi-index of linear index `i` in row-major `shape`.
    fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
        let mut idx = vec![0; shape.len()];
        for k in (0..shape.len()).rev() {
            idx[k] = i % shape[k];
            i /= shape[k];
        }
        idx
    }

    fn ravel(idx: &[usize], shape: &[usize]) -> usize {
        idx.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
    }

    fn numel(shape: &[usize]) -> usize {
        shape.iter().product()
    }

    /// Distinct values so that any misplaced element is detected.
    fn iota(n: usize, salt: i32) -> Vec<i32> {
        (0..n as i32).map(|v| v * 7 + salt * 100_003 + 1).collect()
    }

    fn check_concat(kernel: ConcatFn, axis: usize, shapes: &[Vec<usize>]) {
        let datas: Vec<Vec<i32>> = shapes
            .iter()
            .enumerate()
            .map(|(j, s)| iota(numel(s), j as i32 + 1))
            .collect();
        let mut out_shape = shapes[0].clone();
        out_shape[axis] = shapes.iter().map(|s| s[axis]).sum();
        let mut want = vec![0; numel(&out_shape)];
        for (i, w) in want.iter_mut().enumerate() {
            let mut idx = unravel(i, &out_shape);
            let mut j = 0;
            while idx[axis] >= shapes[j][axis] {
                idx[axis] -= shapes[j][axis];
                j += 1;
            }
            *w = datas[j][ravel(&idx, &shapes[j])];
        }
        let inputs: Vec<(&[usize], &[i32])> = shapes
            .iter()
            .zip(&datas)
            .map(|(s, d)| (s.as_slice(), d.as_slice()))
            .collect();
        let mut got = vec![-1; want.len()];
        kernel(axis, &inputs, &mut got);
        assert_eq!(got, want);
    }

    fn check_slice(
        kernel: SliceFn,
        in_shape: &[usize],
        begin: &[usize],
        step: &[usize],
        out_shape: &[usize],
    ) {
        let x = iota(numel(in_shape), 0);
        let mut want = vec![0; numel(out_shape)];
        for (i, w) in want.iter_mut().enumerate() {
            let idx = unravel(i, out_shape);
            let src: Vec<usize> = (0..idx.len())
                .map(|k| begin[k] + idx[k] * step[k])
                .collect();
            *w = x[ravel(&src, in_shape)];
        }
        let mut got = vec![-1; want.len()];
        kernel(in_shape, &x, begin, step, out_shape, &mut got);
        assert_eq!(got, want);
    }

    fn check_transpose(kernel: TransposeFn, in_shape: &[usize], perm: &[usize]) {
        let x = iota(numel(in_shape), 0);
        let out_shape: Vec<usize> = perm.iter().map(|&p| in_shape[p]).collect();
        let mut want = vec![0; x.len()];
        for (i, w) in want.iter_mut().enumerate() {
            let idx = unravel(i, &out_shape);
            let mut src = vec![0; idx.len()];
            for k in 0..idx.len() {
                src[perm[k]] = idx[k];
            }
            *w = x[ravel(&src, in_shape)];
        }
        let mut got = vec![-1; want.len()];
        kernel(in_shape, &x, perm, &mut got);
        assert_eq!(got, want);
    }

    fn check_pad(kernel: PadFn, in_shape: &[usize], before: &[usize], after: &[usize], value: i32) {
        let x = iota(numel(in_shape), 0);
        let out_shape: Vec<usize> = (0..in_shape.len())
            .map(|k| before[k] + in_shape[k] + after[k])
            .collect();
        let mut want = vec![0; numel(&out_shape)];
        for (i, w) in want.iter_mut().enumerate() {
            let idx = unravel(i, &out_shape);
            let inside =
                (0..idx.len()).all(|k| idx[k] >= before[k] && idx[k] < before[k] + in_shape[k]);
            *w = if inside {
                let src: Vec<usize> = (0..idx.len()).map(|k| idx[k] - before[k]).collect();
                x[ravel(&src, in_shape)]
            } else {
                value
            };
        }
        let mut got = vec![-1; want.len()];
        kernel(in_shape, &x, before, &out_shape, value, &mut got);
        assert_eq!(got, want);
    }

    fn shape_strategy(max_dim: usize) -> impl Strategy<Value = Vec<usize>> {
        proptest::collection::vec(0..=max_dim, 1..=MAX_RANK)
    }

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

    proptest! {
        #[test]
        fn concat_matches_reference(
            (axis, shapes) in shape_strategy(4).prop_flat_map(|base| {
                let r = base.len();
                (0..r, proptest::collection::vec(0usize..=4, 1..=4)).prop_map(move |(axis, dims)| {
                    let shapes: Vec<Vec<usize>> = dims.iter().map(|&d| {
                        let mut s = base.clone();
                        s[axis] = d;
                        s
                    }).collect();
                    (axis, shapes)
                })
            })
        ) {
            check_concat(concat, axis, &shapes);
        }

        #[test]
        fn slice_matches_reference(
            in_shape in shape_strategy(5),
            seeds in proptest::collection::vec((any::<u32>(), 0usize..3, any::<u32>()), MAX_RANK),
        ) {
            let r = in_shape.len();
            let (mut begin, mut step, mut out_shape) = (vec![0; r], vec![1; r], vec![0; r]);
            for k in 0..r {
                let d = in_shape[k];
                let (b, s, l) = seeds[k];
                step[k] = 1 + s;
                if d > 0 {
                    begin[k] = b as usize % d;
                    let max = (d - begin[k]).div_ceil(step[k]);
                    // Mostly non-empty slices.
                    out_shape[k] = if l % 8 == 0 { l as usize % (max + 1) } else { 1 + l as usize % max };
                }
            }
            check_slice(slice, &in_shape, &begin, &step, &out_shape);
        }

        #[test]
        fn transpose_matches_reference(
            (in_shape, perm) in shape_strategy(4).prop_flat_map(|s| {
                let r = s.len();
                (Just(s), Just((0..r).collect::<Vec<usize>>()).prop_shuffle())
            })
        ) {
            check_transpose(transpose, &in_shape, &perm);
        }

        #[test]
        fn pad_matches_reference(
            (in_shape, before, after) in shape_strategy(4).prop_flat_map(|s| {
                let r = s.len();
                (Just(s), proptest::collection::vec(0usize..3, r), proptest::collection::vec(0usize..3, r))
            }),
            value in any::<i32>(),
        ) {
            check_pad(pad, &in_shape, &before, &after, value);
        }
    }
}
