//! ONNX → [`Graph`]: tract parses the file, fixes symbolic batch dimensions, infers every shape
//! and folds constant subgraphs (shape arithmetic); the op semantics are read from the ONNX
//! nodes themselves, as the ONNX specification defines them.
//!
//! # One table
//! `OPS` lists every ONNX operator Mote accepts, once: the function that maps a node to a
//! Mote [`Op`] (one per operator or small group, in a file per family: `nn.rs`, `math.rs`,
//! `shape.rs`, `qdq.rs`) and which of the node's inputs the Mote op keeps as operands, or that the
//! operator is accepted only where tract folds it to a constant. The supported-op check
//! (every unsupported node listed before any work), the dispatch and the operand (arity) check
//! all read that table. Adding an ONNX operator that maps to an existing Mote op is a function
//! in its family's file and a line here.

mod math;
mod nn;
mod qdq;
mod shape;

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::Arc;

use mote_runtime::quant::QParams;
use sha2::Digest;
use tract_onnx::pb::NodeProto;
use tract_onnx::pb_helpers::{AttrScalarType, AttrTVecType};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::{Factoid, InferenceModelExt};

use crate::error::{catch_panic, node_err, ConvertError, Result};
use crate::ir::{Graph, Op, Tid};

/// How the importer treats one ONNX operator.
enum Import {
    /// `map` turns the node into a Mote op, whose operands are the node's inputs `operands`
    /// (from the first): absent optional inputs at the end are dropped, any other absent one is
    /// an error. Inputs past the range are parameters `map` reads as constants.
    Op { operands: RangeInclusive<usize>, map: MapFn },
    /// Accepted only where tract folds its outputs to constants (shape arithmetic).
    ConstantOnly,
}

type MapFn = fn(&mut OnnxNode<'_>) -> Result<Op>;

const fn op(operands: RangeInclusive<usize>, map: MapFn) -> Import {
    Import::Op { operands, map }
}

const ALL: usize = usize::MAX;

/// Every ONNX operator Mote accepts (ONNX domain only).
static OPS: &[(&str, Import)] = &[
    ("Conv", op(2..=3, nn::conv)),
    ("BatchNormalization", op(5..=5, nn::batch_norm)),
    ("MatMul", op(2..=2, nn::matmul)),
    ("Gemm", op(1..=1, nn::gemm)),
    ("AveragePool", op(1..=1, nn::average_pool)),
    ("MaxPool", op(1..=1, nn::max_pool)),
    ("GlobalAveragePool", op(1..=1, nn::global_average_pool)),
    ("Softmax", op(1..=1, nn::softmax)),
    ("Relu", op(1..=1, math::relu)),
    ("Sigmoid", op(1..=1, math::sigmoid)),
    ("Exp", op(1..=1, math::exp)),
    ("Clip", op(1..=1, math::clip)),
    ("Add", op(2..=2, math::add)),
    ("Sub", op(2..=2, math::sub)),
    ("Mul", op(2..=2, math::mul)),
    ("Div", op(2..=2, math::div)),
    ("Resize", op(1..=1, shape::resize)),
    ("Upsample", op(1..=1, shape::upsample)),
    ("Concat", op(1..=ALL, shape::concat)),
    ("Slice", op(1..=1, shape::slice)),
    ("Reshape", op(1..=1, shape::reshape)),
    ("Flatten", op(1..=1, shape::reshape)),
    ("Squeeze", op(1..=1, shape::reshape)),
    ("Unsqueeze", op(1..=1, shape::reshape)),
    ("Transpose", op(1..=1, shape::transpose)),
    ("Pad", op(1..=1, shape::pad)),
    ("Identity", op(1..=1, shape::identity)),
    ("Dropout", op(1..=1, shape::identity)),
    ("QuantizeLinear", op(1..=1, qdq::quantize_linear)),
    ("DequantizeLinear", op(1..=1, qdq::dequantize_linear)),
    ("Constant", Import::ConstantOnly),
    ("Shape", Import::ConstantOnly),
    ("Gather", Import::ConstantOnly),
    ("Cast", Import::ConstantOnly),
    ("ConstantOfShape", Import::ConstantOnly),
    ("Range", Import::ConstantOnly),
    ("Floor", Import::ConstantOnly),
    ("Ceil", Import::ConstantOnly),
    ("ReduceProd", Import::ConstantOnly),
    ("Equal", Import::ConstantOnly),
    ("Where", Import::ConstantOnly),
    ("Size", Import::ConstantOnly),
    ("Expand", Import::ConstantOnly),
    ("Neg", Import::ConstantOnly),
    ("Sqrt", Import::ConstantOnly),
];

fn lookup(node: &NodeProto) -> Option<&'static Import> {
    if !(node.domain.is_empty() || node.domain == "ai.onnx") {
        return None;
    }
    OPS.iter().find(|(name, _)| *name == node.op_type).map(|(_, import)| import)
}

