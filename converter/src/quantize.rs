//! The int8 plan: which nodes run in int8, and the quantization parameters of every activation,
//! from calibration statistics ([`crate::calib`]) and the model's own QDQ parameters. The
//! lowering ([`crate::lower`]) follows it.
//!
//! - **Float islands.** Softmax and Exp stay f32 (their int8 forms lose what matters: a
//!   softmax's small probabilities, a box decoder's exponent), as do nodes named by
//!   `--keep-float`; everything downstream of a float node stays f32 too, so a float tail is
//!   one Dequantize, not a Quantize / Dequantize chain.
//! - **Shared parameters.** Mote's int8 data-movement kernels (pool, concat, slice, pad,
//!   reshape, transpose, resize) copy or average values without rescaling, so their inputs and
//!   output share one set of parameters: those tensors form a class (union-find) whose range is
//!   the union of its members' ranges.
//! - **Ranges** come from [`Stats`] by one of three [`Method`]s, always widened to include 0;
//!   the parameters from a range are the runtime's ([`activation_qparams`], or
//!   [`symmetric_qparams`] for an average pool that counts zero padding).

use std::collections::{HashMap, HashSet};

use mote_runtime::ops::{PoolKind, UnaryOp};
use mote_runtime::quant::{activation_qparams, symmetric_qparams, QParams};

/// How ranges are chosen, the plan's one calibration setting.
pub use crate::calib::Method;
use crate::calib::Stats;
use crate::error::{ConvertError, Result};
use crate::ir::{Graph, Op, Tid};

/// The int8 plan the lowering follows.
#[derive(Clone, Debug, Default)]
pub struct QuantPlan {
    /// Parameters of every activation tensor (graph inputs included).
    pub params: HashMap<Tid, QParams>,
    /// Indices into `Graph::nodes` of the nodes computed in int8.
    pub int8_nodes: HashSet<usize>,
    /// One weight scale per tensor instead of per output channel.
    pub per_tensor_weights: bool,
}

/// Nodes that stay f32: Softmax, Exp, those named in `keep_float` (node or output tensor
/// name), and everything reading a float node's output.
pub fn float_nodes(g: &Graph, keep_float: &[String]) -> Result<HashSet<usize>> {
    for name in keep_float {
        if !g.nodes.iter().any(|n| n.name == *name || g.tensors[n.output].name == *name) {
            let known: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
            return Err(ConvertError::NoSuchNode { name: name.clone(), known: known.join(", ") });
        }
    }
    let mut float = HashSet::new();
    let mut float_tensors: HashSet<Tid> = HashSet::new();
    for (i, n) in g.nodes.iter().enumerate() {
        let auto = matches!(n.op, Op::Softmax { .. } | Op::Unary(UnaryOp::Exp));
        let named = keep_float.iter().any(|k| *k == n.name || *k == g.tensors[n.output].name);
        let downstream = n.inputs.iter().any(|t| float_tensors.contains(t));
        if auto || named || downstream {
            float.insert(i);
            float_tensors.insert(n.output);
        }
    }
    Ok(float)
}

fn find(parent: &mut HashMap<Tid, Tid>, t: Tid) -> Tid {
    let p = *parent.get(&t).unwrap_or(&t);
    if p == t {
        return t;
    }
    let root = find(parent, p);
    parent.insert(t, root);
    root
}

/// Builds the plan from the model's own QDQ parameters and calibration statistics (which may
/// be empty for a fully quantized QDQ model).
pub fn plan(g: &Graph, stats: &HashMap<Tid, Stats>, method: Method, float: &HashSet<usize>, per_tensor_weights: bool) -> Result<QuantPlan> {
    let int8_nodes: HashSet<usize> = (0..g.nodes.len()).filter(|i| !float.contains(i)).collect();
    let mut parent: HashMap<Tid, Tid> = HashMap::new();
    let mut symmetric: HashSet<Tid> = HashSet::new();
    for &i in &int8_nodes {
        let n = &g.nodes[i];
        let shares = match &n.op {
            Op::Pool { kind, pads, count_include_pad, .. } => {
                if *kind == PoolKind::Avg && *count_include_pad && pads.iter().any(|&p| p > 0) {
                    symmetric.insert(n.output);
                }
                true
            }
            Op::GlobalAvgPool { .. } | Op::Resize { .. } | Op::Slice { .. } | Op::Pad { .. } | Op::Reshape => true,
            Op::Transpose { .. } | Op::Identity | Op::Concat { .. } => true,
            _ => false,
        };
        if shares {
            for &t in n.inputs.iter().filter(|&&t| !g.is_const(t)) {
                let (a, b) = (find(&mut parent, t), find(&mut parent, n.output));
                if a != b {
                    parent.insert(a, b);
                }
            }
        }
    }
    let mut class_range: HashMap<Tid, (f32, f32)> = HashMap::new();
    for (&t, s) in stats {
        let (lo, hi) = s.range(method);
        let root = find(&mut parent, t);
        let r = class_range.entry(root).or_insert((0.0, 0.0));
        *r = (r.0.min(lo), r.1.max(hi));
    }
    let symmetric_roots: HashSet<Tid> = symmetric.iter().map(|&t| find(&mut parent, t)).collect();
    // A QDQ model's own parameters win over calibration, one set per class.
    let mut given: Vec<Tid> = g.qdq.keys().copied().collect();
    given.sort();
    let mut class_qdq: HashMap<Tid, QParams> = HashMap::new();
    for t in given {
        let root = find(&mut parent, t);
        class_qdq.entry(root).or_insert(g.qdq[&t]);
    }
    let mut params = HashMap::new();
    for t in (0..g.tensors.len()).filter(|&t| !g.is_const(t)) {
        let root = find(&mut parent, t);
        if let Some(&q) = class_qdq.get(&root) {
            params.insert(t, q);
            continue;
        }
        let Some(&(lo, hi)) = class_range.get(&root) else { continue };
        let q = if symmetric_roots.contains(&root) { symmetric_qparams(lo, hi) } else { activation_qparams(lo, hi) };
        params.insert(t, q);
    }
    for n in g.nodes.iter().enumerate().filter(|(i, _)| int8_nodes.contains(i)).map(|(_, n)| n) {
        for &t in n.inputs.iter().chain([&n.output]) {
            if !g.is_const(t) && !params.contains_key(&t) {
                return Err(ConvertError::NoRange { tensor: g.tensors[t].name.clone() });
            }
        }
    }
    Ok(QuantPlan { params, int8_nodes, per_tensor_weights })
}
