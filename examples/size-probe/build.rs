//! Writes a small model that uses every op family, so the firmware links every kernel.
use std::{env, fs, path::PathBuf};

use mote_runtime::format::writer::ModelBuilder;
use mote_runtime::ops::*;
use mote_runtime::tensor::Quant;
use mote_runtime::DType;

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let q = Quant::PerTensor { scale: 0.05, zero_point: 0 };
    let mut b = ModelBuilder::new("size-probe");
    let x = b.input("x", DType::F32, &[1, 4, 4, 2], Quant::None).unwrap();
    let xq = b.activation("xq", DType::I8, &[1, 4, 4, 2], q).unwrap();
    b.op(OpKind::Quantize, &[x], xq).unwrap();
    let w = b.constant_i8("w", &[2, 3, 3, 2], Quant::PerTensor { scale: 0.01, zero_point: 0 }, &[1; 36]).unwrap();
    let bias = b.constant_i32("b", &[2], &[0, 0]).unwrap();
    let rq = mote_runtime::quant::quantize_multiplier(0.01);
    let r = b.constant_i32("rq", &[1, 2], &[rq.multiplier, rq.shift]).unwrap();
    let c = b.activation("c", DType::I8, &[1, 4, 4, 2], q).unwrap();
    let conv = OpKind::Conv2d { stride: [1, 1], dilation: [1, 1], pad: [1, 1, 1, 1], groups: 1, act: Activation::Relu };
    b.op(conv, &[xq, w, bias, r], c).unwrap();
    let f = b.activation("f", DType::F32, &[1, 4, 4, 2], Quant::None).unwrap();
    b.op(OpKind::Dequantize, &[c], f).unwrap();
    let y = b.activation("y", DType::F32, &[1, 4, 4, 2], Quant::None).unwrap();
    b.op(OpKind::Unary { op: UnaryOp::Sigmoid }, &[f], y).unwrap();
    b.output(y);
    fs::write(out.join("model.mote"), b.finish().unwrap()).unwrap();
    fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
}
