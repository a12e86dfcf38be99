//! Anomaly detection on audio feature windows that arrive over I2C.
//!
//! ```text
//!  feature front-end ──I2C──► FeatureSensor ──640 f32──► Mote AD autoencoder ──► reconstruction
//!  (or RecordedBus)                │                                                  │
//!                                  └────────────── anomaly_score = MSE ◄──────────────┘
//! ```
//!
//! - [`sensor`]: a driver for the feature front-end, generic over any embedded-hal 1.0
//!   [`I2c`](embedded_hal::i2c::I2c). It owns no buffers; the caller lends the window.
//! - [`recorded`]: an [`I2c`](embedded_hal::i2c::I2c) implementation that answers as the front-end
//!   would, from a recording in flash, so the same driver and firmware run under QEMU.
//! - [`anomaly_score`]: the MLPerf Tiny AD score, in a fixed summation order so a host can
//!   reproduce it bit for bit.
//!
//! No heap: the window, the reconstruction and the model's arena are fixed-size buffers.
#![no_std]

pub mod recorded;
pub mod sensor;

/// Mean squared error between a window and the autoencoder's reconstruction of it: the higher, the
/// less the window looks like the normal machine sounds the model was trained on.
///
/// The sum runs from index 0 upwards in f32 and is divided once by the length, so any IEEE-754
/// implementation that adds in the same order (the host, this core's FPU) gets the same bits. Both
/// slices must have the same length; extra values in the longer one are ignored.
pub fn anomaly_score(input: &[f32], reconstruction: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for (x, y) in input.iter().zip(reconstruction) {
        let d = x - y;
        sum += d * d;
    }
    sum / input.len() as f32
}
