//! QuantizeLinear and DequantizeLinear (ONNX operator specification, opset 10–13), as ONNX
//! Runtime's quantizer writes them around activations: a QDQ pair is the identity in float,
//! and its scale and zero point become the tensor's int8 parameters (uint8 ones shifted by 128).
//! Weights behind a DequantizeLinear are constants that tract folds before the importer sees
//! them.

use mote_runtime::quant::QParams;
use tract_onnx::prelude::*;

use super::OnnxNode;
use crate::error::Result;
use crate::ir::Op;

pub(super) fn quantize_linear(n: &mut OnnxNode<'_>) -> Result<Op> {
    // Without a zero-point input, QuantizeLinear's output type is uint8.
    qdq(n, true)
}

pub(super) fn dequantize_linear(n: &mut OnnxNode<'_>) -> Result<Op> {
    qdq(n, false)
}

/// The first QDQ node on a tensor sets its parameters; the output shares them.
fn qdq(n: &mut OnnxNode<'_>, unsigned_without_zero_point: bool) -> Result<Op> {
    let x = n.input(0)?;
    if !n.graph.qdq.contains_key(&x) {
        let scale = n.konst(1).ok_or_else(|| n.err("the scale must be constant"))?;
        if scale.len() != 1 {
            return Err(n.err("per-axis quantization of an activation is not supported"));
        }
        let scale = n.scalar::<f32>(&scale)?;
        let (zero_point, unsigned) = match n.konst(2) {
            Some(z) => (n.scalar::<i32>(&z)?, z.datum_type() == u8::datum_type()),
            None => (0, unsigned_without_zero_point),
        };
        let zero_point = if unsigned { zero_point - 128 } else { zero_point };
        if !(scale.is_finite() && scale > 0.0 && (-128..=127).contains(&zero_point)) {
            return Err(n.err("invalid scale or zero point"));
        }
        n.graph.qdq.insert(x, QParams { scale, zero_point });
    }
    n.output_qparams = n.graph.qdq.get(&x).copied();
    Ok(Op::Identity)
}
