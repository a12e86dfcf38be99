//! Lowering the logical graph to a Mote model: layout assignment and emission through the
//! runtime's `ModelBuilder` (which plans the arena and validates the file).
//!
//! # Layout
//! Mote's spatial kernels are NHWC; ONNX is NCHW. Every tensor gets a *physical order*: a
//! permutation `p` where physical axis `i` holds logical axis `p[i]`. Graph inputs and outputs
//! are row-major in their logical order. Conv, Pool, GlobalAvgPool and Resize want their input
//! in NHWC order (`[0, 2, 3, 1]` of NCHW) and produce NHWC. Elementwise and axis ops (Concat,
//! Slice, Pad, Softmax) work in whatever order their input has, with axes and constants
//! permuted to match. A Transpose never moves data: its output takes the physical order that
//! makes its bytes equal to its input's. A real transpose is emitted only where an op needs
//! another order than it gets (Reshape and FullyConnected need row-major). The NHWC↔NCHW pairs
//! that exporters like tf2onnx insert therefore cost nothing.

use std::collections::HashMap;

use mote_runtime::format::writer::ModelBuilder;
use mote_runtime::ops::OpKind;
use mote_runtime::tensor::Quant;
use mote_runtime::{DType, TensorId};
use tract_onnx::prelude::tract_ndarray::{ArrayD, IxDyn};

use crate::error::{node_err, ConvertError, Result};
use crate::ir::{Graph, Op, Tid};

const NHWC: [usize; 4] = [0, 2, 3, 1];

fn identity(rank: usize) -> Vec<usize> {
    (0..rank).collect()
}

fn physical(shape: &[usize], order: &[usize]) -> Vec<u32> {
    order.iter().map(|&a| shape[a] as u32).collect()
}

fn hv<T: Copy, const N: usize>(v: &[T]) -> heapless::Vec<T, N> {
    heapless::Vec::from_slice(v).unwrap_or_default()
}

struct Lowering<'g> {
    g: &'g Graph,
    b: ModelBuilder,
    /// IR tensor → (Mote tensor in a given physical order). A tensor may exist in several orders.
    placed: HashMap<(Tid, Vec<usize>), TensorId>,
    /// The order each activation was produced in.
    order: HashMap<Tid, Vec<usize>>,
    fresh: usize,
}

impl Lowering<'_> {
    fn build_err(e: impl std::fmt::Display) -> ConvertError {
        ConvertError::Build(e.to_string())
    }

    fn name(&mut self, t: Tid, suffix: &str) -> String {
        self.fresh += 1;
        if suffix.is_empty() {
            self.g.tensors[t].name.clone()
        } else {
            format!("{}:{suffix}{}", self.g.tensors[t].name, self.fresh)
        }
    }

    fn value(&self, t: Tid) -> Result<ArrayD<f32>> {
        let v = self.g.tensors[t].value.as_ref().ok_or_else(|| ConvertError::Build(format!("{} is not constant", self.g.tensors[t].name)))?;
        Ok(v.cast_to::<f32>().map_err(Self::build_err)?.to_plain_array_view::<f32>().map_err(Self::build_err)?.to_owned())
    }

    /// A constant, left-padded with unit axes to `rank` and stored in physical `order`.
    fn constant(&mut self, t: Tid, rank: usize, order: &[usize]) -> Result<TensorId> {
        if let Some(&id) = self.placed.get(&(t, order.to_vec())) {
            return Ok(id);
        }
        let v = self.value(t)?;
        let mut shape = vec![1usize; rank.saturating_sub(v.ndim())];
        shape.extend_from_slice(v.shape());
        let v = v.into_shape_with_order(IxDyn(&shape)).map_err(Self::build_err)?;
        let v = v.permuted_axes(IxDyn(order)).as_standard_layout().to_owned();
        let data: Vec<f32> = v.iter().copied().collect();
        let dims: Vec<u32> = v.shape().iter().map(|&d| d as u32).collect();
        let name = self.name(t, "");
        let id = self.b.constant_f32(&name, &dims, &data).map_err(Self::build_err)?;
        self.placed.insert((t, order.to_vec()), id);
        Ok(id)
    }

    /// Activation `t` in physical `order`, inserting a transpose if it was produced in another.
    fn get(&mut self, t: Tid, order: &[usize]) -> Result<TensorId> {
        if self.g.is_const(t) {
            return self.constant(t, order.len(), order);
        }
        if let Some(&id) = self.placed.get(&(t, order.to_vec())) {
            return Ok(id);
        }
        let have = self.order.get(&t).cloned().ok_or_else(|| ConvertError::Build(format!("{} used before it is computed", self.g.tensors[t].name)))?;
        let src = self.placed[&(t, have.clone())];
        let perm: Vec<u8> = order.iter().map(|a| have.iter().position(|h| h == a).unwrap_or(0) as u8).collect();
        let name = self.name(t, "transposed");
        let shape = &self.g.tensors[t].shape;
        let dims = physical(shape, order);
        let id = self.b.activation(&name, DType::F32, &dims, Quant::None).map_err(Self::build_err)?;
        // Moving only unit axes keeps the bytes: a Reshape, which runs in place.
        let moved: Vec<usize> = perm.iter().map(|&p| have[p as usize]).filter(|&a| shape[a] != 1).collect();
        let kept: Vec<usize> = have.iter().copied().filter(|&a| shape[a] != 1).collect();
        let kind = if moved == kept { OpKind::Reshape } else { OpKind::Transpose { perm: hv(&perm) } };
        self.b.op(kind, &[src], id).map_err(Self::build_err)?;
        self.placed.insert((t, order.to_vec()), id);
        Ok(id)
    }

    fn order_of(&self, t: Tid) -> Vec<usize> {
        self.order.get(&t).cloned().unwrap_or_else(|| identity(self.g.tensors[t].shape.len()))
    }

    fn output(&mut self, t: Tid, order: Vec<usize>) -> Result<TensorId> {
        let name = self.name(t, "");
        let dims = physical(&self.g.tensors[t].shape, &order);
        let id = self.b.activation(&name, DType::F32, &dims, Quant::None).map_err(Self::build_err)?;
        self.placed.insert((t, order.clone()), id);
        self.order.insert(t, order);
        Ok(id)
    }

    fn emit(&mut self, kind: OpKind, inputs: &[TensorId], out: TensorId) -> Result<()> {
        self.b.op(kind, inputs, out).map_err(Self::build_err)
    }
}

