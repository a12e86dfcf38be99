//! The float reference: tract running the ONNX file itself.

use std::path::Path;

use tract_onnx::prelude::*;

use crate::error::{build_err, ConvertError, Result};
use crate::import::load_tract;

pub struct Reference {
    plan: std::sync::Arc<TypedRunnableModel>,
    shapes: Vec<Vec<usize>>,
}

impl Reference {
    /// Loads `onnx` with its inputs fixed to `input_shapes` (name, shape), optimized by tract.
    pub fn load(onnx: &Path, input_shapes: &[(String, Vec<usize>)]) -> Result<Reference> {
        let (_, model, _, shapes) = load_tract(onnx, input_shapes)?;
        let err = |e: anyhow::Error| ConvertError::Onnx { path: onnx.to_path_buf(), reason: format!("{e:#}") };
        let plan = model.into_optimized().map_err(err)?.into_runnable().map_err(err)?;
        Ok(Reference { plan, shapes: shapes.into_iter().map(|(_, s)| s).collect() })
    }

    /// Runs one sample: one flat f32 slice per input; returns every output flattened.
    pub fn run(&self, inputs: &[&[f32]]) -> Result<Vec<Vec<f32>>> {
        let err = |e: anyhow::Error| ConvertError::Build(format!("tract: {e:#}"));
        let mut tensors = TVec::new();
        for (x, shape) in inputs.iter().zip(&self.shapes) {
            let a = tract_ndarray::ArrayD::from_shape_vec(shape.clone(), x.to_vec()).map_err(build_err)?;
            tensors.push(a.into_tensor().into());
        }
        let out = self.plan.run(tensors).map_err(err)?;
        out.iter()
            .map(|t| Ok(t.cast_to::<f32>().map_err(err)?.to_plain_array_view::<f32>().map_err(err)?.iter().copied().collect()))
            .collect()
    }
}
