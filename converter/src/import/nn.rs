//! Neural-network operators: Conv, BatchNormalization, MatMul, Gemm, the pools and Softmax
//! (ONNX operator specification, opset 11–13).

use mote_runtime::ops::{Activation, PoolKind};
use tract_onnx::prelude::tract_ndarray::{Array1, Ix2};

use super::OnnxNode;
use crate::error::Result;
use crate::ir::{to_f32, Op};

/// 2-D convolution of a 4-D NCHW input by constant OIHW weights, grouped or depthwise.
pub(super) fn conv(n: &mut OnnxNode<'_>) -> Result<Op> {
    let x = n.in_shape(0)?;
    let w = n.in_shape(1)?;
    if x.len() != 4 {
        return Err(n.err("only 2-D convolution (4-D NCHW input) is supported"));
    }
    if n.konst(1).is_none() {
        return Err(n.err("weights must be constant"));
    }
    let group = n.attr_or::<i64>("group", 1)? as usize;
    let stride = ints2(n, "strides", 1)?;
    let dilation = ints2(n, "dilations", 1)?;
    let pads = window_pads(n, [x[2], x[3]], [w[2], w[3]], stride, dilation)?;
    Ok(Op::Conv { stride, dilation, pads, group, act: Activation::None })
}

/// Inference-mode batch normalization with constant statistics (the passes fold it away).
pub(super) fn batch_norm(n: &mut OnnxNode<'_>) -> Result<Op> {
    if (1..5).any(|i| n.konst(i).is_none()) {
        return Err(n.err("scale, bias, mean and variance must be constant"));
    }
    Ok(Op::BatchNorm { epsilon: n.attr_or::<f32>("epsilon", 1e-5)? })
}

/// `x · W` by a constant 2-D `W` (the passes make it a FullyConnected).
pub(super) fn matmul(n: &mut OnnxNode<'_>) -> Result<Op> {
    if n.konst(1).is_none() || n.in_shape(1)?.len() != 2 {
        return Err(n.err("the second operand must be a constant 2-D matrix"));
    }
    Ok(Op::MatMul)
}

/// `alpha · A · B' + beta · C` with constant B and C: a FullyConnected whose weights
/// (`alpha · B`, transposed to `[n, k]`) and bias (`beta · C`, broadcast to `[n]`) are new
/// constants.
pub(super) fn gemm(n: &mut OnnxNode<'_>) -> Result<Op> {
    let (alpha, beta) = (n.attr_or::<f32>("alpha", 1.0)?, n.attr_or::<f32>("beta", 1.0)?);
    if n.attr_or::<i64>("transA", 0)? != 0 || n.in_shape(0)?.len() != 2 {
        return Err(n.err("transA and non-2-D inputs are not supported"));
    }
    let b = n.konst(1).ok_or_else(|| n.err("B must be constant"))?;
    let b = to_f32(&b).and_then(|b| Ok(b.into_dimensionality::<Ix2>()?)).map_err(|e| n.err(e.to_string()))?;
    let w = if n.attr_or::<i64>("transB", 0)? != 0 { b } else { b.t().to_owned() };
    let w = w.mapv(|v| v * alpha);
    let features = w.shape()[0];
    let name = n.name.clone();
    n.add_operand(&format!("{name}.weight"), w.into_dyn());
    if let Some(c) = n.const_input(2, "C must be constant")? {
        let c: Vec<f32> = to_f32(&c).map_err(|e| n.err(e.to_string()))?.iter().map(|v| v * beta).collect();
        let c = if c.len() == 1 { vec![c[0]; features] } else { c };
        if c.len() != features {
            return Err(n.err("C must broadcast along the output features"));
        }
        n.add_operand(&format!("{name}.bias"), Array1::from(c).into_dyn());
    }
    Ok(Op::FullyConnected { act: Activation::None })
}

pub(super) fn average_pool(n: &mut OnnxNode<'_>) -> Result<Op> {
    pool(n, PoolKind::Avg)
}

pub(super) fn max_pool(n: &mut OnnxNode<'_>) -> Result<Op> {
    pool(n, PoolKind::Max)
}

