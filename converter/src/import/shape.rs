//! Data-movement operators: Concat, Slice, Reshape (and Flatten, Squeeze, Unsqueeze), Transpose,
//! Pad, Resize (and the older Upsample), Identity and Dropout (ONNX operator specification,
//! opset 9–13). Their shape and index inputs must be constant.

use mote_runtime::ops::{CoordTransform, NearestRound, ResizeMode};

use super::OnnxNode;
use crate::error::Result;
use crate::ir::Op;

pub(super) fn concat(n: &mut OnnxNode<'_>) -> Result<Op> {
    Ok(Op::Concat { axis: n.axis(n.required_attr::<i64>("axis")?, n.rank)? })
}

/// A strided slice with constant starts, axes and positive steps (inputs since opset 10,
/// attributes before); the ends are the output shape's.
pub(super) fn slice(n: &mut OnnxNode<'_>) -> Result<Op> {
    let x = n.in_shape(0)?;
    let list = |i: usize, attr: &str| -> Result<Option<Vec<i64>>> {
        match n.const_input(i, "starts, ends, axes and steps must be constant")? {
            Some(t) => n.ints(&t).map(Some),
            None => n.attr_vec::<i64>(attr),
        }
    };
    let starts = list(1, "starts")?.ok_or_else(|| n.err("no starts"))?;
    let axes = list(3, "axes")?.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = list(4, "steps")?.unwrap_or_else(|| vec![1; starts.len()]);
    let mut begin = vec![0usize; x.len()];
    let mut step = vec![1usize; x.len()];
    for ((&a, &s), &st) in axes.iter().zip(&starts).zip(&steps) {
        let a = n.axis(a, x.len())?;
        if st < 1 {
            return Err(n.err("negative or zero slice steps are not supported"));
        }
        let d = x[a] as i64;
        let s = if s < 0 { s + d } else { s }.clamp(0, d);
        begin[a] = s as usize;
        step[a] = st as usize;
    }
    Ok(Op::Slice { begin, step })
}

/// Any op that keeps the data and changes only the shape (to the inferred output shape).
pub(super) fn reshape(_: &mut OnnxNode<'_>) -> Result<Op> {
    Ok(Op::Reshape)
}

pub(super) fn transpose(n: &mut OnnxNode<'_>) -> Result<Op> {
    let perm = n.attr_vec::<i64>("perm")?.unwrap_or_else(|| (0..n.rank as i64).rev().collect());
    Ok(Op::Transpose { perm: perm.iter().map(|&p| n.axis(p, n.rank)).collect::<Result<_>>()? })
}

/// Constant-mode padding by constant, non-negative pads (an input since opset 11, an attribute
/// before).
pub(super) fn pad(n: &mut OnnxNode<'_>) -> Result<Op> {
    let mode = n.attr_or::<&str>("mode", "constant")?;
    if mode != "constant" {
        return Err(n.err(format!("pad mode {mode} is not supported")));
    }
    let rank = n.rank;
    let pads: Vec<i64> = match n.const_input(1, "pads must be constant")? {
        Some(t) => n.ints(&t)?,
        None => n.attr_vec::<i64>("pads")?.ok_or_else(|| n.err("pads must be constant"))?,
    };
    if pads.iter().any(|&p| p < 0) || pads.len() != 2 * rank {
        return Err(n.err("negative pads (cropping) are not supported"));
    }
    let value = match n.const_input(2, "the pad value must be constant")? {
        Some(t) => n.scalar::<f32>(&t)?,
        None => n.attr_or::<f32>("value", 0.0)?,
    };
    Ok(Op::Pad { before: pads[..rank].iter().map(|&p| p as usize).collect(), after: pads[rank..].iter().map(|&p| p as usize).collect(), value })
}

pub(super) fn resize(n: &mut OnnxNode<'_>) -> Result<Op> {
    resize_with_defaults(n, "half_pixel", "round_prefer_floor")
}

/// Upsample (opset 7–9): a Resize whose coordinates are asymmetric and nearest rounds down.
pub(super) fn upsample(n: &mut OnnxNode<'_>) -> Result<Op> {
    resize_with_defaults(n, "asymmetric", "floor")
}

/// Spatial (H, W) resizing of a 4-D NCHW tensor to the inferred output shape, nearest or
/// bilinear.
fn resize_with_defaults(n: &OnnxNode<'_>, coord_default: &str, nearest_default: &str) -> Result<Op> {
    let x = n.in_shape(0)?;
    let y = &n.out_shape;
    if x.len() != 4 || x[0] != y[0] || x[1] != y[1] {
        return Err(n.err("only spatial (H, W) resizing of a 4-D NCHW tensor is supported"));
    }
    let mode = n.attr_or::<&str>("mode", "nearest")?;
    let coord = match n.attr_or::<&str>("coordinate_transformation_mode", coord_default)? {
        "half_pixel" => CoordTransform::HalfPixel,
        "pytorch_half_pixel" => CoordTransform::PytorchHalfPixel,
        "align_corners" => CoordTransform::AlignCorners,
        "asymmetric" => CoordTransform::Asymmetric,
        other => return Err(n.err(format!("coordinate_transformation_mode {other} is not supported"))),
    };
    let mode = match mode {
        "nearest" => ResizeMode::Nearest(match n.attr_or::<&str>("nearest_mode", nearest_default)? {
            "round_prefer_floor" => NearestRound::RoundPreferFloor,
            "round_prefer_ceil" => NearestRound::RoundPreferCeil,
            "floor" => NearestRound::Floor,
            "ceil" => NearestRound::Ceil,
            other => return Err(n.err(format!("nearest_mode {other} is not supported"))),
        }),
        "linear" | "bilinear" => ResizeMode::Bilinear,
        other => return Err(n.err(format!("mode {other} is not supported"))),
    };
    Ok(Op::Resize { mode, coord })
}

/// Identity, and Dropout (the identity at inference).
pub(super) fn identity(_: &mut OnnxNode<'_>) -> Result<Op> {
    Ok(Op::Identity)
}
