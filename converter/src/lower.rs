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
//!
//! # int8
//! With a [`QuantPlan`], every node the plan marks int8 runs Mote's int8 kernel: weights become
//! symmetric int8 (per output channel unless the plan asks per tensor), biases int32 at scale
//! `s_x · s_w[c]`, and the requantization multipliers, lookup tables and binary-op constants
//! are computed here, once, so the device does no float math. Every one of those numbers comes
//! from a function of `mote_runtime` (`quant`, the kernels' `BinaryQuant` and `build_lut_i8`),
//! which states its rounding: the converter only decides which tensor gets which. Where an
//! int8 tensor meets a float node (or the reverse) a Dequantize (Quantize) is inserted, once
//! per tensor.

use std::collections::HashMap;

use mote_runtime::format::writer::ModelBuilder;
use mote_runtime::format::Layout;
use mote_runtime::ops::unary::build_lut_i8;
use mote_runtime::ops::BinaryQuant;
use mote_runtime::ops::OpKind;
use mote_runtime::quant::{activation_qparams, quantize_bias, quantize_weights, requant_multiplier, QParams};
use mote_runtime::tensor::Quant;
use mote_runtime::{DType, TensorId};
use tract_onnx::prelude::tract_ndarray::IxDyn;

use crate::error::{build_err, node_err, ConvertError, Result};
use crate::ir::{Graph, Op, Tid};
use crate::quantize::QuantPlan;
use crate::target::Packing;

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

/// A written model and, for every IR tensor an op computes, the Mote tensor that holds it in
/// the order and dtype it was produced (what calibration and per-layer evaluation read).
pub struct Lowered {
    pub bytes: Vec<u8>,
    pub produced: Vec<(TensorId, Tid)>,
}

struct Lowering<'g> {
    g: &'g Graph,
    plan: Option<&'g QuantPlan>,
    b: ModelBuilder,
    /// (IR tensor, physical order, dtype) → Mote tensor. A tensor may exist in several.
    placed: HashMap<(Tid, Vec<usize>, DType), TensorId>,
    /// The order and dtype each activation was produced in.
    produced: HashMap<Tid, (Vec<usize>, DType)>,
    written: Vec<(TensorId, Tid)>,
    fresh: usize,
    /// The weight layouts this lowering may choose, and the bytes packing has added so far.
    packing: Packing,
    packed_bytes: u64,
}

