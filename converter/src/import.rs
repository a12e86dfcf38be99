//! ONNX → [`Graph`]: tract parses the file, fixes symbolic batch dimensions, infers every shape
//! and folds constant subgraphs (shape arithmetic); the op semantics are read from the ONNX
//! nodes themselves, as the ONNX specification defines them.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use mote_runtime::ops::{Activation, BinaryOp, CoordTransform, NearestRound, PoolKind, ResizeMode, UnaryOp};
use sha2::Digest;
use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::{Factoid, InferenceModelExt};

use crate::error::{node_err, ConvertError, Result};
use crate::ir::{Graph, Op, Tid};

/// ONNX operators Mote maps to its own ops.
pub const SUPPORTED_OPS: &[&str] = &[
    "Conv", "BatchNormalization", "Relu", "Clip", "Sigmoid", "Exp", "Softmax", "Add", "Sub", "Mul", "Div",
    "MatMul", "Gemm", "AveragePool", "MaxPool", "GlobalAveragePool", "Resize", "Upsample", "Concat", "Slice",
    "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Pad", "Identity", "Dropout", "QuantizeLinear",
    "DequantizeLinear",
];

/// ONNX operators accepted only where their outputs are constant (shape arithmetic).
pub const CONSTANT_ONLY_OPS: &[&str] = &[
    "Constant", "Shape", "Gather", "Cast", "ConstantOfShape", "Range", "Floor", "Ceil", "ReduceProd", "Equal",
    "Where", "Size", "Expand", "Neg", "Sqrt",
];

/// A parsed model and what identifies it.
pub struct Imported {
    pub graph: Graph,
    pub sha256: [u8; 32],
    /// Inputs' names and the shapes they were fixed to.
    pub input_shapes: Vec<(String, Vec<usize>)>,
}

fn onnx_err(path: &Path, e: impl std::fmt::Display) -> ConvertError {
    ConvertError::Onnx { path: path.to_path_buf(), reason: e.to_string() }
}

/// A parsed ONNX file: its protobuf, tract's model, tract's outlet of every named value, and
/// the input shapes as fixed.
pub type Loaded = (tract_onnx::pb::ModelProto, InferenceModel, HashMap<String, OutletId>, Vec<(String, Vec<usize>)>);

/// Loads an ONNX file into tract with every input shape fixed: symbolic dimensions become 1
/// unless `overrides` names the input.
pub fn load_tract(path: &Path, overrides: &[(String, Vec<usize>)]) -> Result<Loaded> {
    let bytes = std::fs::read(path).map_err(|cause| ConvertError::Io { path: path.to_path_buf(), cause })?;
    let proto = tract_onnx::onnx().proto_model_for_read(&mut &bytes[..]).map_err(|e| onnx_err(path, e))?;
    if proto.graph.is_none() {
        return Err(onnx_err(path, "no graph"));
    }
    check_supported(path, &proto)?;
    let dir = path.parent().and_then(|p| p.to_str());
    let parsed = tract_onnx::onnx().parse(&proto, dir).map_err(|e| onnx_err(path, format!("{e:#}")))?;
    let mut model = parsed.model;
    for (name, _) in overrides {
        if !model.input_outlets().map_err(|e| onnx_err(path, e))?.iter().any(|o| model.node(o.node).name == *name) {
            return Err(ConvertError::NoSuchInput(name.clone()));
        }
    }
    let mut shapes = vec![];
    for i in 0..model.inputs.len() {
        let name = model.node(model.inputs[i].node).name.clone();
        let fact = model.input_fact(i).map_err(|e| onnx_err(path, e))?.clone();
        let shape: Vec<usize> = match overrides.iter().find(|(n, _)| *n == name) {
            Some((_, s)) => s.clone(),
            None => {
                let dims = fact.shape.dims().map(|d| d.concretize().and_then(|d| d.to_i64().ok()).map(|d| d.max(1) as usize).unwrap_or(1)).collect();
                dims
            }
        };
        let dt = fact.datum_type.concretize().unwrap_or(f32::datum_type());
        model.set_input_fact(i, InferenceFact::dt_shape(dt, &shape)).map_err(|e| onnx_err(path, e))?;
        shapes.push((name, shape));
    }
    model.analyse(false).map_err(|e| onnx_err(path, format!("shape inference failed: {e:#}")))?;
    Ok((proto, model, parsed.outlets_by_name, shapes))
}

