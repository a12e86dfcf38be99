//! int8 convolution and fully connected kernels for Arm cores with the DSP extension
//! (Cortex-M4, M7, M33, M55 …), bit-exact with the reference kernels.
//!
//! [`conv2d_i8`] and [`fully_connected_i8`] have the reference kernels' signatures and contract
//! and are what the interpreter calls where the build script sets `cfg(mote_arm_dsp)` (see
//! `runtime/build.rs`: `thumbv7em` always, `thumbv8m.main` with `-C target-cpu=cortex-m33` or
//! similar). Each picks a specialisation by shape, in this order, and otherwise runs the
//! reference kernel:
//!
//! | shape | specialisation | inner loop |
//! |---|---|---|
//! | depthwise, multiplier 1 | [`depthwise::depthwise_conv2d_s8`] | `SMLAD` over two horizontal taps of int16 planes |
//! | regular, `K = kh·kw·c <= 180` (1×1 included) | [`conv::conv2d_block_s8`] | an int8 window × 8 channels' widened weights |
//! | regular, larger `K` | [`conv::conv2d_im2col_s8`] | two widened windows × two int8 weight rows |
//! | fully connected | [`fc::fully_connected_s8`] | two widened rows × two int8 weight rows; a single row × three (eight weights a load) |
//! | fully connected, weights in the `fc-q15` layout ([`fully_connected_q15_i8_with_scratch`]) | [`fc::fully_connected_q15_s8`] | a widened row × three int16 weight rows (two `LDRD`, four `SMLAD` per eight MACs a row) |
//!
//! On cores with Helium (`cfg(mote_arm_mve)`, Cortex-M55) the interpreter calls [`mve`]'s
//! wrappers instead, which hand what they do not cover to these.
//!
//! All of them need the output stage of [`requant::OutputStage`] (normalised multipliers below
//! 0.5 or zero ones, per tensor or per channel: what the converter writes) and an input zero
//! point in the int8 range; grouped convolutions, depthwise multipliers above 1 and shapes whose
//! scratch does not fit also take the reference.
//!
//! A zero multiplier is what the converter writes for an output channel whose weights are all
//! zero or whose scale underflows ("dead"; the visual wake words MobileNetV1 has up to 7 in 8 of
//! them in its late pointwise layers). Its output is the zero point, clamped, whatever the
//! input: the regular convolutions compute only the live channels
//! ([`conv::LiveChannels`]) and write the dead ones' bytes once.
//!
//! Same-shape int8 Add and Sub ([`elementwise::binary_i8`], [`elementwise::binary_inplace_i8`])
//! run the reference's operand terms, tabulated per operand byte, through the same output stage.
//!
//! # Exactness
//! The reference accumulates `bias + sum (x - x_zero_point) * w` in wrapping `i32`. Here the
//! products are summed two at a time by `SMLAD`, whose accumulation is the same wrapping `i32`
//! add, and every operand is exact in int16 (`x - x_zero_point` is in `-255..=255`); the weight
//! block path subtracts `x_zero_point * sum(w)` from the start instead, equal modulo `2^32`. Integer
//! sums do not depend on their order, so the accumulators equal the reference's, and the output
//! stage is exact (see [`requant`]). The host tests run this code with portable definitions of the
//! instructions; `examples/kernel-conformance` runs it on Cortex-M4 and M33 under QEMU against the
//! reference kernels on generated cases.
//!
//! # Scratch
//! Widened operands and gathered windows live in a scratch buffer that is part of the model's
//! planned arena: [`conv2d_i8_scratch_bytes`] and [`fully_connected_i8_scratch_bytes`] state how
//! much a shape needs (at most [`SCRATCH_BYTES`]; the specialisation's own `*_scratch_words`), the
//! converter places that many bytes for the op, and the interpreter hands them to
//! [`conv2d_i8_with_scratch`] / [`fully_connected_i8_with_scratch`]. A scratch shorter than the
//! shape needs (or misaligned) takes the reference kernel, never memory it was not given.
//! [`conv2d_i8`] and [`fully_connected_i8`] keep the reference kernels' signature for the
//! conformance suites: they take exactly the planned number of bytes from a stack buffer.

