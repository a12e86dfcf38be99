//! `mote inspect`: what a `.mote` file holds, op by op, and the `mote-runtime` Cargo features a
//! firmware needs to run it.

use std::collections::BTreeSet;

use mote_runtime::format::Layout;
use mote_runtime::tensor::{Storage, TensorDesc};
use mote_runtime::Model;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct OpReport {
    pub index: usize,
    pub op: String,
    pub output: String,
    pub inputs: Vec<Vec<u32>>,
    pub output_shape: Vec<u32>,
    pub dtype: String,
    pub macs: u64,
    pub param_bytes: u64,
    /// Arena bytes the plan reserves for the op's kernel scratch (part of the arena).
    pub scratch_bytes: u32,
    /// How its constant operands are stored: a packed layout's name (`fc-q15`) where one is,
    /// else `reference`; empty for an op without constants.
    pub layout: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub name: String,
    pub ops: Vec<OpReport>,
    pub macs: u64,
    pub weights_bytes: usize,
    pub arena_bytes: usize,
    pub file_bytes: usize,
    /// The `mote-runtime` Cargo features the model needs (`mote_runtime::ops::features`), in
    /// the order of `Feature::ALL`, then those of its packed weight layouts.
    pub features: Vec<&'static str>,
}

pub fn inspect(m: &Model<'_>) -> Report {
    let mut ops = vec![];
    let mut features = BTreeSet::new();
    let mut layout_features = BTreeSet::new();
    for (index, op) in m.ops().enumerate() {
        features.extend(mote_runtime::ops::features(m, &op));
        let ins: Vec<TensorDesc<'_>> = op.inputs.iter().filter_map(|&i| m.tensor(i)).collect();
        let Some(y) = m.tensor(op.output) else { continue };
        let stored = |t: &TensorDesc<'_>| match t.storage {
            Storage::Const(r) => r.len as u64,
            Storage::Arena { .. } => 0,
        };
        let param_bytes = ins.iter().map(stored).sum();
        let layouts: Vec<Layout> = op.inputs.iter().filter(|&&i| m.tensor(i).is_some_and(|t| matches!(t.storage, Storage::Const(_)))).map(|&i| m.layout(i)).collect();
        layout_features.extend(layouts.iter().filter_map(|l| l.feature()));
        let layout = match layouts.iter().find(|&&l| l != Layout::Reference) {
            Some(l) => l.name(),
            None if layouts.is_empty() => "",
            None => Layout::Reference.name(),
        };
        let macs = mote_runtime::ops::macs(m, &op);
        ops.push(OpReport {
            index,
            op: format!("{}", op.kind.code()),
            output: y.name.to_string(),
            inputs: ins.iter().map(|t| t.shape.dims().to_vec()).collect(),
            output_shape: y.shape.dims().to_vec(),
            dtype: format!("{:?}", y.dtype),
            macs,
            param_bytes,
            scratch_bytes: op.scratch.len,
            layout,
        });
    }
    Report {
        name: m.name().to_string(),
        macs: ops.iter().map(|o| o.macs).sum(),
        ops,
        weights_bytes: m.weights_bytes(),
        arena_bytes: m.arena_bytes(),
        file_bytes: m.file_bytes().len(),
        features: features.iter().map(|f| f.name()).chain(layout_features).collect(),
    }
}

impl Report {
    /// The dependency line of a firmware that runs exactly this model (and models needing no
    /// more), ready to paste into its `Cargo.toml`.
    pub fn cargo_line(&self) -> String {
        let features: Vec<String> = self.features.iter().map(|f| format!("{f:?}")).collect();
        format!("mote-runtime = {{ version = \"{}\", default-features = false, features = [{}] }}", env!("CARGO_PKG_VERSION"), features.join(", "))
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.name)?;
        writeln!(f, "{:>4}  {:<15} {:<5} {:<22} {:>12} {:>10} {:>10}  {:<9}  output", "#", "op", "dtype", "output shape", "MACs", "params B", "scratch B", "layout")?;
        for o in &self.ops {
            writeln!(f, "{:>4}  {:<15} {:<5} {:<22} {:>12} {:>10} {:>10}  {:<9}  {}", o.index, o.op, o.dtype, format!("{:?}", o.output_shape), o.macs, o.param_bytes, o.scratch_bytes, o.layout, o.output)?;
        }
        writeln!(f, "total: {} MACs, weights {} B, arena {} B, file {} B", self.macs, self.weights_bytes, self.arena_bytes, self.file_bytes)?;
        writeln!(f, "runtime features: {}", self.features.join(", "))?;
        writeln!(f, "  {}", self.cargo_line())
    }
}
