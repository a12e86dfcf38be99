//! The calibration driver: the data set's rows run through the f32 Mote model, recording what
//! every activation holds (the runtime's `OpHook::output` shows each op's output bytes) into
//! [`Stats`]. The last stage of the int8 pipeline ([`crate::calib`] gives the order): it needs
//! the f32 model that [`crate::lower::lower`] writes without a plan.

use std::collections::HashMap;

use mote_runtime::format::writer::AlignedBytes;
use mote_runtime::{Interpreter, Model, OpHook, TensorId};

use crate::calib::Stats;
use crate::data::{par_rows, progress, real_values, Dataset};
use crate::error::{build_err, Result};
use crate::ir::{Graph, Tid};
use crate::lower::Lowered;

struct Observe<'a> {
    model: &'a Model<'a>,
    tensors: &'a HashMap<TensorId, Tid>,
    stats: HashMap<Tid, Stats>,
    scratch: Vec<f32>,
}

impl OpHook for Observe<'_> {
    fn output(&mut self, _index: usize, output: TensorId, bytes: &[u8]) {
        if let (Some(&t), Some(desc)) = (self.tensors.get(&output), self.model.tensor(output)) {
            real_values(&desc, bytes, &mut self.scratch);
            self.stats.entry(t).or_default().observe(&self.scratch);
        }
    }
}

/// Statistics of every activation of `g` (graph inputs included) over the data set, from the
/// f32 model `float` that [`crate::lower::lower`] wrote without a plan.
pub fn calibrate(g: &Graph, float: &Lowered, data: &Dataset) -> Result<HashMap<Tid, Stats>> {
    let aligned = AlignedBytes::new(&float.bytes);
    let model = Model::from_bytes(&aligned).map_err(build_err)?;
    let tensors: HashMap<TensorId, Tid> = float.produced.iter().copied().collect();
    let bar = progress(data.len(), "calibrating");
    let states = par_rows(
        data.len(),
        &bar,
        || Ok((Observe { model: &model, tensors: &tensors, stats: HashMap::new(), scratch: vec![] }, vec![0u8; model.arena_bytes() + 16])),
        |row, (obs, arena)| {
            let mut it = Interpreter::new(&model, arena).map_err(build_err)?;
            for (i, &t) in g.inputs.iter().enumerate() {
                let x = data.row(i, row);
                it.set_input_f32(i, x).map_err(build_err)?;
                obs.stats.entry(t).or_default().observe(x);
            }
            it.invoke_with(obs).map_err(build_err)
        },
    )?;
    bar.finish_and_clear();
    let mut stats: HashMap<Tid, Stats> = HashMap::new();
    for (obs, _) in states {
        for (t, s) in obs.stats {
            stats.entry(t).or_default().merge(&s);
        }
    }
    Ok(stats)
}