/// The first line of every `global_asm!` here. Module-level assembly is parsed once more, for
/// the symbol table of linker-plugin LTO, as for the target's base architecture, without
/// `-C target-cpu`; ARMv8-M Mainline's base has no DSP instructions, so the assembly names a core
/// that has them. (ARMv7E-M's base has them.)
#[cfg(all(mote_arm_dsp, mote_armv8m))]
macro_rules! dsp_cpu {
    () => {
        ".cpu cortex-m33"
    };
}
#[cfg(all(mote_arm_dsp, not(mote_armv8m)))]
macro_rules! dsp_cpu {
    () => {
        ""
    };
}

pub mod conv;
pub mod depthwise;
pub mod dsp;
pub mod elementwise;
pub mod fc;
pub mod matmul;
pub mod mve;
pub mod requant;

use crate::kernels::conv::Conv2dParams;
use crate::kernels::fully_connected::FcParams;
use crate::quant::{Requant, RequantTable};
use requant::OutputStage;

/// The most scratch one op's kernel takes, in bytes: the specialisations are chosen (and their
/// chunks sized) so that their scratch fits. Enough for the MLPerf Tiny models' layers (the
/// largest, ResNet-8's 3×3×64 convolution, needs 2,880).
pub const SCRATCH_BYTES: usize = 3072;

/// A kernel's scratch: words of the arena the planner reserved for the op, 4-byte aligned, at
/// least what the specialisation's `*_scratch_words` states for the call; a kernel writes every
/// word it reads.
pub struct Scratch<'a>(&'a mut [u32]);

impl Scratch<'_> {
    /// The most words a specialisation may take ([`SCRATCH_BYTES`]).
    pub const WORDS: usize = SCRATCH_BYTES / 4;

    fn words(&mut self) -> *mut u32 {
        self.0.as_mut_ptr()
    }
}

/// Runs `kernel` on the first `bytes` (at most [`SCRATCH_BYTES`]) of a stack buffer: how the
/// reference-signature entry points, which the conformance suites call, stand in for the op's
/// planned scratch.
fn with_stack_scratch(bytes: usize, kernel: impl FnOnce(&mut [u8])) {
    let mut words = [0u32; Scratch::WORDS];
    let scratch: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    kernel(&mut scratch[..bytes.min(SCRATCH_BYTES)]);
}

/// The first `bytes` of `scratch` as words, `None` when it is shorter or not 4-byte aligned.
fn scratch_words(scratch: &mut [u8], bytes: usize) -> Option<Scratch<'_>> {
    let words: &mut [u32] = bytemuck::try_cast_slice_mut(scratch.get_mut(..bytes)?).ok()?;
    Some(Scratch(words))
}

/// Bytes of scratch [`conv2d_i8_with_scratch`] uses for `p`: its specialisation's need, 0 for
/// the reference. It depends on the shape alone (not on the requantization or the zero points,
/// which may still send a call to the reference), so the converter can plan it for every target.
pub fn conv2d_i8_scratch_bytes(p: &Conv2dParams) -> usize {
    4 * match shape_path(p) {
        ConvPath::Depthwise => depthwise::scratch_words(p),
        ConvPath::Block => conv::block_scratch_words(p),
        ConvPath::Im2col => conv::im2col_scratch_words(p),
        ConvPath::Reference => 0,
    }
}

/// Bytes of scratch [`fully_connected_i8_with_scratch`] uses for `p` (0 for the reference).
pub fn fully_connected_i8_scratch_bytes(p: &FcParams) -> usize {
    if fc::supports(p) {
        4 * fc::scratch_words(p)
    } else {
        0
    }
}

/// Which kernel [`conv2d_i8`] runs for a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvPath {
    Depthwise,
    Block,
    Im2col,
    Reference,
}

/// The decision tree of [`conv2d_i8`] (for slices of the documented lengths).
pub fn conv_path(p: &Conv2dParams, x_zero_point: i32, requant: &[Requant], out_zero_point: i32) -> ConvPath {
    if (-128..=127).contains(&x_zero_point) && OutputStage::new(requant, p.output[3], out_zero_point, (-128, 127)).is_some() {
        shape_path(p)
    } else {
        ConvPath::Reference
    }
}

