//! Reference kernels: portable Rust, one file per op family, int8 and f32.
//!
//! # The kernel contract
//! A kernel is a plain function over typed slices and a small parameter struct. It knows nothing
//! of the model file, the graph or the arena: the interpreter validates every shape and length
//! once, at load, and then calls kernels with slices whose lengths match their parameters. Kernels
//! never allocate and never fail. Layout is NHWC for every 4-D activation; convolution weights are
//! `[out_channels, kernel_h, kernel_w, in_channels / groups]` (OHWI).
//!
//! int8 kernels take zero points and [`Requant`](crate::quant::Requant) multipliers that the host
//! computed; all their arithmetic is integer, so every target produces the same bytes. f32
//! kernels use only IEEE-754 operations in a fixed order and `libm` for transcendental functions,
//! so they too are bit-identical across targets (Rust never fuses or reorders float operations).
//!
//! Fused activations arrive as a clamp: `(lo, hi)` in the real domain for f32 kernels, in the
//! quantized domain for int8 kernels.
//!
//! Faster variants sit beside these functions with the same signature, selected at compile time
//! on whole functions, and are tested against them; these reference kernels stay compiled as the
//! specification. `arm` has int8 convolution and fully connected kernels for Arm cores with the
//! DSP extension (Helium, NEON and x86 variants are still to come).
//!
//! Naming follows CMSIS-NN: `<op>[_<specialisation>]_<dtype>`.

pub mod activation;
#[cfg(any(mote_arm_dsp, test))]
pub mod arm;
pub mod conv;
pub mod elementwise;
pub mod fully_connected;
pub mod pool;
pub mod quantize;
pub mod resize;
pub mod shape;
pub mod softmax;

/// The int8 convolution and fully connected layer the interpreter runs: the Arm DSP kernels
/// (`arm`) where the target has the DSP extension, the reference kernels elsewhere.
#[cfg(mote_arm_dsp)]
pub use arm::{conv2d_i8, fully_connected_i8};
#[cfg(not(mote_arm_dsp))]
pub use {conv::conv2d_i8, fully_connected::fully_connected_i8};

/// Highest tensor rank any kernel accepts.
pub const MAX_RANK: usize = 6;

/// Deterministic test data shared by the kernel suites.
#[cfg(test)]
pub(crate) mod test_rng {
    /// SplitMix64: the tensor contents of a case come from a proptest-chosen seed.
    pub struct Rng(pub u64);
    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
            lo + (self.next() % (hi - lo + 1) as u64) as i64
        }
        pub fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
        pub fn f32_in(&mut self, lo: f32, hi: f32) -> f32 {
            lo + (hi - lo) * self.unit() as f32
        }
        /// A fused-activation clamp: none, Relu, Relu6 or a random interval.
        pub fn act_f32(&mut self) -> (f32, f32) {
            match self.int(0, 3) {
                0 => (f32::NEG_INFINITY, f32::INFINITY),
                1 => (0.0, f32::INFINITY),
                2 => (0.0, 6.0),
                _ => {
                    let (a, b) = (self.f32_in(-8.0, 8.0), self.f32_in(-8.0, 8.0));
                    (a.min(b), a.max(b))
                }
            }
        }
        /// A quantized clamp: none, Relu at `zero_point`, or a random interval.
        pub fn act_i8(&mut self, zero_point: i32) -> (i8, i8) {
            match self.int(0, 2) {
                0 => (-128, 127),
                1 => (zero_point as i8, 127),
                _ => {
                    let (a, b) = (self.int(-128, 127) as i8, self.int(-128, 127) as i8);
                    (a.min(b), a.max(b))
                }
            }
        }
    }
}
