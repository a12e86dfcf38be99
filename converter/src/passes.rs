//! Graph passes on the logical graph: each keeps the function the graph computes (up to float
//! rounding) and is tested against tract on small generated graphs.
//!
//! - [`fold_batch_norm`]: BatchNormalization after a Conv becomes the Conv's weights and bias;
//!   elsewhere it becomes Mul + Add with per-channel constants.
//! - [`matmul_to_fully_connected`]: MatMul by a constant matrix (plus a following Add of a
//!   per-feature constant) becomes FullyConnected with a bias.
//! - [`fuse_activations`]: Relu / Relu6 / Clip after Conv, FullyConnected, Binary or Pool fuse
//!   into the producer's clamp.
//! - [`remove_identities`]: Identity, Dropout and reshapes to the same shape disappear.
//!
//! Layout transposes are not removed here: the lowering assigns every tensor a physical layout,
//! and a Transpose whose input and output can share bytes costs nothing there.

use mote_runtime::ops::{Activation, BinaryOp, UnaryOp};
use tract_onnx::prelude::*;

use crate::ir::{Graph, Op, Tid};

pub fn run_all(g: &mut Graph) -> TractResult<()> {
    remove_identities(g);
    fold_batch_norm(g)?;
    matmul_to_fully_connected(g)?;
    fuse_activations(g);
    Ok(())
}

/// Every use of `from` (node inputs and graph outputs) now reads `to`.
fn replace_uses(g: &mut Graph, from: Tid, to: Tid) {
    for n in &mut g.nodes {
        for i in &mut n.inputs {
            if *i == from {
                *i = to;
            }
        }
    }
    for o in &mut g.outputs {
        if *o == from {
            *o = to;
        }
    }
}

pub fn remove_identities(g: &mut Graph) {
    let mut k = 0;
    while k < g.nodes.len() {
        let n = &g.nodes[k];
        let same_shape_reshape = n.op == Op::Reshape && g.tensors[n.inputs[0]].shape == g.tensors[n.output].shape;
        let graph_output = g.outputs.contains(&n.output) && g.inputs.contains(&n.inputs[0]);
        if (n.op == Op::Identity || same_shape_reshape) && !graph_output {
            let (from, to) = (n.output, n.inputs[0]);
            g.nodes.remove(k);
            if let Some(q) = g.qdq.remove(&from) {
                g.qdq.entry(to).or_insert(q);
            }
            replace_uses(g, from, to);
        } else {
            k += 1;
        }
    }
}

pub fn fold_batch_norm(g: &mut Graph) -> TractResult<()> {
    // The Mul + Add rewrite inserts a node, so the bound is re-read every iteration.
    let mut next = 0;
    while next < g.nodes.len() {
        let k = next;
        next += 1;
        let Op::BatchNorm { epsilon } = g.nodes[k].op else { continue };
        let ins = g.nodes[k].inputs.clone();
        let (scale, bias, mean, var) = (g.const_f32(ins[1])?, g.const_f32(ins[2])?, g.const_f32(ins[3])?, g.const_f32(ins[4])?);
        let c = scale.len();
        let mul: Vec<f32> = (0..c).map(|i| scale.as_slice().unwrap()[i] / (var.as_slice().unwrap()[i] + epsilon).sqrt()).collect();
        let add: Vec<f32> = (0..c).map(|i| bias.as_slice().unwrap()[i] - mean.as_slice().unwrap()[i] * mul[i]).collect();
        let x = ins[0];
        let producer = g.producer(x).filter(|&p| matches!(g.nodes[p].op, Op::Conv { act: Activation::None, .. }) && g.consumers(x) == 1);
        let name = g.nodes[k].name.clone();
        if let Some(p) = producer {
            let conv_ins = g.nodes[p].inputs.clone();
            let mut w = g.const_f32(conv_ins[1])?;
            for (o, mut row) in w.outer_iter_mut().enumerate() {
                row.mapv_inplace(|v| v * mul[o]);
            }
            let b0 = if conv_ins.len() > 2 { g.const_f32(conv_ins[2])?.into_raw_vec_and_offset().0 } else { vec![0.0; c] };
            let b: Vec<f32> = (0..c).map(|o| b0[o] * mul[o] + add[o]).collect();
            let wt = g.add_const(&format!("{name}.folded_weight"), w);
            let bt = g.add_const(&format!("{name}.folded_bias"), tract_ndarray::Array1::from(b).into_dyn());
            g.nodes[p].inputs = vec![conv_ins[0], wt, bt];
            g.nodes[k].op = Op::Identity;
            g.nodes[k].inputs = vec![g.nodes[p].output];
        } else {
            let rank = g.tensors[x].shape.len();
            let mut shape = vec![1usize; rank.saturating_sub(1)];
            shape[0] = c;
            let m = g.add_const(&format!("{name}.mul"), tract_ndarray::ArrayD::from_shape_vec(shape.clone(), mul)?);
            let a = g.add_const(&format!("{name}.add"), tract_ndarray::ArrayD::from_shape_vec(shape, add)?);
            let mid = g.add_tensor(&format!("{name}.scaled"), g.tensors[x].shape.clone(), None);
            let out = g.nodes[k].output;
            g.nodes[k] = crate::ir::Node { name: format!("{name}.mul"), op: Op::Binary { op: BinaryOp::Mul, act: Activation::None }, inputs: vec![x, m], output: mid };
            g.nodes.insert(k + 1, crate::ir::Node { name: format!("{name}.add"), op: Op::Binary { op: BinaryOp::Add, act: Activation::None }, inputs: vec![mid, a], output: out });
        }
    }
    remove_identities(g);
    Ok(())
}