/// The specialisation for `p`'s shape, given a covered output stage and input zero point.
fn shape_path(p: &Conv2dParams) -> ConvPath {
    if depthwise::supports(p) {
        ConvPath::Depthwise
    } else if conv::supports_block(p) {
        ConvPath::Block
    } else if conv::supports_im2col(p) {
        ConvPath::Im2col
    } else {
        ConvPath::Reference
    }
}

/// Whether the slices have the lengths the kernel contract states.
fn conv_lengths_match(p: &Conv2dParams, x: &[i8], w: &[i8], bias: Option<&[i32]>, out: &[i8]) -> bool {
    let [_, _, _, c] = p.input;
    let oc = p.output[3];
    let groups = p.groups.max(1);
    x.len() == p.input.iter().product::<usize>()
        && out.len() == p.output.iter().product::<usize>()
        && w.len() == oc * p.kernel[0] * p.kernel[1] * (c / groups)
        && bias.is_none_or(|b| b.len() == oc)
}

/// int8 2-D convolution: [`crate::kernels::conv::conv2d_i8`]'s contract and bytes, with
/// `scratch` of at least [`conv2d_i8_scratch_bytes`] bytes, 4-byte aligned (else the reference
/// runs).
#[allow(clippy::too_many_arguments)]
pub fn conv2d_i8_with_scratch(
    p: &Conv2dParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    requant: RequantTable<'_>,
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
    scratch: &mut [u8],
) {
    let stage = OutputStage::of(requant, p.output[3], out_zero_point, act)
        .filter(|_| (-128..=127).contains(&x_zero_point) && conv_lengths_match(p, x, w, bias, out));
    let requant = requant.entries();
    let scratch = scratch_words(scratch, conv2d_i8_scratch_bytes(p));
    let (Some(stage), Some(mut scratch), path) = (stage, scratch, shape_path(p)) else {
        return crate::kernels::conv::conv2d_i8(p, x, x_zero_point, w, bias, requant, out_zero_point, out, act);
    };
    let scratch = &mut scratch;
    let live = conv::LiveChannels::new(&stage, p.output[3]);
    // SAFETY: the path's `supports` holds, the stage is for `oc` channels (and `live` from it),
    // `x_zero_point` is in the int8 range, the lengths match (checked above) and the scratch holds
    // the path's need.
    unsafe {
        match path {
            ConvPath::Depthwise => depthwise::depthwise_conv2d_s8(p, x, x_zero_point, w, bias, &stage, out, scratch),
            ConvPath::Block => conv::conv2d_block_s8(p, x, x_zero_point, w, bias, &stage, live.as_ref(), out, scratch),
            ConvPath::Im2col => conv::conv2d_im2col_s8(p, x, x_zero_point, w, bias, &stage, live.as_ref(), out, scratch),
            ConvPath::Reference => crate::kernels::conv::conv2d_i8(p, x, x_zero_point, w, bias, requant, out_zero_point, out, act),
        }
    }
}

/// int8 2-D convolution: [`crate::kernels::conv::conv2d_i8`]'s signature, contract and bytes,
/// through [`conv2d_i8_with_scratch`] with exactly [`conv2d_i8_scratch_bytes`] of a stack
/// buffer (what the conformance suites call).
#[allow(clippy::too_many_arguments)]
pub fn conv2d_i8(
    p: &Conv2dParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    requant: &[Requant],
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
) {
    with_stack_scratch(crate::kernels::conv2d_i8_scratch_bytes(p), |scratch| {
        conv2d_i8_with_scratch(p, x, x_zero_point, w, bias, RequantTable::new(requant), out_zero_point, out, act, scratch)
    });
}

/// Whether [`fully_connected_i8`] runs the DSP kernel (`true`) or the reference.
pub fn fc_is_fast(p: &FcParams, x_zero_point: i32, requant: &[Requant], out_zero_point: i32) -> bool {
    (-128..=127).contains(&x_zero_point) && OutputStage::new(requant, p.outputs, out_zero_point, (-128, 127)).is_some() && fc::supports(p)
}