/// ONNX operators Mote maps to its own ops.
pub fn supported_ops() -> impl Iterator<Item = &'static str> {
    OPS.iter().filter(|(_, i)| matches!(i, Import::Op { .. })).map(|(name, _)| *name)
}

/// ONNX operators accepted only where their outputs are constant (shape arithmetic).
pub fn constant_only_ops() -> impl Iterator<Item = &'static str> {
    OPS.iter().filter(|(_, i)| matches!(i, Import::ConstantOnly)).map(|(name, _)| *name)
}

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
    load_tract_bytes(path, &read(path)?, overrides)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|cause| ConvertError::Io { path: path.to_path_buf(), cause })
}

/// [`load_tract`] of the file's bytes, already in memory.
fn load_tract_bytes(path: &Path, bytes: &[u8], overrides: &[(String, Vec<usize>)]) -> Result<Loaded> {
    let proto = catch_panic(|| tract_onnx::onnx().proto_model_for_read(&mut &bytes[..])).map_err(|p| onnx_err(path, p))?.map_err(|e| onnx_err(path, e))?;
    if proto.graph.is_none() {
        return Err(onnx_err(path, "no graph"));
    }
    check_supported(path, &proto)?;
    for node in proto.graph.as_ref().map(|g| &g.node[..]).unwrap_or(&[]) {
        check_attributes(node).map_err(|reason| onnx_err(path, format!("node {} ({}): {reason}", node_name(node), node.op_type)))?;
    }
    check_batch_norm_ranks(path, &proto, overrides)?;
    let (model, outlets, shapes) = analyse(path, &proto, overrides)?;
    Ok((proto, model, outlets, shapes))
}

/// tract's parse of `proto` with every input shape fixed, and its shape inference.
fn analyse(path: &Path, proto: &tract_onnx::pb::ModelProto, overrides: &[(String, Vec<usize>)]) -> Result<(InferenceModel, HashMap<String, OutletId>, Vec<(String, Vec<usize>)>)> {
    let dir = path.parent().and_then(|p| p.to_str());
    let parsed = catch_panic(|| tract_onnx::onnx().parse(proto, dir))
        .map_err(|p| onnx_err(path, p))?
        .map_err(|e| onnx_err(path, format!("{e:#}")))?;
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
            None => fact.shape.dims().map(|d| d.concretize().and_then(|d| d.to_i64().ok()).map(|d| d.max(1) as usize).unwrap_or(1)).collect(),
        };
        let dt = fact.datum_type.concretize().unwrap_or(f32::datum_type());
        model.set_input_fact(i, InferenceFact::dt_shape(dt, &shape)).map_err(|e| onnx_err(path, e))?;
        shapes.push((name, shape));
    }
    catch_panic(|| model.analyse(false))
        .map_err(|p| onnx_err(path, format!("shape inference failed: {p}")))?
        .map_err(|e| onnx_err(path, format!("shape inference failed: {e:#}")))?;
    Ok((model, parsed.outlets_by_name, shapes))
}

/// tract's shape rules for BatchNormalization index its input's dimension 1 without checking the
/// rank, which crashes the process (SIGSEGV, not a panic) on a rank-1 input. So a model with
/// BatchNormalization is first analysed with each of them replaced by an Identity of its input,
/// and each input's rank checked, before tract sees the real nodes.
fn check_batch_norm_ranks(path: &Path, proto: &tract_onnx::pb::ModelProto, overrides: &[(String, Vec<usize>)]) -> Result<()> {
    let is_bn = |n: &NodeProto| n.op_type == "BatchNormalization";
    let Some(graph) = proto.graph.as_ref().filter(|g| g.node.iter().any(is_bn)) else { return Ok(()) };
    let mut probe = proto.clone();
    for node in probe.graph.as_mut().into_iter().flat_map(|g| g.node.iter_mut()).filter(|n| is_bn(n)) {
        node.op_type = "Identity".into();
        node.input.truncate(1);
        node.output.truncate(1);
        node.attribute.clear();
    }
    let (model, outlets, _) = analyse(path, &probe, overrides)?;
    for node in graph.node.iter().filter(|n| is_bn(n)) {
        let x = node.input.first().map(String::as_str).unwrap_or("");
        let rank = outlets.get(x).and_then(|o| model.outlet_fact(*o).ok()).and_then(|f| f.shape.rank().concretize());
        if let Some(rank) = rank.filter(|&r| r < 2) {
            return Err(onnx_err(path, format!("node {} (BatchNormalization): input {x:?} has rank {rank}; it needs [N, C, ...]", node_name(node))));
        }
    }
    Ok(())
}

