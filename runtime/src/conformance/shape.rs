//! Data movement: [`concat`](crate::kernels::shape::concat),
//! [`slice`](crate::kernels::shape::slice), [`transpose`](crate::kernels::shape::transpose) and
//! [`pad`](crate::kernels::shape::pad), for any element type.

use super::{ravel, unravel, Cases, Ctx, Dims, Draw, Mismatch, Params};
use crate::tensor::MAX_RANK;

/// An element type the data-movement suites run with: `i8` and `u32` are the interpreter's.
pub trait Element: Copy + PartialEq {
    /// A value standing for position `i`; distinct for the positions of one tensor.
    fn tag(i: usize) -> Self;
    /// The value, for a [`Mismatch`].
    fn as_f64(self) -> f64;
}

impl Element for i8 {
    fn tag(i: usize) -> i8 {
        // An odd multiplier permutes the 256 residues, so the tags of 256 positions differ.
        (i as u8).wrapping_mul(167).wrapping_add(13) as i8
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Element for u8 {
    fn tag(i: usize) -> u8 {
        (i as u8).wrapping_mul(167).wrapping_add(13)
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Element for i32 {
    fn tag(i: usize) -> i32 {
        (i as i32).wrapping_mul(7).wrapping_sub(100_003)
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Element for u32 {
    fn tag(i: usize) -> u32 {
        (i as u32).wrapping_mul(0x9e37_79b9) ^ 0x5555
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Element for f32 {
    fn tag(i: usize) -> f32 {
        i as f32 * 0.5 - 1000.0
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
}

/// The signature of `concat` for elements `T`.
pub type Concat<T> = fn(usize, &[(&[usize], &[T])], &mut [T]);
/// The signature of `slice` for elements `T`.
pub type Slice<T> = fn(&[usize], &[T], &[usize], &[usize], &[usize], &mut [T]);
/// The signature of `transpose` for elements `T`.
pub type Transpose<T> = fn(&[usize], &[T], &[usize], &mut [T]);
/// The signature of `pad` for elements `T`.
pub type Pad<T> = fn(&[usize], &[T], &[usize], &[usize], T, &mut [T]);

/// Most elements of one tensor in these suites.
const MAX_LEN: usize = 256;
const MAX_INPUTS: usize = 4;
const MAX_PAD_IN: usize = 64;
const MAX_PAD_OUT: usize = 1024;

/// A shape of rank 0..=6 (1..=6 with `nonscalar`) with dimensions 0..=`max_dim` (zero-sized
/// shapes every eighth case at most) and at most `limit` elements.
fn shape(d: &mut Draw, max_dim: usize, nonscalar: bool, limit: usize) -> Dims {
    let r = d.size(nonscalar as usize, MAX_RANK);
    let empty = d.int(0, 7) == 0;
    let mut s = [0usize; MAX_RANK];
    s[..r].iter_mut().for_each(|v| *v = d.size(if empty { 0 } else { 1 }, max_dim));
    while s[..r].iter().product::<usize>() > limit {
        let k = d.size(0, r - 1);
        s[k] = s[k].div_ceil(2);
    }
    Dims::new(&s[..r]).unwrap_or_default()
}

/// Every element exactly, for 1..=4 inputs along a random axis.
pub fn concat<T: Element>(kernel: Concat<T>, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let base = shape(d, 4, true, MAX_LEN / MAX_INPUTS);
        let (r, axis, k) = (base.as_slice().len(), d.size(0, base.as_slice().len() - 1), d.size(1, MAX_INPUTS));
        let mut shapes = [base; MAX_INPUTS];
        let mut data = [[T::tag(0); MAX_LEN / MAX_INPUTS]; MAX_INPUTS];
        let mut out_dims = [0usize; MAX_RANK];
        out_dims[..r].copy_from_slice(base.as_slice());
        out_dims[axis] = 0;
        for j in 0..k {
            let mut s = [0usize; MAX_RANK];
            s[..r].copy_from_slice(base.as_slice());
            let rest: usize = s[..r].iter().enumerate().filter(|&(i, _)| i != axis).map(|(_, &v)| v).product();
            s[axis] = d.size(0, 4).min((MAX_LEN / MAX_INPUTS) / rest.max(1));
            out_dims[axis] += s[axis];
            shapes[j] = Dims::new(&s[..r]).unwrap_or_default();
            data[j].iter_mut().enumerate().for_each(|(i, v)| *v = T::tag(j * 64 + i));
        }
        let out_shape = Dims::new(&out_dims[..r]).unwrap_or_default();
        let mut inputs: [(&[usize], &[T]); MAX_INPUTS] = [(&[], &[]); MAX_INPUTS];
        for j in 0..k {
            inputs[j] = (shapes[j].as_slice(), &data[j][..shapes[j].numel()]);
        }
        let mut out = [T::tag(MAX_LEN); MAX_LEN];
        let ctx = Ctx::new("concat", d, Params::Concat { axis, inputs: k, out: out_shape });
        kernel(axis, &inputs[..k], &mut out[..out_shape.numel()]);
        for (o, &got) in out[..out_shape.numel()].iter().enumerate() {
            let mut idx = unravel(o, out_shape.as_slice());
            let mut j = 0;
            while idx[axis] >= shapes[j].as_slice()[axis] {
                idx[axis] -= shapes[j].as_slice()[axis];
                j += 1;
            }
            let want = data[j][ravel(&idx[..r], shapes[j].as_slice())];
            if got != want {
                return Err(ctx.mismatch(o, got.as_f64(), want.as_f64(), 0.0));
            }
        }
        Ok(())
    })
}

/// Every element exactly: `out[i] = x[begin + i * step]` per axis, steps 1..=3, mostly
/// non-empty slices.
pub fn slice<T: Element>(kernel: Slice<T>, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let input = shape(d, 5, false, MAX_LEN);
        let r = input.as_slice().len();
        let (mut begin, mut step, mut out) = ([0usize; MAX_RANK], [1usize; MAX_RANK], [0usize; MAX_RANK]);
        for k in 0..r {
            let dim = input.as_slice()[k];
            step[k] = d.size(1, 3);
            if dim > 0 {
                begin[k] = d.size(0, dim - 1);
                let max = (dim - begin[k]).div_ceil(step[k]);
                out[k] = if d.int(0, 7) == 0 { d.size(0, max) } else { d.size(1, max) };
            }
        }
        let (begin, step, out_shape) = (Dims::new(&begin[..r]).unwrap_or_default(), Dims::new(&step[..r]).unwrap_or_default(), Dims::new(&out[..r]).unwrap_or_default());
        let mut x = [T::tag(0); MAX_LEN];
        x.iter_mut().enumerate().for_each(|(i, v)| *v = T::tag(i));
        let mut got = [T::tag(MAX_LEN); MAX_LEN];
        let ctx = Ctx::new("slice", d, Params::Slice { input, begin, step, out: out_shape });
        let n = out_shape.numel();
        kernel(input.as_slice(), &x[..input.numel()], begin.as_slice(), step.as_slice(), out_shape.as_slice(), &mut got[..n]);
        for (o, &g) in got[..n].iter().enumerate() {
            let idx = unravel(o, out_shape.as_slice());
            let mut src = [0usize; MAX_RANK];
            for k in 0..r {
                src[k] = begin.as_slice()[k] + idx[k] * step.as_slice()[k];
            }
            let want = x[ravel(&src[..r], input.as_slice())];
            if g != want {
                return Err(ctx.mismatch(o, g.as_f64(), want.as_f64(), 0.0));
            }
        }
        Ok(())
    })
}

/// Every element exactly: `out[i] = x[j]` with `j[perm[k]] = i[k]`, for random permutations
/// (the identity on the last axis now and then, the contiguous-run path).
pub fn transpose<T: Element>(kernel: Transpose<T>, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let input = shape(d, 4, false, MAX_LEN);
        let r = input.as_slice().len();
        let mut perm = [0usize; MAX_RANK];
        perm.iter_mut().enumerate().for_each(|(i, p)| *p = i);
        for k in (1..r).rev() {
            perm.swap(k, d.size(0, k));
        }
        if r > 0 && d.cycle(3) == 0 {
            let last = perm[..r].iter().position(|&p| p == r - 1).unwrap_or(r - 1);
            perm.swap(last, r - 1);
        }
        let mut out_dims = [0usize; MAX_RANK];
        for k in 0..r {
            out_dims[k] = input.as_slice()[perm[k]];
        }
        let (perm_dims, out_shape) = (Dims::new(&perm[..r]).unwrap_or_default(), Dims::new(&out_dims[..r]).unwrap_or_default());
        let mut x = [T::tag(0); MAX_LEN];
        x.iter_mut().enumerate().for_each(|(i, v)| *v = T::tag(i));
        let mut got = [T::tag(MAX_LEN); MAX_LEN];
        let n = input.numel();
        let ctx = Ctx::new("transpose", d, Params::Transpose { input, perm: perm_dims });
        kernel(input.as_slice(), &x[..n], perm_dims.as_slice(), &mut got[..n]);
        for (o, &g) in got[..n].iter().enumerate() {
            let idx = unravel(o, out_shape.as_slice());
            let mut src = [0usize; MAX_RANK];
            for k in 0..r {
                src[perm[k]] = idx[k];
            }
            let want = x[ravel(&src[..r], input.as_slice())];
            if g != want {
                return Err(ctx.mismatch(o, g.as_f64(), want.as_f64(), 0.0));
            }
        }
        Ok(())
    })
}

/// Every element exactly: the input at `before + i`, the pad value elsewhere; 0..=2 before and
/// after each axis (fewer where the output would exceed 1024 elements).
pub fn pad<T: Element>(kernel: Pad<T>, cases: Cases) -> Result<(), Mismatch> {
    cases.each(|d| {
        let input = shape(d, 4, false, MAX_PAD_IN);
        let r = input.as_slice().len();
        let (mut before, mut after) = ([0usize; MAX_RANK], [0usize; MAX_RANK]);
        for k in 0..r {
            before[k] = d.size(0, 2);
            after[k] = d.size(0, 2);
        }
        let out_len = |before: &[usize], after: &[usize]| (0..r).map(|k| before[k] + input.as_slice()[k] + after[k]).product::<usize>();
        while out_len(&before, &after) > MAX_PAD_OUT {
            let k = d.size(0, r - 1);
            if before[k] > 0 {
                before[k] -= 1;
            } else {
                after[k] = after[k].saturating_sub(1);
            }
        }
        let mut out = [0usize; MAX_RANK];
        for k in 0..r {
            out[k] = before[k] + input.as_slice()[k] + after[k];
        }
        let (before, out_shape) = (Dims::new(&before[..r]).unwrap_or_default(), Dims::new(&out[..r]).unwrap_or_default());
        // Tags of positions the input does not use: the value differs from every input element.
        let value = T::tag(d.size(MAX_PAD_IN, 255));
        let mut x = [T::tag(0); MAX_PAD_IN];
        x.iter_mut().enumerate().for_each(|(i, v)| *v = T::tag(i));
        let mut got = [T::tag(0); MAX_PAD_OUT];
        let n = out_shape.numel();
        let ctx = Ctx::new("pad", d, Params::Pad { input, before, out: out_shape });
        kernel(input.as_slice(), &x[..input.numel()], before.as_slice(), out_shape.as_slice(), value, &mut got[..n]);
        for (o, &g) in got[..n].iter().enumerate() {
            let idx = unravel(o, out_shape.as_slice());
            let inside = (0..r).all(|k| idx[k] >= before.as_slice()[k] && idx[k] < before.as_slice()[k] + input.as_slice()[k]);
            let want = if inside {
                let mut src = [0usize; MAX_RANK];
                for k in 0..r {
                    src[k] = idx[k] - before.as_slice()[k];
                }
                x[ravel(&src[..r], input.as_slice())]
            } else {
                value
            };
            if g != want {
                return Err(ctx.mismatch(o, g.as_f64(), want.as_f64(), 0.0));
            }
        }
        Ok(())
    })
}