/// int8 fully connected layer: [`crate::kernels::fully_connected::fully_connected_i8`]'s
/// contract and bytes, with `scratch` of at least [`fully_connected_i8_scratch_bytes`] bytes,
/// 4-byte aligned (else the reference runs).
#[allow(clippy::too_many_arguments)]
pub fn fully_connected_i8_with_scratch(
    p: &FcParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    requant: RequantTable<'_>,
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
    scratch: &mut [u8],
) {
    let lengths = p.fits(x.len(), w.len(), out.len(), bias);
    let stage = OutputStage::of(requant, p.outputs, out_zero_point, act);
    let requant = requant.entries();
    let scratch = scratch_words(scratch, fully_connected_i8_scratch_bytes(p));
    match (stage, scratch) {
        (Some(stage), Some(mut scratch)) if lengths && (-128..=127).contains(&x_zero_point) && fc::supports(p) => {
            // SAFETY: `fc::supports` holds, the stage is for `outputs` channels, `x_zero_point`
            // is in the int8 range, the lengths match and the scratch holds the kernel's need.
            unsafe { fc::fully_connected_s8(p, x, x_zero_point, w, bias, &stage, out, &mut scratch) }
        }
        _ => crate::kernels::fully_connected::fully_connected_i8(p, x, x_zero_point, w, bias, requant, out_zero_point, out, act),
    }
}

/// int8 fully connected layer: [`crate::kernels::fully_connected::fully_connected_i8`]'s
/// signature, contract and bytes, through [`fully_connected_i8_with_scratch`] with exactly
/// [`fully_connected_i8_scratch_bytes`] of a stack buffer (what the conformance suites call).
#[allow(clippy::too_many_arguments)]
pub fn fully_connected_i8(
    p: &FcParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    requant: &[Requant],
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
) {
    with_stack_scratch(crate::kernels::fully_connected_i8_scratch_bytes(p), |scratch| {
        fully_connected_i8_with_scratch(p, x, x_zero_point, w, bias, RequantTable::new(requant), out_zero_point, out, act, scratch)
    });
}

/// int8 fully connected layer on weights in the `fc-q15` layout:
/// [`crate::kernels::fully_connected::fully_connected_q15_i8`]'s contract and bytes, with
/// `scratch` as [`fully_connected_i8_with_scratch`] takes it (else the reference runs).
#[allow(clippy::too_many_arguments)]
pub fn fully_connected_q15_i8_with_scratch(
    p: &FcParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i16],
    bias: Option<&[i32]>,
    requant: RequantTable<'_>,
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
    scratch: &mut [u8],
) {
    let fits = p.fits(x.len(), w.len(), out.len(), bias)
        && p.inputs % 4 == 0
        && w.as_ptr() as usize % 4 == 0
        && (-128..=127).contains(&x_zero_point)
        && fc::supports(p);
    let stage = OutputStage::of(requant, p.outputs, out_zero_point, act);
    let requant = requant.entries();
    let scratch = scratch_words(scratch, fully_connected_i8_scratch_bytes(p));
    match (stage, scratch) {
        (Some(stage), Some(mut scratch)) if fits => {
            // SAFETY: checked above: `fc::supports`, `k % 4 == 0`, `w` aligned, the stage for
            // `outputs` channels, `x_zero_point` in range, the lengths, the scratch's need.
            unsafe { fc::fully_connected_q15_s8(p, x, x_zero_point, w, bias, &stage, out, &mut scratch) }
        }
        _ => crate::kernels::fully_connected::fully_connected_q15_i8(p, x, x_zero_point, w, bias, requant, out_zero_point, out, act),
    }
}

/// [`fully_connected_q15_i8_with_scratch`] with the reference kernel's signature, its scratch
/// from the stack (what the conformance suites call).
#[allow(clippy::too_many_arguments)]
pub fn fully_connected_q15_i8(
    p: &FcParams,
    x: &[i8],
    x_zero_point: i32,
    w: &[i16],
    bias: Option<&[i32]>,
    requant: &[Requant],
    out_zero_point: i32,
    out: &mut [i8],
    act: (i8, i8),
) {
    with_stack_scratch(crate::kernels::fully_connected_i8_scratch_bytes(p), |scratch| {
        fully_connected_q15_i8_with_scratch(p, x, x_zero_point, w, bias, RequantTable::new(requant), out_zero_point, out, act, scratch)
    });
}