/// Writes `g` as an f32 Mote model.
pub fn lower_f32(g: &Graph, name: &str, sha256: [u8; 32]) -> Result<Vec<u8>> {
    let mut l = Lowering { g, b: ModelBuilder::new(name), placed: HashMap::new(), order: HashMap::new(), fresh: 0 };
    l.b.source_sha256(sha256).converter_version(concat!("mote-converter ", env!("CARGO_PKG_VERSION")));
    for &t in &g.inputs {
        let shape = &g.tensors[t].shape;
        let dims: Vec<u32> = shape.iter().map(|&d| d as u32).collect();
        let id = l.b.input(&g.tensors[t].name, DType::F32, &dims, Quant::None).map_err(Lowering::build_err)?;
        l.placed.insert((t, identity(shape.len())), id);
        l.order.insert(t, identity(shape.len()));
    }
    for node in &g.nodes {
        let err = |r: &str| node_err(&node.name, &format!("{:?}", node.op).split([' ', '(', '{']).next().unwrap_or("?").to_string(), r);
        let out_rank = g.tensors[node.output].shape.len();
        match &node.op {
            Op::Conv { stride, dilation, pads, group, act } => {
                let x = l.get(node.inputs[0], &NHWC)?;
                let w = l.constant(node.inputs[1], 4, &NHWC)?;
                let mut ins = vec![x, w];
                if let Some(&b) = node.inputs.get(2) {
                    ins.push(l.constant(b, 1, &[0])?);
                }
                let y = l.output(node.output, NHWC.to_vec())?;
                let p = |v: usize| v as u16;
                let kind = OpKind::Conv2d {
                    stride: [p(stride[0]), p(stride[1])],
                    dilation: [p(dilation[0]), p(dilation[1])],
                    pad: [p(pads[0]), p(pads[1]), p(pads[2]), p(pads[3])],
                    groups: *group as u32,
                    act: *act,
                };
                l.emit(kind, &ins, y)?;
            }
            Op::FullyConnected { act } => {
                let x = l.get(node.inputs[0], &identity(g.tensors[node.inputs[0]].shape.len()))?;
                let w = l.constant(node.inputs[1], 2, &[0, 1])?;
                let mut ins = vec![x, w];
                if let Some(&b) = node.inputs.get(2) {
                    ins.push(l.constant(b, 1, &[0])?);
                }
                let y = l.output(node.output, identity(out_rank))?;
                l.emit(OpKind::FullyConnected { act: *act }, &ins, y)?;
            }
            Op::Binary { op, act } => {
                let full = |t: Tid| !g.is_const(t) && g.tensors[t].shape.len() == out_rank;
                let order = node.inputs.iter().find(|&&t| full(t)).map(|&t| l.order_of(t)).unwrap_or_else(|| identity(out_rank));
                let mut ins = vec![];
                for &t in &node.inputs {
                    if !g.is_const(t) && g.tensors[t].shape.len() != out_rank {
                        return Err(err("broadcasting an activation of lower rank is not supported"));
                    }
                    ins.push(l.get(t, &order)?);
                }
                let y = l.output(node.output, order)?;
                l.emit(OpKind::Binary { op: *op, act: *act, quant: None }, &ins, y)?;
            }
            Op::Pool { kind, kernel, stride, pads, count_include_pad, act } => {
                let x = l.get(node.inputs[0], &NHWC)?;
                let y = l.output(node.output, NHWC.to_vec())?;
                let p = |v: usize| v as u16;
                let kind = OpKind::Pool2d {
                    kind: *kind,
                    kernel: [p(kernel[0]), p(kernel[1])],
                    stride: [p(stride[0]), p(stride[1])],
                    pad: [p(pads[0]), p(pads[1]), p(pads[2]), p(pads[3])],
                    count_include_pad: *count_include_pad,
                    act: *act,
                };
                l.emit(kind, &[x], y)?;
            }
            Op::GlobalAvgPool { act } => {
                let x = l.get(node.inputs[0], &NHWC)?;
                let y = l.output(node.output, NHWC.to_vec())?;
                l.emit(OpKind::GlobalAvgPool { act: *act }, &[x], y)?;
            }
            Op::Resize { mode, coord } => {
                let x = l.get(node.inputs[0], &NHWC)?;
                let y = l.output(node.output, NHWC.to_vec())?;
                l.emit(OpKind::Resize { mode: *mode, coord: *coord }, &[x], y)?;
            }
            Op::Unary(u) => {
                let order = l.order_of(node.inputs[0]);
                let x = l.get(node.inputs[0], &order)?;
                let y = l.output(node.output, order)?;
                l.emit(OpKind::Unary { op: *u }, &[x], y)?;
            }
            Op::Softmax { axis } => {
                let order = l.order_of(node.inputs[0]);
                let order = if order.last() == Some(axis) { order } else { identity(out_rank) };
                if order.last() != Some(axis) {
                    return Err(err("Softmax over an axis followed by unit axes is not supported yet"));
                }
                let x = l.get(node.inputs[0], &order)?;
                let y = l.output(node.output, order)?;
                l.emit(OpKind::Softmax { beta: 1.0, out_inv_q16: 0 }, &[x], y)?;
            }
            Op::Concat { axis } => {
                let first = node.inputs.iter().find(|&&t| !g.is_const(t)).copied().unwrap_or(node.inputs[0]);
                let order = l.order_of(first);
                let ins = node.inputs.iter().map(|&t| l.get(t, &order)).collect::<Result<Vec<_>>>()?;
                let phys_axis = order.iter().position(|a| a == axis).unwrap_or(0) as u8;
                let y = l.output(node.output, order)?;
                l.emit(OpKind::Concat { axis: phys_axis }, &ins, y)?;
            }
            Op::Slice { begin, step } => {
                let order = l.order_of(node.inputs[0]);
                let x = l.get(node.inputs[0], &order)?;
                let b: Vec<u32> = order.iter().map(|&a| begin[a] as u32).collect();
                let s: Vec<u32> = order.iter().map(|&a| step[a] as u32).collect();
                let y = l.output(node.output, order)?;
                l.emit(OpKind::Slice { begin: hv(&b), step: hv(&s) }, &[x], y)?;
            }
            Op::Pad { before, after, value } => {
                let order = l.order_of(node.inputs[0]);
                let x = l.get(node.inputs[0], &order)?;
                let b: Vec<u32> = order.iter().map(|&a| before[a] as u32).collect();
                let a: Vec<u32> = order.iter().map(|&a| after[a] as u32).collect();
                let y = l.output(node.output, order)?;
                l.emit(OpKind::Pad { before: hv(&b), after: hv(&a), value: *value }, &[x], y)?;
            }
            Op::Reshape => {
                let x = l.get(node.inputs[0], &identity(g.tensors[node.inputs[0]].shape.len()))?;
                let y = l.output(node.output, identity(out_rank))?;
                l.emit(OpKind::Reshape, &[x], y)?;
            }
            Op::Transpose { perm } => {
                let have = l.order_of(node.inputs[0]);
                let x = l.get(node.inputs[0], &have)?;
                let mut inverse = vec![0; perm.len()];
                for (j, &p) in perm.iter().enumerate() {
                    inverse[p] = j;
                }
                let order: Vec<usize> = have.iter().map(|&a| inverse[a]).collect();
                l.placed.insert((node.output, order.clone()), x);
                l.order.insert(node.output, order);
            }
            Op::Identity => {
                let order = l.order_of(node.inputs[0]);
                let x = l.get(node.inputs[0], &order)?;
                l.placed.insert((node.output, order.clone()), x);
                l.order.insert(node.output, order);
            }
            Op::MatMul | Op::BatchNorm { .. } => return Err(err("internal: left for the graph passes")),
        }
    }
    for &t in &g.outputs {
        let id = l.get(t, &identity(g.tensors[t].shape.len()))?;
        l.b.output(id);
    }
    l.b.finish().map_err(|e| ConvertError::Build(e.to_string()))
}
