//! Elementwise operators: the activations Relu, Sigmoid, Exp and Clip, and the broadcasting
//! binary operators Add, Sub, Mul and Div (ONNX operator specification, opset 11–13).

use mote_runtime::ops::{Activation, BinaryOp, UnaryOp};

use super::OnnxNode;
use crate::error::Result;
use crate::ir::Op;

pub(super) fn relu(_: &mut OnnxNode<'_>) -> Result<Op> {
    Ok(Op::Unary(UnaryOp::Relu))
}

pub(super) fn sigmoid(_: &mut OnnxNode<'_>) -> Result<Op> {
    Ok(Op::Unary(UnaryOp::Sigmoid))
}

pub(super) fn exp(_: &mut OnnxNode<'_>) -> Result<Op> {
    Ok(Op::Unary(UnaryOp::Exp))
}

/// `min(max(x, lo), hi)` with constant bounds (inputs since opset 11, attributes before; an
/// absent bound is open). `[0, ∞)` is a Relu and `[0, 6]` a Relu6.
pub(super) fn clip(n: &mut OnnxNode<'_>) -> Result<Op> {
    let bound = |i: usize, attr: &str, default: f32| -> Result<f32> {
        match n.const_input(i, "bounds must be constant")? {
            Some(t) => n.scalar::<f32>(&t),
            None => n.attr_or::<f32>(attr, default),
        }
    };
    let (lo, hi) = (bound(1, "min", f32::NEG_INFINITY)?, bound(2, "max", f32::INFINITY)?);
    Ok(match (lo, hi) {
        (0.0, f32::INFINITY) => Op::Unary(UnaryOp::Relu),
        (0.0, 6.0) => Op::Unary(UnaryOp::Relu6),
        _ => Op::Unary(UnaryOp::Clip { lo, hi }),
    })
}

fn binary(op: BinaryOp) -> Result<Op> {
    Ok(Op::Binary { op, act: Activation::None })
}

pub(super) fn add(_: &mut OnnxNode<'_>) -> Result<Op> {
    binary(BinaryOp::Add)
}

pub(super) fn sub(_: &mut OnnxNode<'_>) -> Result<Op> {
    binary(BinaryOp::Sub)
}

pub(super) fn mul(_: &mut OnnxNode<'_>) -> Result<Op> {
    binary(BinaryOp::Mul)
}

pub(super) fn div(_: &mut OnnxNode<'_>) -> Result<Op> {
    binary(BinaryOp::Div)
}