/// Deterministic test data for the Arm kernels' own tests (SplitMix64).
#[cfg(test)]
pub(crate) mod test_rng {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::arm::test_rng::Rng;
    use crate::quant::quantize_multiplier;
    use std::vec::Vec;

    fn random_i8(rng: &mut Rng, n: usize) -> Vec<i8> {
        (0..n).map(|_| rng.int(-128, 127) as i8).collect()
    }

    fn params(input: [usize; 4], output: [usize; 4], kernel: [usize; 2], stride: usize, pad: [usize; 2], groups: usize) -> Conv2dParams {
        Conv2dParams { input, output, kernel, stride: [stride; 2], dilation: [1, 1], pad, groups }
    }

    /// Runs `p` on random data through [`conv2d_i8`] and the reference; checks the path taken and
    /// every output byte.
    fn check_conv(p: Conv2dParams, want: ConvPath, seed: u64) {
        check_conv_dead(p, want, seed, 0);
    }

    /// [`check_conv`] with every `dead`-th channel's multiplier zero (none for 0), as a channel
    /// whose weights are all zero gets.
    fn check_conv_dead(p: Conv2dParams, want: ConvPath, seed: u64, dead: usize) {
        let mut rng = Rng(seed);
        let oc = p.output[3];
        let x = random_i8(&mut rng, p.input.iter().product());
        let w = random_i8(&mut rng, oc * p.kernel[0] * p.kernel[1] * p.input[3] / p.groups);
        let bias: Vec<i32> = (0..oc).map(|_| rng.int(-50_000, 50_000) as i32).collect();
        let mut requant: Vec<Requant> = (0..oc).map(|_| quantize_multiplier(libm::pow(10.0, -4.0 + 3.0 * rng.unit()))).collect();
        if dead > 0 {
            requant.iter_mut().step_by(dead).for_each(|r| *r = quantize_multiplier(0.0));
        }
        let (x_zp, out_zp) = (rng.int(-128, 127) as i32, rng.int(-128, 127) as i32);
        let act = rng.act_i8(out_zp);
        assert_eq!(conv_path(&p, x_zp, &requant, out_zp), want, "{p:?}");
        let n = p.output.iter().product();
        let (mut got, mut reference) = (std::vec![0i8; n], std::vec![0i8; n]);
        conv2d_i8(&p, &x, x_zp, &w, Some(&bias), &requant, out_zp, &mut got, act);
        crate::kernels::conv::conv2d_i8(&p, &x, x_zp, &w, Some(&bias), &requant, out_zp, &mut reference, act);
        assert_eq!(got, reference, "{p:?}");
        // The kernel stays inside the scratch it states: words past it keep their canary.
        let need = conv2d_i8_scratch_bytes(&p);
        assert_eq!(need == 0, want == ConvPath::Reference, "{p:?}");
        assert!(need <= SCRATCH_BYTES && need % 4 == 0, "{p:?}");
        let mut words = std::vec![0xa5a5_a5a5u32; need / 4 + 16];
        got.fill(0);
        conv2d_i8_with_scratch(&p, &x, x_zp, &w, Some(&bias), RequantTable::new(&requant), out_zp, &mut got, act, &mut bytemuck::cast_slice_mut(&mut words)[..need]);
        assert_eq!(got, reference, "{p:?}");
        assert!(words[need / 4..].iter().all(|&v| v == 0xa5a5_a5a5), "{p:?} wrote past its {need} B of scratch");
        // The table as the loader hands it (known normal unless a channel is dead): the same bytes.
        let table = RequantTable::checked(&requant);
        assert_eq!(table.is_normal(), dead == 0, "{p:?}");
        got.fill(0);
        conv2d_i8_with_scratch(&p, &x, x_zp, &w, Some(&bias), table, out_zp, &mut got, act, &mut bytemuck::cast_slice_mut(&mut words)[..need]);
        assert_eq!(got, reference, "{p:?}");
        // A shorter scratch takes the reference: the same bytes.
        if need > 0 {
            got.fill(0);
            conv2d_i8_with_scratch(&p, &x, x_zp, &w, Some(&bias), RequantTable::new(&requant), out_zp, &mut got, act, &mut bytemuck::cast_slice_mut(&mut words)[..need - 4]);
            assert_eq!(got, reference, "{p:?}");
        }
    }