fn check_supported(path: &Path, proto: &tract_onnx::pb::ModelProto) -> Result<()> {
    let mut unsupported: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in proto.graph.as_ref().map(|g| &g.node[..]).unwrap_or(&[]) {
        let op = node.op_type.as_str();
        if !SUPPORTED_OPS.contains(&op) && !CONSTANT_ONLY_OPS.contains(&op) || !(node.domain.is_empty() || node.domain == "ai.onnx") {
            unsupported.entry(op).or_default().push(node_name(node));
        }
    }
    if unsupported.is_empty() {
        return Ok(());
    }
    let list = unsupported.iter().map(|(op, nodes)| format!("  {op}: {}", nodes.join(", "))).collect::<Vec<_>>().join("\n");
    Err(ConvertError::Unsupported { path: path.to_path_buf(), list })
}

fn node_name(node: &NodeProto) -> &str {
    if !node.name.is_empty() {
        &node.name
    } else {
        node.output.first().map(|s| s.as_str()).unwrap_or("?")
    }
}

/// Reads an ONNX file into a [`Graph`].
pub fn import(path: &Path, overrides: &[(String, Vec<usize>)]) -> Result<Imported> {
    let bytes = std::fs::read(path).map_err(|cause| ConvertError::Io { path: path.to_path_buf(), cause })?;
    let sha256: [u8; 32] = sha2::Sha256::digest(&bytes).into();
    let (proto, model, outlets, input_shapes) = load_tract(path, overrides)?;
    let onnx = proto.graph.as_ref().ok_or_else(|| onnx_err(path, "no graph"))?;

    let mut g = Graph::default();
    let mut by_name: HashMap<String, Tid> = HashMap::new();
    let fact = |name: &str| -> Result<&InferenceFact> {
        let outlet = outlets.get(name).ok_or_else(|| ConvertError::UnknownShape { tensor: name.to_string() })?;
        model.outlet_fact(*outlet).map_err(|_| ConvertError::UnknownShape { tensor: name.to_string() })
    };
    let shape_of = |name: &str| -> Result<Vec<usize>> {
        let f = fact(name)?;
        f.shape
            .concretize()
            .and_then(|dims| dims.iter().map(|d| d.to_i64().ok().map(|v| v as usize)).collect::<Option<Vec<_>>>())
            .ok_or_else(|| ConvertError::UnknownShape { tensor: name.to_string() })
    };
    let value_of = |name: &str| -> Option<Arc<Tensor>> { fact(name).ok()?.value.concretize() };

    for (name, _) in &input_shapes {
        let t = g.add_tensor(name, shape_of(name)?, None);
        by_name.insert(name.clone(), t);
        g.inputs.push(t);
    }
    let tensor = |g: &mut Graph, by_name: &mut HashMap<String, Tid>, name: &str| -> Result<Tid> {
        if let Some(&t) = by_name.get(name) {
            return Ok(t);
        }
        let value = value_of(name).ok_or_else(|| ConvertError::UnknownShape { tensor: name.to_string() })?;
        let t = g.add_tensor(name, value.shape().to_vec(), Some(value));
        by_name.insert(name.to_string(), t);
        Ok(t)
    };

    for node in &onnx.node {
        let name = node_name(node).to_string();
        let outputs: Vec<&str> = node.output.iter().filter(|s| !s.is_empty()).map(|s| s.as_str()).collect();
        // Folded by tract: every output has a known value.
        if outputs.iter().all(|o| value_of(o).is_some()) {
            for o in &outputs {
                tensor(&mut g, &mut by_name, o)?;
            }
            continue;
        }
        let op_type = node.op_type.as_str();
        if CONSTANT_ONLY_OPS.contains(&op_type) {
            return Err(node_err(&name, op_type, "only supported where its output is a constant (shape arithmetic), and here it depends on the input"));
        }
        let ins: Vec<&str> = node.input.iter().map(|s| s.as_str()).collect();
        let input_ids: Vec<Option<Tid>> =
            ins.iter().map(|i| if i.is_empty() { Ok(None) } else { tensor(&mut g, &mut by_name, i).map(Some) }).collect::<Result<_>>()?;
        let out_name = outputs.first().copied().ok_or_else(|| node_err(&name, op_type, "no output"))?;
        let out_shape = shape_of(out_name)?;
        let in_shape = |i: usize| -> Result<Vec<usize>> { ins.get(i).map(|n| shape_of(n)).unwrap_or_else(|| Err(node_err(&name, op_type, "missing input"))) };
        let konst = |i: usize| -> Option<Arc<Tensor>> { ins.get(i).filter(|n| !n.is_empty()).and_then(|n| value_of(n)) };
        let err = |reason: &str| node_err(&name, op_type, reason);
        let rank = in_shape(0)?.len();
        let norm_axis = |a: i64, r: usize| -> Result<usize> {
            let a = if a < 0 { a + r as i64 } else { a };
            if (0..r as i64).contains(&a) { Ok(a as usize) } else { Err(err("axis out of range")) }
        };

        let mut qdq_output = None;
        let op = match op_type {
            "Conv" => {
                let x = in_shape(0)?;
                let w = in_shape(1)?;
                if x.len() != 4 {
                    return Err(err("only 2-D convolution (4-D NCHW input) is supported"));
                }
                if konst(1).is_none() {
                    return Err(err("weights must be constant"));
                }
                let group = node.get_attr_opt::<i64>("group").map_err(|e| err(&e.to_string()))?.unwrap_or(1) as usize;
                let stride = ints2(node, "strides", 1).map_err(|e| err(&e))?;
                let dilation = ints2(node, "dilations", 1).map_err(|e| err(&e))?;
                let pads = window_pads(node, [x[2], x[3]], [out_shape[2], out_shape[3]], [w[2], w[3]], stride, dilation).map_err(|e| err(&e))?;
                Op::Conv { stride, dilation, pads, group, act: Activation::None }
            }
            "BatchNormalization" => {
                if (1..5).any(|i| konst(i).is_none()) {
                    return Err(err("scale, bias, mean and variance must be constant"));
                }
                Op::BatchNorm { epsilon: node.get_attr_opt::<f32>("epsilon").map_err(|e| err(&e.to_string()))?.unwrap_or(1e-5) }
            }
            "Relu" => Op::Unary(UnaryOp::Relu),
            "Sigmoid" => Op::Unary(UnaryOp::Sigmoid),
            "Exp" => Op::Unary(UnaryOp::Exp),
            "Clip" => {
                let scalar = |i: usize, attr: &str, default: f32| -> Result<f32> {
                    if let Some(t) = konst(i) {
                        return t.cast_to_scalar::<f32>().map_err(|e| err(&e.to_string()));
                    }
                    if ins.get(i).is_some_and(|n| !n.is_empty()) {
                        return Err(err("bounds must be constant"));
                    }
                    Ok(node.get_attr_opt::<f32>(attr).map_err(|e| err(&e.to_string()))?.unwrap_or(default))
                };
                let (lo, hi) = (scalar(1, "min", f32::NEG_INFINITY)?, scalar(2, "max", f32::INFINITY)?);
                match (lo, hi) {
                    (0.0, f32::INFINITY) => Op::Unary(UnaryOp::Relu),
                    (0.0, 6.0) => Op::Unary(UnaryOp::Relu6),
                    _ => Op::Unary(UnaryOp::Clip { lo, hi }),
                }
            }
            "Softmax" => {
                let opset_default = -1;
                let axis = norm_axis(node.get_attr_opt::<i64>("axis").map_err(|e| err(&e.to_string()))?.unwrap_or(opset_default), rank)?;
                if axis != rank - 1 && in_shape(0)?[axis + 1..].iter().any(|&d| d != 1) {
                    return Err(err("Softmax is supported over the innermost non-unit axis only"));
                }
                Op::Softmax { axis }
            }
            "Add" | "Sub" | "Mul" | "Div" => Op::Binary {
                op: match op_type {
                    "Add" => BinaryOp::Add,
                    "Sub" => BinaryOp::Sub,
                    "Mul" => BinaryOp::Mul,
                    _ => BinaryOp::Div,
                },
                act: Activation::None,
            },
            "MatMul" => {
                if konst(1).is_none() || in_shape(1)?.len() != 2 {
                    return Err(err("the second operand must be a constant 2-D matrix"));
                }
                Op::MatMul
            }
            "Gemm" => {
                let attr_f = |a: &str, d: f32| -> Result<f32> { Ok(node.get_attr_opt::<f32>(a).map_err(|e| err(&e.to_string()))?.unwrap_or(d)) };
                let attr_i = |a: &str| -> Result<i64> { Ok(node.get_attr_opt::<i64>(a).map_err(|e| err(&e.to_string()))?.unwrap_or(0)) };
                let (alpha, beta) = (attr_f("alpha", 1.0)?, attr_f("beta", 1.0)?);
                if attr_i("transA")? != 0 || in_shape(0)?.len() != 2 {
                    return Err(err("transA and non-2-D inputs are not supported"));
                }
                let b = konst(1).ok_or_else(|| err("B must be constant"))?;
                let b = b.cast_to::<f32>().map_err(|e| err(&e.to_string()))?.to_plain_array_view::<f32>().map_err(|e| err(&e.to_string()))?.into_dimensionality::<tract_ndarray::Ix2>().map_err(|e| err(&e.to_string()))?.to_owned();
                let w = if attr_i("transB")? != 0 { b } else { b.t().to_owned() };
                let w = w.mapv(|v| v * alpha);
                let n = w.shape()[0];
                let wt = g.add_tensor(&format!("{name}.weight"), w.shape().to_vec(), Some(Arc::new(w.into_dyn().into_tensor())));
                let mut ids = vec![input_ids[0].ok_or_else(|| err("missing input"))?, wt];
                if let Some(c) = konst(2) {
                    let c = c.cast_to::<f32>().map_err(|e| err(&e.to_string()))?.to_plain_array_view::<f32>().map_err(|e| err(&e.to_string()))?.iter().map(|v| v * beta).collect::<Vec<f32>>();
                    let c = if c.len() == 1 { vec![c[0]; n] } else { c };
                    if c.len() != n {
                        return Err(err("C must broadcast along the output features"));
                    }
                    ids.push(g.add_tensor(&format!("{name}.bias"), vec![n], Some(Arc::new(tract_ndarray::Array1::from(c).into_dyn().into_tensor()))));
                } else if ins.get(2).is_some_and(|n| !n.is_empty()) {
                    return Err(err("C must be constant"));
                }
                let output = g.add_tensor(out_name, out_shape, None);
                by_name.insert(out_name.to_string(), output);
                g.nodes.push(crate::ir::Node { name, op: Op::FullyConnected { act: Activation::None }, inputs: ids, output });
                continue;
            }
            "AveragePool" | "MaxPool" => {
                let x = in_shape(0)?;
                if x.len() != 4 {
                    return Err(err("only 2-D pooling (4-D NCHW input) is supported"));
                }
                let kernel = ints2(node, "kernel_shape", 0).map_err(|e| err(&e))?;
                let stride = ints2(node, "strides", 1).map_err(|e| err(&e))?;
                let dilation = ints2(node, "dilations", 1).map_err(|e| err(&e))?;
                if dilation != [1, 1] {
                    return Err(err("dilated pooling is not supported"));
                }
                let pads = window_pads(node, [x[2], x[3]], [out_shape[2], out_shape[3]], kernel, stride, dilation).map_err(|e| err(&e))?;
                let count_include_pad = node.get_attr_opt::<i64>("count_include_pad").map_err(|e| err(&e.to_string()))?.unwrap_or(0) != 0;
                let kind = if op_type == "MaxPool" { PoolKind::Max } else { PoolKind::Avg };
                Op::Pool { kind, kernel, stride, pads, count_include_pad, act: Activation::None }
            }
            "GlobalAveragePool" => {
                if rank != 4 {
                    return Err(err("only 4-D NCHW input is supported"));
                }
                Op::GlobalAvgPool { act: Activation::None }
            }
            "Resize" | "Upsample" => {
                let x = in_shape(0)?;
                if x.len() != 4 || x[0] != out_shape[0] || x[1] != out_shape[1] {
                    return Err(err("only spatial (H, W) resizing of a 4-D NCHW tensor is supported"));
                }
                let mode = node.get_attr_opt::<&str>("mode").map_err(|e| err(&e.to_string()))?.unwrap_or("nearest");
                let coord = match node.get_attr_opt::<&str>("coordinate_transformation_mode").map_err(|e| err(&e.to_string()))?.unwrap_or(if op_type == "Upsample" { "asymmetric" } else { "half_pixel" }) {
                    "half_pixel" => CoordTransform::HalfPixel,
                    "pytorch_half_pixel" => CoordTransform::PytorchHalfPixel,
                    "align_corners" => CoordTransform::AlignCorners,
                    "asymmetric" => CoordTransform::Asymmetric,
                    other => return Err(err(&format!("coordinate_transformation_mode {other} is not supported"))),
                };
                let mode = match mode {
                    "nearest" => ResizeMode::Nearest(match node.get_attr_opt::<&str>("nearest_mode").map_err(|e| err(&e.to_string()))?.unwrap_or(if op_type == "Upsample" { "floor" } else { "round_prefer_floor" }) {
                        "round_prefer_floor" => NearestRound::RoundPreferFloor,
                        "round_prefer_ceil" => NearestRound::RoundPreferCeil,
                        "floor" => NearestRound::Floor,
                        "ceil" => NearestRound::Ceil,
                        other => return Err(err(&format!("nearest_mode {other} is not supported"))),
                    }),
                    "linear" | "bilinear" => ResizeMode::Bilinear,
                    other => return Err(err(&format!("mode {other} is not supported"))),
                };
                Op::Resize { mode, coord }
            }
            "Concat" => Op::Concat { axis: norm_axis(node.get_attr::<i64>("axis").map_err(|e| err(&e.to_string()))?, rank)? },
            "Slice" => {
                let x = in_shape(0)?;
                let list = |i: usize, attr: &str| -> Result<Option<Vec<i64>>> {
                    if let Some(t) = konst(i) {
                        let t = t.cast_to::<i64>().map_err(|e| err(&e.to_string()))?;
                        return Ok(Some(t.to_plain_array_view::<i64>().map_err(|e| err(&e.to_string()))?.iter().copied().collect()));
                    }
                    if ins.get(i).is_some_and(|n| !n.is_empty()) {
                        return Err(err("starts, ends, axes and steps must be constant"));
                    }
                    node.get_attr_opt_vec::<i64>(attr).map_err(|e| err(&e.to_string()))
                };
                let starts = list(1, "starts")?.ok_or_else(|| err("no starts"))?;
                let axes = list(3, "axes")?.unwrap_or_else(|| (0..starts.len() as i64).collect());
                let steps = list(4, "steps")?.unwrap_or_else(|| vec![1; starts.len()]);
                let mut begin = vec![0usize; x.len()];
                let mut step = vec![1usize; x.len()];
                for ((&a, &s), &st) in axes.iter().zip(&starts).zip(&steps) {
                    let a = norm_axis(a, x.len())?;
                    if st < 1 {
                        return Err(err("negative or zero slice steps are not supported"));
                    }
                    let d = x[a] as i64;
                    let s = if s < 0 { s + d } else { s }.clamp(0, d);
                    begin[a] = s as usize;
                    step[a] = st as usize;
                }
                Op::Slice { begin, step }
            }
            "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => Op::Reshape,
            "Transpose" => {
                let perm = node.get_attr_opt_vec::<i64>("perm").map_err(|e| err(&e.to_string()))?.unwrap_or_else(|| (0..rank as i64).rev().collect());
                Op::Transpose { perm: perm.iter().map(|&p| norm_axis(p, rank)).collect::<Result<_>>()? }
            }
            "Pad" => {
                let mode = node.get_attr_opt::<&str>("mode").map_err(|e| err(&e.to_string()))?.unwrap_or("constant");
                if mode != "constant" {
                    return Err(err(&format!("pad mode {mode} is not supported")));
                }
                let pads: Vec<i64> = match konst(1) {
                    Some(t) => t.cast_to::<i64>().map_err(|e| err(&e.to_string()))?.to_plain_array_view::<i64>().map_err(|e| err(&e.to_string()))?.iter().copied().collect(),
                    None => node.get_attr_opt_vec::<i64>("pads").map_err(|e| err(&e.to_string()))?.ok_or_else(|| err("pads must be constant"))?,
                };
                if pads.iter().any(|&p| p < 0) || pads.len() != 2 * rank {
                    return Err(err("negative pads (cropping) are not supported"));
                }
                let value = match konst(2) {
                    Some(t) => t.cast_to_scalar::<f32>().map_err(|e| err(&e.to_string()))?,
                    None => node.get_attr_opt::<f32>("value").map_err(|e| err(&e.to_string()))?.unwrap_or(0.0),
                };
                Op::Pad { before: pads[..rank].iter().map(|&p| p as usize).collect(), after: pads[rank..].iter().map(|&p| p as usize).collect(), value }
            }
            "Identity" | "Dropout" => Op::Identity,
            // A QDQ pair on an activation is the identity in float; its scale and zero point
            // become the tensor's int8 parameters (uint8 ones shifted by 128).
            "QuantizeLinear" | "DequantizeLinear" => {
                let x = input_ids[0].ok_or_else(|| err("missing input"))?;
                if let std::collections::hash_map::Entry::Vacant(slot) = g.qdq.entry(x) {
                    let scale = konst(1).ok_or_else(|| err("the scale must be constant"))?;
                    if scale.len() != 1 {
                        return Err(err("per-axis quantization of an activation is not supported"));
                    }
                    let scale = scale.cast_to_scalar::<f32>().map_err(|e| err(&e.to_string()))?;
                    // Without a zero-point input, QuantizeLinear's output type is uint8.
                    let (zero_point, unsigned) = match konst(2) {
                        Some(z) => (z.cast_to_scalar::<i32>().map_err(|e| err(&e.to_string()))?, z.datum_type() == u8::datum_type()),
                        None => (0, op_type == "QuantizeLinear"),
                    };
                    let zero_point = if unsigned { zero_point - 128 } else { zero_point };
                    if !(scale.is_finite() && scale > 0.0 && (-128..=127).contains(&zero_point)) {
                        return Err(err("invalid scale or zero point"));
                    }
                    slot.insert(mote_runtime::quant::QParams { scale, zero_point });
                }
                qdq_output = g.qdq.get(&x).copied();
                Op::Identity
            }
            other => return Err(err(&format!("internal: {other} not mapped"))),
        };
        let arity = match &op {
            Op::Resize { .. } | Op::Slice { .. } | Op::Reshape | Op::Pad { .. } | Op::Unary(_) | Op::Identity => 1,
            Op::Conv { .. } => input_ids.iter().take(3).filter(|i| i.is_some()).count(),
            Op::BatchNorm { .. } => 5,
            Op::Concat { .. } => input_ids.len(),
            _ => input_ids.len(),
        };
        let inputs: Vec<Tid> = input_ids.iter().take(arity).map(|i| i.ok_or_else(|| err("missing input"))).collect::<Result<_>>()?;
        let output = g.add_tensor(out_name, out_shape, None);
        if let Some(q) = qdq_output {
            g.qdq.insert(output, q);
        }
        by_name.insert(out_name.to_string(), output);
        g.nodes.push(crate::ir::Node { name, op, inputs, output });
    }
    for out in &onnx.output {
        let t = tensor(&mut g, &mut by_name, &out.name)?;
        g.outputs.push(t);
        g.output_names.push(out.name.clone());
    }
    Ok(Imported { graph: g, sha256, input_shapes })
}

