#![cfg_attr(not(test), no_std)]
#[cfg(all(feature = "std", not(test)))]
extern crate std;

pub mod kernels;
pub mod quant;