    #[test]
    fn benchmark_layers_take_their_paths_and_match_the_reference() {
        // KWS DS-CNN: the 10x4 stride-2 first layer, depthwise 3x3, pointwise 64 -> 64.
        check_conv(params([1, 49, 10, 1], [1, 25, 5, 64], [10, 4], 2, [4, 1], 1), ConvPath::Block, 1);
        check_conv(params([1, 25, 5, 64], [1, 25, 5, 64], [3, 3], 1, [1, 1], 64), ConvPath::Depthwise, 2);
        check_conv(params([1, 25, 5, 64], [1, 25, 5, 64], [1, 1], 1, [0, 0], 1), ConvPath::Block, 3);
        // ResNet-8: 3 input channels (K = 27), 1x1 stride 2, 3x3 stride 2 padded at the bottom,
        // 3x3 with K = 576.
        check_conv(params([1, 32, 32, 3], [1, 32, 32, 16], [3, 3], 1, [1, 1], 1), ConvPath::Block, 4);
        check_conv(params([1, 32, 32, 16], [1, 16, 16, 32], [1, 1], 2, [0, 0], 1), ConvPath::Block, 5);
        check_conv(params([1, 16, 16, 32], [1, 8, 8, 64], [3, 3], 2, [0, 0], 1), ConvPath::Im2col, 6);
        check_conv(params([1, 8, 8, 64], [1, 8, 8, 64], [3, 3], 1, [1, 1], 1), ConvPath::Im2col, 7);
    }

    #[test]
    fn visual_wake_words_layers_with_dead_channels_take_their_paths() {
        // MobileNetV1 0.25 at 96x96: the 3-channel stride-2 first layer, depthwise stride 1 and
        // 2 (padded at the bottom and right only), pointwise 64 -> 128, 128 -> 128 and
        // 256 -> 256, many of whose channels have all-zero weights (zero multipliers).
        check_conv(params([1, 96, 96, 3], [1, 48, 48, 8], [3, 3], 2, [0, 0], 1), ConvPath::Block, 20);
        check_conv(params([1, 48, 48, 8], [1, 48, 48, 8], [3, 3], 1, [1, 1], 8), ConvPath::Depthwise, 21);
        check_conv(params([1, 48, 48, 16], [1, 24, 24, 16], [3, 3], 2, [0, 0], 16), ConvPath::Depthwise, 22);
        check_conv_dead(params([1, 6, 6, 64], [1, 6, 6, 128], [1, 1], 1, [0, 0], 1), ConvPath::Block, 23, 5);
        check_conv_dead(params([1, 6, 6, 128], [1, 6, 6, 128], [1, 1], 1, [0, 0], 1), ConvPath::Block, 24, 2);
        check_conv_dead(params([1, 6, 6, 128], [1, 3, 3, 128], [3, 3], 2, [0, 0], 128), ConvPath::Depthwise, 25, 7);
        check_conv_dead(params([1, 3, 3, 256], [1, 3, 3, 256], [1, 1], 1, [0, 0], 1), ConvPath::Im2col, 26, 1);
        check_conv_dead(params([1, 3, 3, 256], [1, 3, 3, 256], [1, 1], 1, [0, 0], 1), ConvPath::Im2col, 27, 3);
        // Dead channels in gathered windows, a partial last block, odd channel counts and K.
        check_conv_dead(params([2, 7, 9, 3], [2, 4, 5, 13], [3, 3], 2, [1, 1], 1), ConvPath::Block, 28, 3);
        check_conv_dead(params([1, 5, 3, 21], [1, 5, 3, 5], [3, 3], 1, [1, 1], 1), ConvPath::Im2col, 29, 2);
        check_conv_dead(params([1, 5, 4, 24], [1, 5, 4, 6], [3, 3], 1, [1, 1], 1), ConvPath::Im2col, 30, 4);
    }