impl Lowering<'_> {
    fn name(&mut self, t: Tid, suffix: &str) -> String {
        self.fresh += 1;
        if suffix.is_empty() {
            self.g.tensors[t].name.clone()
        } else {
            format!("{}:{suffix}{}", self.g.tensors[t].name, self.fresh)
        }
    }

    /// A constant's values left-padded with unit axes to `rank`, in physical `order`.
    fn const_values(&self, t: Tid, rank: usize, order: &[usize]) -> Result<(Vec<u32>, Vec<f32>)> {
        let v = self.g.const_f32(t).map_err(build_err)?;
        let mut shape = vec![1usize; rank.saturating_sub(v.ndim())];
        shape.extend_from_slice(v.shape());
        let v = v.into_shape_with_order(IxDyn(&shape)).map_err(build_err)?;
        let v = v.permuted_axes(IxDyn(order)).as_standard_layout().to_owned();
        Ok((v.shape().iter().map(|&d| d as u32).collect(), v.iter().copied().collect()))
    }

    fn constant(&mut self, t: Tid, rank: usize, order: &[usize]) -> Result<TensorId> {
        if let Some(&id) = self.placed.get(&(t, order.to_vec(), DType::F32)) {
            return Ok(id);
        }
        let (dims, data) = self.const_values(t, rank, order)?;
        let name = self.name(t, "");
        let id = self.b.constant_f32(&name, &dims, &data).map_err(build_err)?;
        self.placed.insert((t, order.to_vec(), DType::F32), id);
        Ok(id)
    }

    /// A constant operand of an int8 elementwise op, quantized with `q` (its own range, or the
    /// shared parameters of a Concat).
    fn constant_i8(&mut self, t: Tid, rank: usize, order: &[usize], q: QParams) -> Result<TensorId> {
        let (dims, data) = self.const_values(t, rank, order)?;
        let data: Vec<i8> = data.iter().map(|&v| q.quantize(v)).collect();
        let name = self.name(t, "q");
        self.b.constant_i8(&name, &dims, Quant::PerTensor { scale: q.scale, zero_point: q.zero_point }, &data).map_err(build_err)
    }

    fn const_range(&self, t: Tid) -> Result<QParams> {
        let v = self.g.const_f32(t).map_err(build_err)?;
        let (lo, hi) = v.iter().fold((0f32, 0f32), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        Ok(activation_qparams(lo, hi))
    }

    fn qparams(&self, t: Tid) -> Result<QParams> {
        self.plan
            .and_then(|p| p.params.get(&t).copied())
            .ok_or_else(|| ConvertError::Build(format!("no quantization parameters for tensor {}", self.g.tensors[t].name)))
    }

    fn quant(&self, t: Tid, dtype: DType) -> Result<Quant> {
        Ok(match dtype {
            DType::I8 => {
                let q = self.qparams(t)?;
                Quant::PerTensor { scale: q.scale, zero_point: q.zero_point }
            }
            _ => Quant::None,
        })
    }

    /// Activation (or constant) `t` in physical `order` and `dtype`, converting its type and
    /// then its order from what was produced, each at most once per tensor.
    fn get(&mut self, t: Tid, order: &[usize], dtype: DType) -> Result<TensorId> {
        if self.g.is_const(t) {
            return self.constant(t, order.len(), order);
        }
        if let Some(&id) = self.placed.get(&(t, order.to_vec(), dtype)) {
            return Ok(id);
        }
        let (have, have_dtype) =
            self.produced.get(&t).cloned().ok_or_else(|| ConvertError::Build(format!("{} used before it is computed", self.g.tensors[t].name)))?;
        if have_dtype != dtype {
            let src = self.placed[&(t, have.clone(), have_dtype)];
            let name = self.name(t, if dtype == DType::I8 { "quantized" } else { "dequantized" });
            let dims = physical(&self.g.tensors[t].shape, &have);
            let quant = self.quant(t, dtype)?;
            let id = self.b.activation(&name, dtype, &dims, quant).map_err(build_err)?;
            let kind = if dtype == DType::I8 { OpKind::Quantize } else { OpKind::Dequantize };
            self.b.op(kind, &[src], id).map_err(build_err)?;
            self.placed.insert((t, have.clone(), dtype), id);
            if have == order {
                return Ok(id);
            }
        }
        let src = self.placed[&(t, have.clone(), dtype)];
        let perm: Vec<u8> = order.iter().map(|a| have.iter().position(|h| h == a).unwrap_or(0) as u8).collect();
        let name = self.name(t, "transposed");
        let shape = &self.g.tensors[t].shape;
        let dims = physical(shape, order);
        let quant = self.quant(t, dtype)?;
        let id = self.b.activation(&name, dtype, &dims, quant).map_err(build_err)?;
        // Moving only unit axes keeps the bytes: a Reshape, which runs in place.
        let moved: Vec<usize> = perm.iter().map(|&p| have[p as usize]).filter(|&a| shape[a] != 1).collect();
        let kept: Vec<usize> = have.iter().copied().filter(|&a| shape[a] != 1).collect();
        let kind = if moved == kept { OpKind::Reshape } else { OpKind::Transpose { perm: hv(&perm) } };
        self.b.op(kind, &[src], id).map_err(build_err)?;
        self.placed.insert((t, order.to_vec(), dtype), id);
        Ok(id)
    }

    fn order_of(&self, t: Tid) -> Vec<usize> {
        self.produced.get(&t).map(|p| p.0.clone()).unwrap_or_else(|| identity(self.g.tensors[t].shape.len()))
    }

    fn output(&mut self, t: Tid, order: Vec<usize>, dtype: DType) -> Result<TensorId> {
        let graph_output = self.g.outputs.iter().position(|&o| o == t).and_then(|i| self.g.output_names.get(i));
        let name = match graph_output {
            Some(n) if order == identity(order.len()) => n.clone(),
            _ => self.name(t, ""),
        };
        let dims = physical(&self.g.tensors[t].shape, &order);
        let quant = self.quant(t, dtype)?;
        let id = self.b.activation(&name, dtype, &dims, quant).map_err(build_err)?;
        self.placed.insert((t, order.clone(), dtype), id);
        self.produced.insert(t, (order, dtype));
        self.written.push((id, t));
        Ok(id)
    }

    /// Output `y` is the same tensor as `x` (a Transpose or Identity that moves no data).
    fn alias(&mut self, y: Tid, x_id: TensorId, order: Vec<usize>, dtype: DType) {
        self.placed.insert((y, order.clone(), dtype), x_id);
        self.produced.insert(y, (order, dtype));
    }

    fn emit(&mut self, kind: OpKind, inputs: &[TensorId], out: TensorId) -> Result<()> {
        self.b.op(kind, inputs, out).map_err(build_err)
    }

    /// The operands of a Conv or FullyConnected after its input `x`: f32 weights (and bias) in
    /// physical `order`, or for int8 [`weighted_i8`](Self::weighted_i8)'s three constants.
    fn weighted(&mut self, node: &crate::ir::Node, x: TensorId, order: &[usize], int8: bool) -> Result<Vec<TensorId>> {
        let bias = node.inputs.get(2).copied();
        if int8 {
            let fc = matches!(node.op, crate::ir::Op::FullyConnected { .. });
            let [w, b, r] = self.weighted_i8(node.inputs[1], bias, node.inputs[0], node.output, order, fc)?;
            return Ok(vec![x, w, b, r]);
        }
        let mut ins = vec![x, self.constant(node.inputs[1], order.len(), order)?];
        if let Some(b) = bias {
            ins.push(self.constant(b, 1, &[0])?);
        }
        Ok(ins)
    }

    /// Int8 weights (symmetric, axis 0 = output channel) in physical `order`, the int32 bias
    /// at scale `s_x · s_w[c]` and the requantization `s_x · s_w[c] / s_y` of a Conv or FC
    /// (`fc`, whose weights may be packed: [`Packing::fc_layout`]).
    fn weighted_i8(&mut self, w: Tid, bias: Option<Tid>, x: Tid, y: Tid, order: &[usize], fc: bool) -> Result<[TensorId; 3]> {
        let per_channel = !self.plan.is_some_and(|p| p.per_tensor_weights);
        let (dims, values) = self.const_values(w, order.len(), order)?;
        let channels = dims[0] as usize;
        let (mut scales, mut q) = (vec![0f32; channels], vec![0i8; values.len()]);
        quantize_weights(&values, per_channel, &mut scales, &mut q);
        let quant = if per_channel {
            Quant::PerChannel { axis: 0, scales: self.b.per_channel_scales(&scales) }
        } else {
            Quant::PerTensor { scale: scales[0], zero_point: 0 }
        };
        let name = self.name(w, "");
        let layout = match (fc, dims.as_slice()) {
            (true, &[n, k]) => self.packing.fc_layout(n as usize, k as usize, &mut self.packed_bytes),
            _ => Layout::Reference,
        };
        let w_id = self.b.constant_i8_packed(&name, &dims, quant, &q, layout).map_err(build_err)?;
        let (sx, sy) = (self.qparams(x)?.scale, self.qparams(y)?.scale);
        let b_values = match bias {
            Some(b) => self.const_values(b, 1, &[0])?.1,
            None => vec![0.0; channels],
        };
        let bias_q: Vec<i32> = b_values.iter().zip(&scales).map(|(&b, &s)| quantize_bias(b, sx, s)).collect();
        let name = format!("{}:bias", self.g.tensors[y].name);
        let b_id = match (fc && self.packing.fold_fc_bias, dims.as_slice()) {
            (true, &[_, k]) => self.b.constant_bias_folded(&name, Some(&bias_q), &q, k as usize, self.qparams(x)?.zero_point),
            _ => self.b.constant_i32(&name, &[channels as u32], &bias_q),
        }
        .map_err(build_err)?;
        let requant: Vec<i32> = scales
            .iter()
            .flat_map(|&s| {
                let r = requant_multiplier(sx, s, sy);
                [r.multiplier, r.shift]
            })
            .collect();
        let name = format!("{}:requant", self.g.tensors[y].name);
        let r_id = self.b.constant_i32(&name, &[channels as u32, 2], &requant).map_err(build_err)?;
        Ok([w_id, b_id, r_id])
    }
}

