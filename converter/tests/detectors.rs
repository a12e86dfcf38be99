//! The face detectors in int8: YuNet and UltraFace, calibrated and evaluated on the shared face
//! photos, their decoded detections compared with the float model's (tract) at IoU 0.5.

mod common;

use common::detect::{decode_ultraface, decode_yunet, detection_f1, photos};

#[test]
fn ultraface_int8_detections_agree_with_float() {
    let photos = photos(320, 240, [0, 1, 2], |v| (v - 127.0) / 128.0);
    let r = detection_f1("ultraface_rfb320.onnx", "ultraface", photos, [1, 3, 240, 320], decode_ultraface);
    assert!(r.float_detections >= 20, "the photos should hold faces the float model finds ({})", r.float_detections);
    assert!(r.f1 >= 0.90, "UltraFace detection F1 {:.3} < 0.90", r.f1);
}

#[test]
fn yunet_int8_detections_agree_with_float() {
    let photos = photos(640, 640, [2, 1, 0], |v| v);
    let r = detection_f1("yunet_2023mar.onnx", "yunet", photos, [1, 3, 640, 640], decode_yunet);
    assert!(r.float_detections >= 20, "the photos should hold faces the float model finds ({})", r.float_detections);
    assert!(r.f1 >= 0.95, "YuNet detection F1 {:.3} < 0.95", r.f1);
}