    #[test]
    fn odd_shapes_match_the_reference() {
        // Odd channel and pixel counts, K % 4 != 0, batch 2, partial weight blocks.
        check_conv(params([2, 3, 5, 5], [2, 3, 5, 7], [1, 1], 1, [0, 0], 1), ConvPath::Block, 8);
        check_conv(params([2, 3, 5, 12], [2, 3, 5, 13], [1, 1], 1, [0, 0], 1), ConvPath::Block, 8);
        check_conv(params([2, 4, 3, 3], [2, 4, 3, 5], [2, 3], 1, [1, 1], 1), ConvPath::Block, 9);
        check_conv(params([1, 5, 3, 21], [1, 5, 3, 5], [3, 3], 1, [1, 1], 1), ConvPath::Im2col, 9);
        check_conv(params([2, 4, 3, 24], [2, 4, 3, 7], [3, 3], 1, [1, 1], 1), ConvPath::Im2col, 9);
        check_conv(params([1, 7, 9, 7], [1, 4, 5, 7], [5, 3], 2, [2, 1], 7), ConvPath::Depthwise, 10);
        check_conv(params([1, 7, 9, 6], [1, 4, 5, 6], [3, 3], 2, [1, 1], 6), ConvPath::Depthwise, 10);
        // Windows wholly in the padding.
        check_conv(params([1, 2, 2, 4], [1, 4, 4, 3], [1, 1], 1, [1, 1], 1), ConvPath::Block, 11);
        check_conv(params([1, 2, 2, 4], [1, 5, 5, 4], [1, 1], 1, [2, 2], 4), ConvPath::Depthwise, 12);
        // Dilation.
        let dilated = Conv2dParams { dilation: [2, 3], ..params([1, 9, 11, 6], [1, 5, 5, 6], [3, 3], 1, [0, 1], 6) };
        check_conv(dilated, ConvPath::Depthwise, 13);
        check_conv(Conv2dParams { groups: 1, ..dilated }, ConvPath::Block, 14);
        check_conv(Conv2dParams { groups: 1, ..params([1, 9, 11, 24], [1, 5, 5, 6], [3, 3], 1, [0, 1], 1) }, ConvPath::Im2col, 14);
        // A depthwise image taller than the scratch holds: several bands.
        check_conv(params([1, 40, 60, 4], [1, 40, 60, 4], [3, 3], 1, [1, 1], 4), ConvPath::Depthwise, 15);
        // Depthwise multiplier 2 and grouped convolutions stay on the reference.
        check_conv(params([1, 5, 5, 3], [1, 5, 5, 6], [3, 3], 1, [1, 1], 3), ConvPath::Reference, 16);
        check_conv(params([1, 5, 5, 4], [1, 5, 5, 4], [3, 3], 1, [1, 1], 2), ConvPath::Reference, 17);
    }

    #[test]
    fn uncovered_requant_and_zero_points_take_the_reference() {
        let p = params([1, 5, 5, 4], [1, 5, 5, 4], [1, 1], 1, [0, 0], 1);
        let rq = |m: f64| [quantize_multiplier(m)];
        assert_eq!(conv_path(&p, 0, &rq(0.01), 0), ConvPath::Block);
        assert_eq!(conv_path(&p, 0, &rq(0.5), 0), ConvPath::Reference);
        assert_eq!(conv_path(&p, 0, &rq(0.0), 0), ConvPath::Block);
        assert_eq!(conv_path(&p, 0, &[Requant { multiplier: 0, shift: -2 }], 0), ConvPath::Reference);
        assert_eq!(conv_path(&p, 200, &rq(0.01), 0), ConvPath::Reference);
        assert_eq!(conv_path(&p, 0, &rq(0.01), -129), ConvPath::Reference);
    }