/// Every node whose operator is not in [`OPS`], listed by operator, before any other work.
fn check_supported(path: &Path, proto: &tract_onnx::pb::ModelProto) -> Result<()> {
    let mut unsupported: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in proto.graph.as_ref().map(|g| &g.node[..]).unwrap_or(&[]) {
        if lookup(node).is_none() {
            unsupported.entry(node.op_type.as_str()).or_default().push(node_name(node));
        }
    }
    if unsupported.is_empty() {
        return Ok(());
    }
    let list = unsupported.iter().map(|(op, nodes)| format!("  {op}: {}", nodes.join(", "))).collect::<Vec<_>>().join("\n");
    Err(ConvertError::Unsupported { path: path.to_path_buf(), list })
}

/// The attributes tract trusts, checked on the protobuf before tract sees the node: a zero
/// stride divides by zero inside tract, a stray permutation index reads out of bounds.
/// Spatial attributes must be positive (pads non-negative), fit the format's `u16`, and agree in
/// length; `group` must be positive; `perm` must be a permutation.
fn check_attributes(node: &NodeProto) -> std::result::Result<(), String> {
    let ints = |name: &str| node.attribute.iter().find(|a| a.name == name).map(|a| &a.ints[..]);
    let mut spatial = None;
    for (name, min) in [("strides", 1), ("kernel_shape", 1), ("dilations", 1), ("pads", 0)] {
        let Some(v) = ints(name) else { continue };
        if let Some(bad) = v.iter().find(|&&x| !(min..=u16::MAX as i64).contains(&x)) {
            return Err(format!("attribute {name} = {v:?}: {bad} is outside {min}..={}", u16::MAX));
        }
        let dims = if name == "pads" {
            if v.len() % 2 != 0 {
                return Err(format!("attribute pads = {v:?} has an odd length"));
            }
            v.len() / 2
        } else {
            v.len()
        };
        match spatial {
            Some((first, n)) if n != dims => {
                return Err(format!("attribute {name} = {v:?} is for {dims} spatial dimensions, {first} for {n}"))
            }
            None => spatial = Some((name, dims)),
            _ => {}
        }
    }
    if let Some(g) = node.attribute.iter().find(|a| a.name == "group") {
        if g.i < 1 {
            return Err(format!("attribute group = {} must be at least 1", g.i));
        }
    }
    if let Some(perm) = ints("perm") {
        let mut seen = vec![false; perm.len()];
        for &p in perm {
            match usize::try_from(p).ok().and_then(|p| seen.get_mut(p)) {
                Some(s) if !*s => *s = true,
                _ => return Err(format!("attribute perm = {perm:?} is not a permutation of 0..{}", perm.len())),
            }
        }
    }
    Ok(())
}

fn node_name(node: &NodeProto) -> &str {
    if !node.name.is_empty() {
        &node.name
    } else {
        node.output.first().map(|s| s.as_str()).unwrap_or("?")
    }
}

/// What tract inferred of every named value.
struct Facts<'a> {
    model: &'a InferenceModel,
    outlets: &'a HashMap<String, OutletId>,
}

impl Facts<'_> {
    fn fact(&self, name: &str) -> Result<&InferenceFact> {
        let outlet = self.outlets.get(name).ok_or_else(|| ConvertError::UnknownShape { tensor: name.to_string() })?;
        self.model.outlet_fact(*outlet).map_err(|_| ConvertError::UnknownShape { tensor: name.to_string() })
    }

    fn shape(&self, name: &str) -> Result<Vec<usize>> {
        self.fact(name)?
            .shape
            .concretize()
            .and_then(|dims| dims.iter().map(|d| d.to_i64().ok().map(|v| v as usize)).collect::<Option<Vec<_>>>())
            .ok_or_else(|| ConvertError::UnknownShape { tensor: name.to_string() })
    }

    /// The value of a constant (or folded) tensor.
    fn value(&self, name: &str) -> Option<Arc<Tensor>> {
        self.fact(name).ok()?.value.concretize()
    }
}

