//! Building small ONNX models in tests (opset 13), with random constants from a seeded LCG.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use prost::Message;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::{dimension, Dimension};
use tract_onnx::pb::{type_proto, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto};

/// A 64-bit LCG; uniform values from its top 24 bits.
pub struct Rng(pub u64);

impl Rng {
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        lo + (hi - lo) * ((self.0 >> 40) as f32 / (1u64 << 24) as f32)
    }

    pub fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

pub fn attr_i(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i, ..Default::default() }
}

pub fn attr_ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Ints as i32, ints: ints.to_vec(), ..Default::default() }
}

pub fn attr_f(name: &str, f: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Float as i32, f, ..Default::default() }
}

pub fn value_info(name: &str, shape: Option<&[usize]>) -> ValueInfoProto {
    let shape = shape.map(|s| TensorShapeProto {
        dim: s.iter().map(|&d| Dimension { value: Some(dimension::Value::DimValue(d as i64)), ..Default::default() }).collect(),
    });
    let tensor = type_proto::Tensor { elem_type: DataType::Float as i32, shape };
    ValueInfoProto { name: name.into(), r#type: Some(TypeProto { value: Some(type_proto::Value::TensorType(tensor)), ..Default::default() }), ..Default::default() }
}

/// An ONNX graph under construction, with random constants drawn from its own generator.
pub struct Onnx {
    pub nodes: Vec<NodeProto>,
    pub initializers: Vec<TensorProto>,
    pub inputs: Vec<(String, Vec<usize>)>,
    pub outputs: Vec<String>,
    pub rng: Rng,
}

impl Onnx {
    pub fn new(seed: u64) -> Onnx {
        Onnx { nodes: vec![], initializers: vec![], inputs: vec![], outputs: vec![], rng: Rng(seed) }
    }

    pub fn input(&mut self, name: &str, shape: &[usize]) {
        self.inputs.push((name.into(), shape.to_vec()));
    }

    pub fn output(&mut self, name: &str) {
        self.outputs.push(name.into());
    }

    pub fn constant(&mut self, name: &str, dims: &[usize], data: Vec<f32>) -> String {
        assert_eq!(data.len(), dims.iter().product::<usize>(), "{name}");
        let dims = dims.iter().map(|&d| d as i64).collect();
        self.initializers.push(TensorProto { name: name.into(), dims, data_type: DataType::Float as i32, float_data: data, ..Default::default() });
        name.into()
    }

    /// A constant with values uniform in `[lo, hi)`.
    pub fn random(&mut self, name: &str, dims: &[usize], lo: f32, hi: f32) -> String {
        let data = self.rng.vec(dims.iter().product(), lo, hi);
        self.constant(name, dims, data)
    }

    /// An int8 (`unsigned` = false) or uint8 scalar, e.g. a QDQ zero point.
    pub fn scalar_8bit(&mut self, name: &str, value: i32, unsigned: bool) -> String {
        let data_type = if unsigned { DataType::Uint8 } else { DataType::Int8 } as i32;
        self.initializers.push(TensorProto { name: name.into(), data_type, int32_data: vec![value], ..Default::default() });
        name.into()
    }

    pub fn constant_i64(&mut self, name: &str, data: &[i64]) -> String {
        let t = TensorProto { name: name.into(), dims: vec![data.len() as i64], data_type: DataType::Int64 as i32, int64_data: data.to_vec(), ..Default::default() };
        self.initializers.push(t);
        name.into()
    }

    pub fn node(&mut self, op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) {
        self.nodes.push(NodeProto {
            name: output.into(),
            op_type: op.into(),
            input: inputs.iter().map(|&s| s.into()).collect(),
            output: vec![output.into()],
            attribute,
            ..Default::default()
        });
    }

    /// `Conv` from `[in, out]` channels with a square `[kernel, stride, pads]` window (the same
    /// pads on every side): random weights `[out, in / group, kernel, kernel]`, and a random
    /// bias when `bias`.
    pub fn conv(&mut self, x: &str, y: &str, [in_ch, out_ch]: [usize; 2], [k, stride, pads]: [usize; 3], group: usize, bias: bool) {
        let w = self.random(&format!("{y}.w"), &[out_ch, in_ch / group, k, k], -1.0, 1.0);
        let mut inputs = vec![x.to_string(), w];
        if bias {
            inputs.push(self.random(&format!("{y}.b"), &[out_ch], -1.0, 1.0));
        }
        let p = pads as i64;
        let attrs = vec![
            attr_ints("kernel_shape", &[k as i64; 2]),
            attr_ints("strides", &[stride as i64; 2]),
            attr_ints("pads", &[p; 4]),
            attr_i("group", group as i64),
        ];
        let inputs: Vec<&str> = inputs.iter().map(|s| s.as_str()).collect();
        self.node("Conv", &inputs, y, attrs);
    }

    /// `BatchNormalization` over `c` channels with random statistics far from the identity.
    pub fn batch_norm(&mut self, x: &str, y: &str, c: usize, epsilon: Option<f32>) {
        let scale = self.random(&format!("{y}.scale"), &[c], 0.5, 2.0);
        let bias = self.random(&format!("{y}.bias"), &[c], -1.0, 1.0);
        let mean = self.random(&format!("{y}.mean"), &[c], -0.5, 0.5);
        let var = self.random(&format!("{y}.var"), &[c], 0.05, 2.0);
        let attrs = epsilon.map(|e| vec![attr_f("epsilon", e)]).unwrap_or_default();
        self.node("BatchNormalization", &[x, &scale, &bias, &mean, &var], y, attrs);
    }

    /// `Clip` with its bounds as constant inputs (opset 11 and later); `None` leaves a bound out.
    pub fn clip(&mut self, x: &str, y: &str, lo: Option<f32>, hi: Option<f32>) {
        let lo = lo.map(|v| self.constant(&format!("{y}.min"), &[], vec![v])).unwrap_or_default();
        let hi = hi.map(|v| self.constant(&format!("{y}.max"), &[], vec![v])).unwrap_or_default();
        self.node("Clip", &[x, &lo, &hi], y, vec![]);
    }

    /// Writes the model to a fresh file in the temporary directory.
    pub fn write(&self, test: &str) -> PathBuf {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let graph = GraphProto {
            name: test.into(),
            node: self.nodes.clone(),
            initializer: self.initializers.clone(),
            input: self.inputs.iter().map(|(n, s)| value_info(n, Some(s))).collect(),
            output: self.outputs.iter().map(|n| value_info(n, None)).collect(),
            ..Default::default()
        };
        let model = ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
            producer_name: "mote-converter tests".into(),
            graph: Some(graph),
            ..Default::default()
        };
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("mote-passes-{}-{n}-{test}.onnx", std::process::id()));
        std::fs::write(&path, model.encode_to_vec()).unwrap();
        path
    }
}

