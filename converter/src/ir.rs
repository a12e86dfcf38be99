//! The converter's graph: ONNX semantics (logical NCHW layouts, ONNX attribute meanings) after
//! constant folding, before layout assignment and lowering to the Mote format.

use std::collections::HashMap;
use std::sync::Arc;

use mote_runtime::ops::{Activation, BinaryOp, CoordTransform, PoolKind, ResizeMode, UnaryOp};
use mote_runtime::quant::QParams;
use tract_onnx::prelude::tract_ndarray::ArrayD;
use tract_onnx::prelude::{IntoTensor, Tensor as TractTensor, TractResult};

/// Index of a tensor in [`Graph::tensors`].
pub type Tid = usize;

#[derive(Clone, Debug)]
pub struct Tensor {
    pub name: String,
    /// Logical (ONNX) shape.
    pub shape: Vec<usize>,
    /// The value of a constant (weights, folded shape arithmetic), in its ONNX dtype.
    pub value: Option<Arc<TractTensor>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// NCHW input, OIHW weights, optional bias. `pads` = `[top, left, bottom, right]`.
    Conv { stride: [usize; 2], dilation: [usize; 2], pads: [usize; 4], group: usize, act: Activation },
    /// `x [.., k]` times constant `w [n, k]` (already transposed), optional bias `[n]`.
    FullyConnected { act: Activation },
    /// `x · w` with `w [k, n]` (ONNX MatMul), before the pass that makes it FullyConnected.
    MatMul,
    Binary { op: BinaryOp, act: Activation },
    /// Inputs x, scale, bias, mean, var (all but x constant).
    BatchNorm { epsilon: f32 },
    Pool { kind: PoolKind, kernel: [usize; 2], stride: [usize; 2], pads: [usize; 4], count_include_pad: bool, act: Activation },
    GlobalAvgPool { act: Activation },
    Unary(UnaryOp),
    Softmax { axis: usize },
    Concat { axis: usize },
    /// Per-axis begin and positive step over the logical axes.
    Slice { begin: Vec<usize>, step: Vec<usize> },
    Reshape,
    Transpose { perm: Vec<usize> },
    Pad { before: Vec<usize>, after: Vec<usize>, value: f32 },
    Resize { mode: ResizeMode, coord: CoordTransform },
    Identity,
}

#[derive(Clone, Debug)]
pub struct Node {
    /// The ONNX node name (or its first output's name).
    pub name: String,
    pub op: Op,
    pub inputs: Vec<Tid>,
    pub output: Tid,
}

#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub tensors: Vec<Tensor>,
    pub nodes: Vec<Node>,
    pub inputs: Vec<Tid>,
    pub outputs: Vec<Tid>,
    /// The ONNX names of the graph outputs (passes may point `outputs` at other tensors).
    pub output_names: Vec<String>,
    /// int8 parameters an already-quantized (QDQ) model gives its activations.
    pub qdq: HashMap<Tid, QParams>,
}

impl Graph {
    pub fn add_tensor(&mut self, name: &str, shape: Vec<usize>, value: Option<Arc<TractTensor>>) -> Tid {
        self.tensors.push(Tensor { name: name.to_string(), shape, value });
        self.tensors.len() - 1
    }

    /// A constant holding `value` (f32).
    pub fn add_const(&mut self, name: &str, value: ArrayD<f32>) -> Tid {
        let shape = value.shape().to_vec();
        self.add_tensor(name, shape, Some(Arc::new(value.into_tensor())))
    }

    /// Constant `t`'s values as f32.
    pub fn const_f32(&self, t: Tid) -> TractResult<ArrayD<f32>> {
        let v = self.tensors[t].value.as_ref().ok_or_else(|| anyhow::anyhow!("tensor {} is not constant", self.tensors[t].name))?;
        to_f32(v)
    }

    pub fn is_const(&self, t: Tid) -> bool {
        self.tensors[t].value.is_some()
    }

    /// Nodes reading tensor `t`, plus one per graph output slot it fills.
    pub fn consumers(&self, t: Tid) -> usize {
        self.nodes.iter().map(|n| n.inputs.iter().filter(|&&i| i == t).count()).sum::<usize>()
            + self.outputs.iter().filter(|&&o| o == t).count()
    }

    /// The node producing `t`, if any.
    pub fn producer(&self, t: Tid) -> Option<usize> {
        self.nodes.iter().position(|n| n.output == t)
    }
}

/// A tract tensor's values converted to f32.
pub fn to_f32(t: &TractTensor) -> TractResult<ArrayD<f32>> {
    Ok(t.cast_to::<f32>()?.to_plain_array_view::<f32>()?.to_owned())
}