pub fn matmul_to_fully_connected(g: &mut Graph) -> TractResult<()> {
    for k in 0..g.nodes.len() {
        if g.nodes[k].op != Op::MatMul {
            continue;
        }
        let w = g.const_f32(g.nodes[k].inputs[1])?;
        let n = w.shape()[1];
        let wt = w.t().to_owned();
        let name = g.nodes[k].name.clone();
        let wid = g.add_const(&format!("{name}.weight"), wt);
        g.nodes[k].inputs[1] = wid;
        g.nodes[k].op = Op::FullyConnected { act: Activation::None };
        let out = g.nodes[k].output;
        // A following Add of a constant per-feature vector becomes the bias.
        let next = g.nodes.iter().position(|m| matches!(m.op, Op::Binary { op: BinaryOp::Add, act: Activation::None }) && m.inputs.contains(&out));
        if let (Some(a), 1) = (next, g.consumers(out)) {
            let other = *g.nodes[a].inputs.iter().find(|&&i| i != out).unwrap_or(&out);
            if other != out && g.is_const(other) {
                let b = g.const_f32(other)?;
                let leading_ones = b.shape()[..b.ndim().saturating_sub(1)].iter().all(|&d| d == 1);
                if b.len() == n && leading_ones && g.tensors[g.nodes[a].output].shape == g.tensors[out].shape {
                    let bid = g.add_const(&format!("{name}.bias"), b.into_shape_with_order(vec![n])?);
                    g.nodes[k].inputs.push(bid);
                    g.nodes[a].op = Op::Identity;
                    g.nodes[a].inputs = vec![out];
                }
            }
        }
    }
    remove_identities(g);
    Ok(())
}

pub fn fuse_activations(g: &mut Graph) {
    for k in 0..g.nodes.len() {
        let act = match g.nodes[k].op {
            Op::Unary(UnaryOp::Relu) => Activation::Relu,
            Op::Unary(UnaryOp::Relu6) => Activation::Relu6,
            Op::Unary(UnaryOp::Clip { lo, hi }) => Activation::Clip { lo, hi },
            _ => continue,
        };
        let x = g.nodes[k].inputs[0];
        let Some(p) = g.producer(x) else { continue };
        if g.consumers(x) != 1 || g.outputs.contains(&x) {
            continue;
        }
        let slot = match &mut g.nodes[p].op {
            Op::Conv { act, .. } | Op::FullyConnected { act } | Op::Binary { act, .. } | Op::Pool { act, .. } | Op::GlobalAvgPool { act } => act,
            _ => continue,
        };
        if *slot != Activation::None {
            continue;
        }
        *slot = act;
        g.nodes[k].op = Op::Identity;
    }
    remove_identities(g);
}