    #[test]
    fn fully_connected_matches_the_reference() {
        let shapes = [(1, 640, 128), (1, 128, 8), (3, 10, 5), (2, 7, 1), (4, 64, 12), (1, 64, 10), (3, 64, 7), (1, 8, 3), (1, 44, 9), (1, 52, 10), (1, 60, 6), (1, 56, 11), (1, 68, 3), (1, 48, 4), (1, 40, 5), (1, 4, 2), (1, 28, 640)];
        for (seed, ((rows, inputs, outputs), offset)) in shapes.into_iter().flat_map(|s| [(s, 0), (s, 1)]).enumerate() {
            let mut rng = Rng(seed as u64);
            let p = FcParams { rows, inputs, outputs };
            let x = random_i8(&mut rng, rows * inputs);
            // Weights 4-byte aligned (offset 0: three rows per pass) or not (four rows per pass).
            let mut w_words = std::vec![0u32; (outputs * inputs).div_ceil(4) + 1];
            let w_bytes: &mut [i8] = bytemuck::cast_slice_mut(&mut w_words);
            let w = &mut w_bytes[offset..offset + outputs * inputs];
            w.copy_from_slice(&random_i8(&mut rng, outputs * inputs));
            let w = &*w;
            let bias: Vec<i32> = (0..outputs).map(|_| rng.int(-50_000, 50_000) as i32).collect();
            let requant: Vec<Requant> = (0..outputs).map(|_| quantize_multiplier(libm::pow(10.0, -5.0 + 3.0 * rng.unit()))).collect();
            let (x_zp, out_zp) = (rng.int(-128, 127) as i32, rng.int(-128, 127) as i32);
            let act = rng.act_i8(out_zp);
            assert!(fc_is_fast(&p, x_zp, &requant, out_zp));
            let (mut got, mut reference) = (std::vec![0i8; rows * outputs], std::vec![0i8; rows * outputs]);
            fully_connected_i8(&p, &x, x_zp, w, Some(&bias), &requant, out_zp, &mut got, act);
            crate::kernels::fully_connected::fully_connected_i8(&p, &x, x_zp, w, Some(&bias), &requant, out_zp, &mut reference, act);
            assert_eq!(got, reference, "{p:?}");
            let need = fully_connected_i8_scratch_bytes(&p);
            assert_eq!(need, if rows > 1 { 4 } else { 2 } * 4 * (inputs / 4));
            let mut words = std::vec![0xa5a5_a5a5u32; need / 4 + 16];
            got.fill(0);
            fully_connected_i8_with_scratch(&p, &x, x_zp, w, Some(&bias), RequantTable::new(&requant), out_zp, &mut got, act, &mut bytemuck::cast_slice_mut(&mut words)[..need]);
            assert_eq!(got, reference, "{p:?}");
            assert!(words[need / 4..].iter().all(|&v| v == 0xa5a5_a5a5), "{p:?} wrote past its {need} B of scratch");
            let table = RequantTable::checked(&requant);
            assert!(table.is_normal());
            got.fill(0);
            fully_connected_i8_with_scratch(&p, &x, x_zp, w, Some(&bias), table, out_zp, &mut got, act, &mut bytemuck::cast_slice_mut(&mut words)[..need]);
            assert_eq!(got, reference, "{p:?}");
        }
    }

    /// The shared conformance suites, run on the host through the portable twins of the
    /// assembly; `examples/kernel-conformance` runs the assembly itself under QEMU.
    #[test]
    fn conformance_suites() {
        use crate::conformance::{self, Cases};
        for seed in [1, 2, 3] {
            if let Err(m) = conformance::conv2d_i8(conv2d_i8, Cases::new(seed, 2000)) {
                panic!("{m}");
            }
            if let Err(m) = conformance::fully_connected_i8(fully_connected_i8, Cases::new(seed, 2000)) {
                panic!("{m}");
            }
            if let Err(m) = conformance::fully_connected_q15_i8(fully_connected_q15_i8, Cases::new(seed, 2000)) {
                panic!("{m}");
            }
            if let Err(m) = conformance::binary_i8(elementwise::binary_i8, Cases::new(seed, 2000)) {
                panic!("{m}");
            }
            if let Err(m) = conformance::binary_inplace_i8(elementwise::binary_inplace_i8, Cases::new(seed, 2000)) {
                panic!("{m}");
            }
        }
    }
}