/// The graph tensor named `name`: an existing one, or a new constant from tract's folded value.
fn tensor(g: &mut Graph, by_name: &mut HashMap<String, Tid>, facts: &Facts<'_>, name: &str) -> Result<Tid> {
    if let Some(&t) = by_name.get(name) {
        return Ok(t);
    }
    let value = facts.value(name).ok_or_else(|| ConvertError::UnknownShape { tensor: name.to_string() })?;
    let t = g.add_tensor(name, value.shape().to_vec(), Some(value));
    by_name.insert(name.to_string(), t);
    Ok(t)
}

/// Reads an ONNX file into a [`Graph`].
pub fn import(path: &Path, overrides: &[(String, Vec<usize>)]) -> Result<Imported> {
    import_bytes(path, &read(path)?, overrides)
}

/// [`import`] of an ONNX file's bytes, already in memory; `path` names the file in errors and
/// locates its external data.
pub fn import_bytes(path: &Path, bytes: &[u8], overrides: &[(String, Vec<usize>)]) -> Result<Imported> {
    let sha256: [u8; 32] = sha2::Sha256::digest(bytes).into();
    let (proto, model, outlets, input_shapes) = load_tract_bytes(path, bytes, overrides)?;
    let onnx = proto.graph.as_ref().ok_or_else(|| onnx_err(path, "no graph"))?;
    let facts = Facts { model: &model, outlets: &outlets };

    let mut g = Graph::default();
    let mut by_name: HashMap<String, Tid> = HashMap::new();
    for (name, _) in &input_shapes {
        let t = g.add_tensor(name, facts.shape(name)?, None);
        by_name.insert(name.clone(), t);
        g.inputs.push(t);
    }
    for node in &onnx.node {
        let name = node_name(node).to_string();
        let outputs: Vec<&str> = node.output.iter().filter(|s| !s.is_empty()).map(|s| s.as_str()).collect();
        // Folded by tract: every output has a known value.
        if outputs.iter().all(|o| facts.value(o).is_some()) {
            for o in &outputs {
                tensor(&mut g, &mut by_name, &facts, o)?;
            }
            continue;
        }
        let op_type = node.op_type.as_str();
        let (operands, map) = match lookup(node) {
            Some(Import::Op { operands, map }) => (operands, map),
            Some(Import::ConstantOnly) => {
                return Err(node_err(&name, op_type, "only supported where its output is a constant (shape arithmetic), and here it depends on the input"))
            }
            None => return Err(node_err(&name, op_type, "internal: not in the op table")),
        };
        let ids: Vec<Option<Tid>> = node
            .input
            .iter()
            .map(|i| if i.is_empty() { Ok(None) } else { tensor(&mut g, &mut by_name, &facts, i).map(Some) })
            .collect::<Result<_>>()?;
        let out_name = outputs.first().copied().ok_or_else(|| node_err(&name, op_type, "no output"))?;
        let out_shape = facts.shape(out_name)?;
        let mut n = OnnxNode {
            proto: node,
            name,
            op_type,
            inputs: node.input.iter().map(|s| s.as_str()).collect(),
            ids,
            out_shape,
            rank: 0,
            facts: &facts,
            graph: &mut g,
            extra: vec![],
            output_qparams: None,
        };
        n.rank = n.in_shape(0)?.len();
        let op = map(&mut n)?;
        let inputs = n.operands(operands)?;
        let OnnxNode { name, out_shape, output_qparams, .. } = n;
        let output = g.add_tensor(out_name, out_shape, None);
        if let Some(q) = output_qparams {
            g.qdq.insert(output, q);
        }
        by_name.insert(out_name.to_string(), output);
        g.nodes.push(crate::ir::Node { name, op, inputs, output });
    }
    for out in &onnx.output {
        let t = tensor(&mut g, &mut by_name, &facts, &out.name)?;
        g.outputs.push(t);
        g.output_names.push(out.name.clone());
    }
    Ok(Imported { graph: g, sha256, input_shapes })
}

/// One ONNX node as its op function sees it: attributes, inputs' shapes and constant values
/// (after tract's folding), the output's shape, and the graph it joins.
struct OnnxNode<'a> {
    proto: &'a NodeProto,
    name: String,
    op_type: &'a str,
    /// Input names; "" for an absent optional input.
    inputs: Vec<&'a str>,
    /// The graph tensor of every present input.
    ids: Vec<Option<Tid>>,
    out_shape: Vec<usize>,
    /// Rank of input 0.
    rank: usize,
    facts: &'a Facts<'a>,
    graph: &'a mut Graph,
    /// Constants the op function made, as operands after the node's own (Gemm's weights).
    extra: Vec<Tid>,
    /// int8 parameters the model gives the output (QDQ).
    output_qparams: Option<QParams>,
}

