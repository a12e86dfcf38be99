//! The oracle: the same runtime on the host, on the same input.

use mote_runtime::format::writer::AlignedBytes;
use mote_runtime::ops::OpCode;
use mote_runtime::{DType, Interpreter, Model};

use crate::{HilError, Result};

/// What the host computed for one model and one input.
#[derive(Clone, Debug)]
pub struct Reference {
    /// The raw bytes of the graph input as the interpreter holds them (quantized if it is int8):
    /// exactly what the guest receives.
    pub input: Vec<u8>,
    /// The raw bytes of every graph output.
    pub outputs: Vec<Vec<u8>>,
    pub output_dtypes: Vec<DType>,
    pub arena_bytes: usize,
    /// Every op with its output shape and multiply-accumulates, for the per-layer report.
    pub ops: Vec<(OpCode, Vec<u32>, u64)>,
    /// `int8` when any tensor is int8, else `f32`.
    pub kind: &'static str,
}

/// Runs `model` once on `input` (real values, quantized if the model's input is int8).
pub fn reference(what: &str, model: &[u8], input: &[f32]) -> Result<Reference> {
    let fail = |reason: String| HilError::Host { what: what.to_string(), reason };
    let bytes = AlignedBytes::new(model);
    let m = Model::from_bytes(bytes.as_bytes()).map_err(|e| fail(format!("model rejected: {e}")))?;
    if m.inputs().len() != 1 {
        return Err(fail(format!("{} graph inputs; the matrix feeds models with one", m.inputs().len())));
    }
    let mut arena = vec![0u8; m.arena_bytes() + 16];
    let mut it = Interpreter::new(&m, &mut arena).map_err(|e| fail(e.to_string()))?;
    it.set_input_f32(0, input).map_err(|e| fail(format!("input: {e}")))?;
    let input = match it.input(0).map_err(|e| fail(e.to_string()))?.dtype {
        DType::F32 => it.input_f32_mut(0).map_err(|e| fail(e.to_string()))?.iter().flat_map(|v| v.to_le_bytes()).collect(),
        DType::I8 => it.input_i8_mut(0).map_err(|e| fail(e.to_string()))?.iter().map(|&v| v as u8).collect(),
        DType::I32 => return Err(fail("an i32 graph input".into())),
    };
    it.invoke().map_err(|e| fail(format!("invoke: {e}")))?;
    let mut outputs = Vec::new();
    let mut output_dtypes = Vec::new();
    for index in 0..m.outputs().len() {
        outputs.push(it.output_bytes(index).map_err(|e| fail(e.to_string()))?.to_vec());
        output_dtypes.push(it.output(index).map_err(|e| fail(e.to_string()))?.dtype);
    }
    let ops = m
        .ops()
        .map(|op| {
            let dims = m.tensor(op.output).map(|t| t.shape.dims().to_vec()).unwrap_or_default();
            (op.kind.code(), dims, mote_runtime::ops::macs(&m, &op))
        })
        .collect();
    let int8 = (0..m.tensor_count()).any(|id| m.tensor(id as mote_runtime::TensorId).is_some_and(|t| t.dtype == DType::I8));
    let kind = if int8 { "int8" } else { "f32" };
    Ok(Reference { input, outputs, output_dtypes, arena_bytes: m.arena_bytes(), ops, kind })
}
