//! The float reference: tract running the ONNX file itself.

use std::path::Path;

use tract_onnx::prelude::*;

use crate::error::{build_err, catch_panic, ConvertError, Result};
use crate::import::load_tract;

pub struct Reference {
    plan: std::sync::Arc<TypedRunnableModel>,
    shapes: Vec<Vec<usize>>,
    /// Graph inputs' names, as in the ONNX file.
    input_names: Vec<String>,
    /// Graph outputs' names and shapes (concrete once the inputs are fixed).
    outputs: Vec<(String, Vec<usize>)>,
}

impl Reference {
    /// Loads `onnx` with its inputs fixed to `input_shapes` (name, shape), optimized by tract.
    pub fn load(onnx: &Path, input_shapes: &[(String, Vec<usize>)]) -> Result<Reference> {
        let (_, model, _, shapes) = load_tract(onnx, input_shapes)?;
        let err = |e: anyhow::Error| ConvertError::Onnx { path: onnx.to_path_buf(), reason: format!("{e:#}") };
        let panicked = |p: String| ConvertError::Onnx { path: onnx.to_path_buf(), reason: p };
        let typed = catch_panic(|| model.into_optimized()).map_err(panicked)?.map_err(err)?;
        let mut outputs = vec![];
        for (i, o) in typed.output_outlets().map_err(err)?.iter().enumerate() {
            let name = typed.outlet_label(*o).map(str::to_string).unwrap_or_else(|| typed.node(o.node).name.clone());
            let fact = typed.output_fact(i).map_err(err)?;
            let shape = fact.shape.as_concrete().map(|s| s.to_vec()).unwrap_or_default();
            outputs.push((name, shape));
        }
        let plan = catch_panic(|| typed.into_runnable()).map_err(panicked)?.map_err(err)?;
        let (input_names, shapes) = shapes.into_iter().unzip();
        Ok(Reference { plan, shapes, input_names, outputs })
    }

    /// The graph inputs' names and shapes, as fixed at load.
    pub fn inputs(&self) -> impl Iterator<Item = (&str, &[usize])> {
        self.input_names.iter().map(String::as_str).zip(self.shapes.iter().map(Vec::as_slice))
    }

    /// The graph outputs' names and shapes.
    pub fn outputs(&self) -> &[(String, Vec<usize>)] {
        &self.outputs
    }

    /// Runs one sample: one flat f32 slice per input; returns every output flattened.
    pub fn run(&self, inputs: &[&[f32]]) -> Result<Vec<Vec<f32>>> {
        let err = |e: anyhow::Error| ConvertError::Build(format!("tract: {e:#}"));
        let mut tensors = TVec::new();
        for (x, shape) in inputs.iter().zip(&self.shapes) {
            let a = tract_ndarray::ArrayD::from_shape_vec(shape.clone(), x.to_vec()).map_err(build_err)?;
            tensors.push(a.into_tensor().into());
        }
        let out = catch_panic(|| self.plan.run(tensors)).map_err(ConvertError::Build)?.map_err(err)?;
        out.iter()
            .map(|t| Ok(t.cast_to::<f32>().map_err(err)?.to_plain_array_view::<f32>().map_err(err)?.iter().copied().collect()))
            .collect()
    }
}