/// 2-D pooling of a 4-D NCHW input, undilated.
fn pool(n: &OnnxNode<'_>, kind: PoolKind) -> Result<Op> {
    let x = n.in_shape(0)?;
    if x.len() != 4 {
        return Err(n.err("only 2-D pooling (4-D NCHW input) is supported"));
    }
    let kernel = ints2(n, "kernel_shape", 0)?;
    let stride = ints2(n, "strides", 1)?;
    let dilation = ints2(n, "dilations", 1)?;
    if dilation != [1, 1] {
        return Err(n.err("dilated pooling is not supported"));
    }
    let pads = window_pads(n, [x[2], x[3]], kernel, stride, dilation)?;
    let count_include_pad = n.attr_or::<i64>("count_include_pad", 0)? != 0;
    Ok(Op::Pool { kind, kernel, stride, pads, count_include_pad, act: Activation::None })
}

pub(super) fn global_average_pool(n: &mut OnnxNode<'_>) -> Result<Op> {
    if n.rank != 4 {
        return Err(n.err("only 4-D NCHW input is supported"));
    }
    Ok(Op::GlobalAvgPool { act: Activation::None })
}

/// Softmax over one axis (opset 13's default, the last), which must be the innermost one that
/// is not 1.
pub(super) fn softmax(n: &mut OnnxNode<'_>) -> Result<Op> {
    let axis = n.axis(n.attr_or::<i64>("axis", -1)?, n.rank)?;
    if axis != n.rank - 1 && n.in_shape(0)?[axis + 1..].iter().any(|&d| d != 1) {
        return Err(n.err("Softmax is supported over the innermost non-unit axis only"));
    }
    Ok(Op::Softmax { axis })
}

/// A two-element integer attribute (`strides`, `dilations`, `kernel_shape`), `default` if absent.
fn ints2(n: &OnnxNode<'_>, attr: &str, default: usize) -> Result<[usize; 2]> {
    match n.attr_vec::<i64>(attr)? {
        None if default > 0 => Ok([default; 2]),
        Some(v) if v.len() == 2 && v.iter().all(|&x| x > 0) => Ok([v[0] as usize, v[1] as usize]),
        _ => Err(n.err(format!("attribute {attr} must hold two positive values"))),
    }
}

/// `[top, left, bottom, right]` from `pads` / `auto_pad` for a window over `input` (H, W) that
/// gives the node's output, widened at the end where ceil mode (or SAME padding) makes the
/// output larger than the floor formula gives.
fn window_pads(n: &OnnxNode<'_>, input: [usize; 2], kernel: [usize; 2], stride: [usize; 2], dilation: [usize; 2]) -> Result<[usize; 4]> {
    let output = [n.out_shape[2], n.out_shape[3]];
    let auto = n.attr_or::<&str>("auto_pad", "NOTSET")?;
    let span = |i: usize| dilation[i] * (kernel[i] - 1) + 1;
    let mut pads = [0usize; 4];
    if auto == "NOTSET" {
        if let Some(p) = n.attr_vec::<i64>("pads")? {
            if p.len() != 4 || p.iter().any(|&v| v < 0) {
                return Err(n.err("pads must hold four non-negative values"));
            }
            pads = [p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize];
        }
    } else if auto == "SAME_UPPER" || auto == "SAME_LOWER" {
        for i in 0..2 {
            let total = ((output[i] - 1) * stride[i] + span(i)).saturating_sub(input[i]);
            let small = total / 2;
            let (begin, end) = if auto == "SAME_UPPER" { (small, total - small) } else { (total - small, small) };
            pads[i] = begin;
            pads[i + 2] = end;
        }
    } else if auto != "VALID" {
        return Err(n.err(format!("auto_pad {auto} is not supported")));
    }
    for i in 0..2 {
        let out = |pads: &[usize; 4]| (input[i] + pads[i] + pads[i + 2]).saturating_sub(span(i)) / stride[i] + 1;
        while out(&pads) < output[i] {
            pads[i + 2] += 1;
        }
    }
    Ok(pads)
}
