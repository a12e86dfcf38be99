//! Binary elementwise arithmetic with NumPy / ONNX broadcasting: Add, Sub, Mul, Div.

use serde::{Deserialize, Serialize};

use crate::quant::Requant;

/// The arithmetic a binary elementwise op performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// Precomputed int8 parameters of a binary op (computed on the host by `BinaryQuant::new`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BinaryQuant {
    pub a_zero_point: i32,
    pub b_zero_point: i32,
    pub out_zero_point: i32,
    /// Headroom shift applied to both operands of Add / Sub before rescaling (TFLite uses 20).
    pub left_shift: i32,
    pub a: Requant,
    pub b: Requant,
    pub out: Requant,
}