/// A two-element integer attribute (`strides`, `dilations`, `kernel_shape`), `default` if absent.
fn ints2(node: &NodeProto, attr: &str, default: usize) -> std::result::Result<[usize; 2], String> {
    match node.get_attr_opt_vec::<i64>(attr).map_err(|e| e.to_string())? {
        None if default > 0 => Ok([default; 2]),
        Some(v) if v.len() == 2 && v.iter().all(|&x| x > 0) => Ok([v[0] as usize, v[1] as usize]),
        _ => Err(format!("attribute {attr} must hold two positive values")),
    }
}

/// `[top, left, bottom, right]` from `pads` / `auto_pad`, widened at the end where ceil mode (or
/// SAME padding) makes the output larger than the floor formula gives.
fn window_pads(node: &NodeProto, input: [usize; 2], output: [usize; 2], kernel: [usize; 2], stride: [usize; 2], dilation: [usize; 2]) -> std::result::Result<[usize; 4], String> {
    let auto = node.get_attr_opt::<&str>("auto_pad").map_err(|e| e.to_string())?.unwrap_or("NOTSET");
    let mut pads = [0usize; 4];
    if auto == "NOTSET" {
        if let Some(p) = node.get_attr_opt_vec::<i64>("pads").map_err(|e| e.to_string())? {
            if p.len() != 4 || p.iter().any(|&v| v < 0) {
                return Err("pads must hold four non-negative values".into());
            }
            pads = [p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize];
        }
    } else if auto == "SAME_UPPER" || auto == "SAME_LOWER" {
        for i in 0..2 {
            let span = dilation[i] * (kernel[i] - 1) + 1;
            let total = ((output[i] - 1) * stride[i] + span).saturating_sub(input[i]);
            let small = total / 2;
            let (begin, end) = if auto == "SAME_UPPER" { (small, total - small) } else { (total - small, small) };
            pads[i] = begin;
            pads[i + 2] = end;
        }
    } else if auto != "VALID" {
        return Err(format!("auto_pad {auto} is not supported"));
    }
    for i in 0..2 {
        let span = dilation[i] * (kernel[i] - 1) + 1;
        let out = |pads: &[usize; 4]| (input[i] + pads[i] + pads[i + 2]).saturating_sub(span) / stride[i] + 1;
        while out(&pads) < output[i] {
            pads[i + 2] += 1;
        }
    }
    Ok(pads)
}