/// Writes `g` as a Mote model: all f32 without a plan, int8 where the plan says, int8 weights in
/// the layouts `packing` allows (the reference layout for [`Packing::REFERENCE`]).
pub fn lower(g: &Graph, name: &str, sha256: [u8; 32], plan: Option<&QuantPlan>, packing: Packing) -> Result<Lowered> {
    let mut l = Lowering {
        g,
        plan,
        b: ModelBuilder::new(name),
        placed: HashMap::new(),
        produced: HashMap::new(),
        written: vec![],
        fresh: 0,
        packing,
        packed_bytes: 0,
    };
    l.b.source_sha256(sha256).converter_version(concat!("mote-converter ", env!("CARGO_PKG_VERSION")));
    let int8 = |n: usize| plan.is_some_and(|p| p.int8_nodes.contains(&n));
    // Tensors already bound to a graph input or output: an output that is one of them is copied.
    let mut taken: Vec<TensorId> = vec![];
    for &t in &g.inputs {
        let shape = &g.tensors[t].shape;
        let dims: Vec<u32> = shape.iter().map(|&d| d as u32).collect();
        let consumers: Vec<usize> = g.nodes.iter().enumerate().filter(|(_, n)| n.inputs.contains(&t)).map(|(i, _)| i).collect();
        let dtype = if !consumers.is_empty() && consumers.iter().all(|&n| int8(n)) { DType::I8 } else { DType::F32 };
        let quant = l.quant(t, dtype)?;
        let id = l.b.input(&g.tensors[t].name, dtype, &dims, quant).map_err(build_err)?;
        taken.push(id);
        l.placed.insert((t, identity(shape.len()), dtype), id);
        l.produced.insert(t, (identity(shape.len()), dtype));
    }
    for (index, node) in g.nodes.iter().enumerate() {
        let err = |r: &str| node_err(&node.name, format!("{:?}", node.op).split([' ', '(', '{']).next().unwrap_or("?"), r);
        let out_rank = g.tensors[node.output].shape.len();
        let dt = if int8(index) { DType::I8 } else { DType::F32 };
        let i8 = dt == DType::I8;
        match &node.op {
            Op::Conv { stride, dilation, pads, group, act } => {
                let x = l.get(node.inputs[0], &NHWC, dt)?;
                let ins = l.weighted(node, x, &NHWC, i8)?;
                let y = l.output(node.output, NHWC.to_vec(), dt)?;
                let kind = OpKind::Conv2d {
                    stride: stride.map(|v| v as u16),
                    dilation: dilation.map(|v| v as u16),
                    pad: pads.map(|v| v as u16),
                    groups: *group as u32,
                    act: *act,
                };
                l.emit(kind, &ins, y)?;
            }
            Op::FullyConnected { act } => {
                let x = l.get(node.inputs[0], &identity(g.tensors[node.inputs[0]].shape.len()), dt)?;
                let ins = l.weighted(node, x, &[0, 1], i8)?;
                let y = l.output(node.output, identity(out_rank), dt)?;
                l.emit(OpKind::FullyConnected { act: *act }, &ins, y)?;
            }
            Op::Binary { op, act } => {
                let full = |t: Tid| !g.is_const(t) && g.tensors[t].shape.len() == out_rank;
                let order = node.inputs.iter().find(|&&t| full(t)).map(|&t| l.order_of(t)).unwrap_or_else(|| identity(out_rank));
                let mut ins = vec![];
                let mut qs = vec![];
                for &t in &node.inputs {
                    if !g.is_const(t) && g.tensors[t].shape.len() != out_rank {
                        return Err(err("broadcasting an activation of lower rank is not supported"));
                    }
                    if i8 && g.is_const(t) {
                        let q = l.const_range(t)?;
                        ins.push(l.constant_i8(t, out_rank, &order, q)?);
                        qs.push(q);
                    } else {
                        ins.push(l.get(t, &order, dt)?);
                        if i8 {
                            qs.push(l.qparams(t)?);
                        }
                    }
                }
                let quant = if i8 { Some(BinaryQuant::new(*op, qs[0], qs[1], l.qparams(node.output)?)) } else { None };
                let y = l.output(node.output, order, dt)?;
                l.emit(OpKind::Binary { op: *op, act: *act, quant }, &ins, y)?;
            }
            Op::Pool { kind, kernel, stride, pads, count_include_pad, act } => {
                let x = l.get(node.inputs[0], &NHWC, dt)?;
                let y = l.output(node.output, NHWC.to_vec(), dt)?;
                let kind = OpKind::Pool2d {
                    kind: *kind,
                    kernel: kernel.map(|v| v as u16),
                    stride: stride.map(|v| v as u16),
                    pad: pads.map(|v| v as u16),
                    count_include_pad: *count_include_pad,
                    act: *act,
                };
                l.emit(kind, &[x], y)?;
            }
            Op::GlobalAvgPool { act } => {
                let x = l.get(node.inputs[0], &NHWC, dt)?;
                let y = l.output(node.output, NHWC.to_vec(), dt)?;
                l.emit(OpKind::GlobalAvgPool { act: *act }, &[x], y)?;
            }
            Op::Resize { mode, coord } => {
                let x = l.get(node.inputs[0], &NHWC, dt)?;
                let y = l.output(node.output, NHWC.to_vec(), dt)?;
                l.emit(OpKind::Resize { mode: *mode, coord: *coord }, &[x], y)?;
            }
            Op::Unary(u) => {
                let order = l.order_of(node.inputs[0]);
                let x = l.get(node.inputs[0], &order, dt)?;
                let mut ins = vec![x];
                if i8 {
                    let lut = build_lut_i8(*u, l.qparams(node.inputs[0])?, l.qparams(node.output)?);
                    let name = format!("{}:lut", g.tensors[node.output].name);
                    ins.push(l.b.constant_i8(&name, &[256], Quant::PerTensor { scale: 1.0, zero_point: 0 }, &lut).map_err(build_err)?);
                }
                let y = l.output(node.output, order, dt)?;
                l.emit(OpKind::Unary { op: *u }, &ins, y)?;
            }
            Op::Softmax { axis } => {
                if i8 {
                    return Err(err("internal: int8 Softmax is not planned"));
                }
                let order = l.order_of(node.inputs[0]);
                let order = if order.last() == Some(axis) { order } else { identity(out_rank) };
                if order.last() != Some(axis) {
                    return Err(err("Softmax over an axis followed by unit axes is not supported yet"));
                }
                let x = l.get(node.inputs[0], &order, dt)?;
                let y = l.output(node.output, order, dt)?;
                l.emit(OpKind::Softmax { beta: 1.0, out_inv_q16: 0 }, &[x], y)?;
            }
            Op::Concat { axis } => {
                let first = node.inputs.iter().find(|&&t| !g.is_const(t)).copied().unwrap_or(node.inputs[0]);
                let order = l.order_of(first);
                let mut ins = vec![];
                for &t in &node.inputs {
                    ins.push(if i8 && g.is_const(t) {
                        let q = l.qparams(node.output)?;
                        l.constant_i8(t, out_rank, &order, q)?
                    } else {
                        l.get(t, &order, dt)?
                    });
                }
                let phys_axis = order.iter().position(|a| a == axis).unwrap_or(0) as u8;
                let y = l.output(node.output, order, dt)?;
                l.emit(OpKind::Concat { axis: phys_axis }, &ins, y)?;
            }
            Op::Slice { begin, step } => {
                let order = l.order_of(node.inputs[0]);
                let x = l.get(node.inputs[0], &order, dt)?;
                let b: Vec<u32> = order.iter().map(|&a| begin[a] as u32).collect();
                let s: Vec<u32> = order.iter().map(|&a| step[a] as u32).collect();
                let y = l.output(node.output, order, dt)?;
                l.emit(OpKind::Slice { begin: hv(&b), step: hv(&s) }, &[x], y)?;
            }
            Op::Pad { before, after, value } => {
                let order = l.order_of(node.inputs[0]);
                let x = l.get(node.inputs[0], &order, dt)?;
                let b: Vec<u32> = order.iter().map(|&a| before[a] as u32).collect();
                let a: Vec<u32> = order.iter().map(|&a| after[a] as u32).collect();
                let y = l.output(node.output, order, dt)?;
                l.emit(OpKind::Pad { before: hv(&b), after: hv(&a), value: *value }, &[x], y)?;
            }
            Op::Reshape => {
                let x = l.get(node.inputs[0], &identity(g.tensors[node.inputs[0]].shape.len()), dt)?;
                let y = l.output(node.output, identity(out_rank), dt)?;
                l.emit(OpKind::Reshape, &[x], y)?;
            }
            Op::Transpose { perm } => {
                let have = l.order_of(node.inputs[0]);
                let x = l.get(node.inputs[0], &have, dt)?;
                let mut inverse = vec![0; perm.len()];
                for (j, &p) in perm.iter().enumerate() {
                    inverse[p] = j;
                }
                let order: Vec<usize> = have.iter().map(|&a| inverse[a]).collect();
                l.alias(node.output, x, order, dt);
            }
            Op::Identity => {
                let order = l.order_of(node.inputs[0]);
                let x = l.get(node.inputs[0], &order, dt)?;
                l.alias(node.output, x, order, dt);
            }
            Op::MatMul | Op::BatchNorm { .. } => return Err(err("internal: left for the graph passes")),
        }
    }
    // Every graph output is its own tensor, written by an op: an output that is a graph input
    // or another output is copied (a Reshape, which moves the bytes unchanged).
    for (i, &t) in g.outputs.iter().enumerate() {
        let dtype = l.produced.get(&t).map(|p| p.1).unwrap_or(DType::F32);
        let order = identity(g.tensors[t].shape.len());
        let mut id = l.get(t, &order, dtype)?;
        if taken.contains(&id) {
            let name = g.output_names.get(i).cloned().unwrap_or_else(|| l.name(t, "copy"));
            let dims = physical(&g.tensors[t].shape, &order);
            let quant = l.quant(t, dtype)?;
            let copy = l.b.activation(&name, dtype, &dims, quant).map_err(build_err)?;
            l.emit(OpKind::Reshape, &[id], copy)?;
            id = copy;
        }
        taken.push(id);
        l.b.output(id);
    }
    let bytes = l.b.finish().map_err(build_err)?;
    Ok(Lowered { bytes, produced: l.written })
}
