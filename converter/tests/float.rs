//! f32 conversion of the shared benchmark models, compared with tract running the ONNX file on
//! the same real inputs: the graph passes and the layout assignment must not change the result
//! beyond float rounding.

mod common;

use common::{bench, max_abs_diff};
use mote_converter::data;
use mote_runtime::format::writer::AlignedBytes;
use mote_runtime::{Interpreter, Model};
use tract_onnx::prelude::*;

/// Converts `model` to f32 Mote, runs `rows` rows of `data[key]` through both, and returns the
/// largest absolute difference relative to the output magnitude (at least 1).
fn compare(model: &str, data_file: &str, key: &str, rows: &[usize], tol: f32) {
    let onnx = bench(&format!("models/{model}"));
    let file = mote_converter::convert_float(&onnx, model, &[]).unwrap();
    let bytes = AlignedBytes::new(&file);
    let m = Model::from_bytes(&bytes).unwrap();
    let mut arena = vec![0u8; m.arena_bytes() + 16];
    let mut it = Interpreter::new(&m, &mut arena).unwrap();

    let x = if data_file.is_empty() { synthetic_image(key) } else { data::read_f32(&bench(&format!("data/{data_file}")), key).unwrap() };
    let row_shape: Vec<usize> = std::iter::once(1).chain(x.shape[1..].iter().copied()).collect();
    let row_len: usize = row_shape.iter().product();
    let reference = tract_onnx::onnx()
        .model_for_path(&onnx)
        .unwrap()
        .with_input_fact(0, f32::fact(&row_shape).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    for &r in rows {
        let input = &x.data[r * row_len..(r + 1) * row_len];
        it.set_input_f32(0, input).unwrap();
        it.invoke().unwrap();
        let t = tract_ndarray::ArrayD::from_shape_vec(row_shape.clone(), input.to_vec()).unwrap().into_tensor();
        let want = reference.run(tvec!(t.into())).unwrap();
        for (o, w) in want.iter().enumerate() {
            let w = w.to_plain_array_view::<f32>().unwrap();
            let got = it.output_f32(o).unwrap();
            assert_eq!(got.len(), w.len(), "{model} output {o} size");
            let scale = w.iter().fold(0f32, |a, v| a.max(v.abs()));
            let worst = max_abs_diff(got, w.iter());
            assert!(worst <= tol * scale.max(1.0), "{model} row {r} output {o}: max |mote - tract| = {worst} (scale {scale})");
        }
    }
}

#[test]
fn kws_dscnn_float_matches_tract() {
    compare("kws_dscnn.onnx", "kws_mfcc.npz", "x", &(0..34).collect::<Vec<_>>(), 1e-5);
}

#[test]
fn ic_resnet8_float_matches_tract() {
    compare("ic_resnet8.onnx", "ic_cifar10.npz", "x", &[0, 1, 2, 3, 500, 1016], 1e-5);
}

#[test]
fn ad_autoencoder_float_matches_tract() {
    compare("ad_fc_autoencoder.onnx", "ad_toycar.npz", "x", &[0, 7, 39], 1e-5);
}

#[test]
fn vww_mobilenet_float_matches_tract() {
    compare("vww_mobilenetv1_025.onnx", "vww_96.npz", "x", &[0, 30, 60], 1e-5);
}

/// A deterministic smooth image with noise, values in 0..255, for the detectors (whose shared
/// inputs are image files): shape given as "1,3,H,W".
fn synthetic_image(shape: &str) -> data::Array<f32> {
    let shape: Vec<usize> = shape.split(',').map(|d| d.parse().unwrap()).collect();
    let (h, w) = (shape[2], shape[3]);
    let mut seed = 12345u64;
    let data = (0..shape.iter().product::<usize>())
        .map(|i| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let (y, x) = ((i / w) % h, i % w);
            let base = 127.0 + 100.0 * ((x as f32 / 23.0).sin() * (y as f32 / 17.0).cos());
            base + ((seed >> 40) % 20) as f32 - 10.0
        })
        .collect();
    data::Array { shape, data }
}

#[test]
fn yunet_float_matches_tract() {
    compare("yunet_2023mar.onnx", "", "1,3,640,640", &[0], 1e-4);
}

#[test]
fn ultraface_float_matches_tract() {
    compare("ultraface_rfb320.onnx", "", "1,3,240,320", &[0], 1e-4);
}

#[test]
fn max_abs_diff_fails_on_nan() {
    assert_eq!(max_abs_diff(&[1.0, -2.0], &[1.5, 1.0]), 3.0);
    assert!(max_abs_diff(&[1.0, f32::NAN], &[1.0, 5.0]).is_nan());
    assert!(max_abs_diff(&[1.0, 2.0], &[f32::NAN, 2.0]).is_nan());
    assert!(max_abs_diff(&[f32::NAN], &[f32::NAN]).is_nan(), "a NaN on both sides is not a match");
}
