//! Unary elementwise functions (Relu, Relu6, Clip, Sigmoid, Exp) and the fused-activation clamp.
//!
//! int8 unary ops are a 256-entry lookup table computed on the host from the input and output
//! quantization parameters, so the device does one load per element and every target agrees.

use serde::{Deserialize, Serialize};

/// A unary elementwise function.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum UnaryOp {
    Relu,
    Relu6,
    Clip { lo: f32, hi: f32 },
    Sigmoid,
    Exp,
}

/// A clamp fused into the op that produces a tensor (Relu, Relu6 and Clip folded by the converter).
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activation {
    #[default]
    None,
    Relu,
    Relu6,
    Clip { lo: f32, hi: f32 },
}