impl<'a> OnnxNode<'a> {
    fn err(&self, reason: impl Into<String>) -> ConvertError {
        node_err(&self.name, self.op_type, reason)
    }

    fn attr<T: AttrScalarType<'a>>(&self, name: &str) -> Result<Option<T>> {
        self.proto.get_attr_opt::<T>(name).map_err(|e| self.err(e.to_string()))
    }

    fn attr_or<T: AttrScalarType<'a>>(&self, name: &str, default: T) -> Result<T> {
        Ok(self.attr(name)?.unwrap_or(default))
    }

    fn required_attr<T: AttrScalarType<'a>>(&self, name: &str) -> Result<T> {
        self.proto.get_attr::<T>(name).map_err(|e| self.err(e.to_string()))
    }

    fn attr_vec<T: AttrTVecType<'a>>(&self, name: &str) -> Result<Option<Vec<T>>> {
        self.proto.get_attr_opt_vec::<T>(name).map_err(|e| self.err(e.to_string()))
    }

    fn in_shape(&self, i: usize) -> Result<Vec<usize>> {
        match self.inputs.get(i) {
            Some(n) => self.facts.shape(n),
            None => Err(self.err("missing input")),
        }
    }

    /// Input `i`'s graph tensor.
    fn input(&self, i: usize) -> Result<Tid> {
        self.ids.get(i).copied().flatten().ok_or_else(|| self.err("missing input"))
    }

    /// Input `i`'s value, if it is present and constant.
    fn konst(&self, i: usize) -> Option<Arc<Tensor>> {
        self.inputs.get(i).filter(|n| !n.is_empty()).and_then(|n| self.facts.value(n))
    }

    /// Input `i`'s value if it is constant, `None` if it is absent, an error saying `what` if
    /// it is computed at run time.
    fn const_input(&self, i: usize, what: &str) -> Result<Option<Arc<Tensor>>> {
        match self.konst(i) {
            Some(t) => Ok(Some(t)),
            None if self.inputs.get(i).is_some_and(|n| !n.is_empty()) => Err(self.err(what)),
            None => Ok(None),
        }
    }

    /// ONNX axis `a` (negative counts from the end) of a rank-`rank` tensor.
    fn axis(&self, a: i64, rank: usize) -> Result<usize> {
        let a = if a < 0 { a + rank as i64 } else { a };
        if (0..rank as i64).contains(&a) {
            Ok(a as usize)
        } else {
            Err(self.err("axis out of range"))
        }
    }

    fn ints(&self, t: &Tensor) -> Result<Vec<i64>> {
        let t = t.cast_to::<i64>().map_err(|e| self.err(e.to_string()))?;
        Ok(t.to_plain_array_view::<i64>().map_err(|e| self.err(e.to_string()))?.iter().copied().collect())
    }

    fn scalar<T: Datum + Copy>(&self, t: &Tensor) -> Result<T> {
        t.cast_to_scalar::<T>().map_err(|e| self.err(e.to_string()))
    }

    /// Adds constant `value` to the graph as the op's next operand after the node's own.
    fn add_operand(&mut self, name: &str, value: tract_ndarray::ArrayD<f32>) {
        let t = self.graph.add_const(name, value);
        self.extra.push(t);
    }

    /// The Mote op's operands: the node's inputs in `range` (see [`Import::Op`]), then the
    /// constants the op function added.
    fn operands(&self, range: &RangeInclusive<usize>) -> Result<Vec<Tid>> {
        let mut ids: Vec<Option<Tid>> = self.ids.iter().take(*range.end()).copied().collect();
        while ids.len() > *range.start() && ids.last() == Some(&None) {
            ids.pop();
        }
        if ids.len() < *range.start() {
            return Err(self.err("missing input"));
        }
        let mut operands: Vec<Tid> = ids.into_iter().map(|i| i.ok_or_else(|| self.err("missing input"))).collect::<Result<_>>()?;
        operands.extend(&self.extra);
        Ok(operands)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_each_operator_once_with_valid_operand_ranges() {
        let mut names: Vec<&str> = OPS.iter().map(|(n, _)| *n).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "an operator is listed twice");
        for (name, import) in OPS {
            if let Import::Op { operands, .. } = import {
                assert!(operands.start() <= operands.end() && *operands.start() >= 1, "{name}: operands {operands:?}");
            }
        }
        assert_eq!(supported_ops().count() + constant_only_ops().count(), OPS.len());
        assert!(supported_ops().any(|o| o == "Conv") && constant_only_ops().any(|o| o == "Shape"));
        assert!(!supported_ops().any(|o| o == "Shape") && !constant_only_ops().any(|o| o == "Conv"));
    }
}
