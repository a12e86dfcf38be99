//! Generated cases: SplitMix64 from a seed, one case per index, no heap.
//!
//! Every case is a convolution or fully connected layer with all its operands written into the
//! caller's buffers. The draws aim at what can break a fast kernel: the shapes each
//! specialisation takes (depthwise, 1×1, small and large `K`) and the edges of their scope,
//! odd channel counts (1, 3, 5, 7), `K` not a multiple of 4, padding up to windows lying wholly
//! in it, stride 1–3, dilation, batch 2, zero points of both signs and at ±128, requant per
//! tensor and per channel with shifts of both signs (the positive ones leave the fast output
//! stage), biases up to `i32::MIN` / `i32::MAX` (wrapping accumulators), activation clamps
//! (none, ReLU, an interval, an empty interval), the keyword-spotting model's own layers, and
//! the visual wake words model's layer kinds at reduced sizes, a third of their channels dead
//! (zero multiplier, as all-zero weights get).

use mote_runtime::kernels::conv::Conv2dParams;
use mote_runtime::kernels::fully_connected::FcParams;
use mote_runtime::quant::{quantize_multiplier, Requant};

pub const MAX_X: usize = 8192;
pub const MAX_W: usize = 8192;
pub const MAX_OUT: usize = 8192;
pub const MAX_CHANNELS: usize = 64;

/// SplitMix64.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    pub fn size(&mut self, lo: usize, hi: usize) -> usize {
        self.int(lo as i64, hi as i64) as usize
    }

    /// True with probability `percent / 100`.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.next() as usize % from.len()]
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The operands of one case; slices of the caller's buffers.
pub struct Operands<'a> {
    pub x: &'a [i8],
    pub x_zero_point: i32,
    pub w: &'a [i8],
    pub bias: Option<&'a [i32]>,
    pub requant: &'a [Requant],
    pub out_zero_point: i32,
    pub act: (i8, i8),
    /// Output length.
    pub out: usize,
}

/// What a case computes.
#[derive(Clone, Copy, Debug)]
pub enum Layer {
    Conv(Conv2dParams),
    Fc(FcParams),
}

/// The caller's buffers, filled case by case.
pub struct Buffers {
    pub x: [i8; MAX_X],
    pub w: [i8; MAX_W],
    pub bias: [i32; MAX_CHANNELS],
    pub requant: [Requant; MAX_CHANNELS],
}

impl Buffers {
    pub const fn new() -> Buffers {
        Buffers { x: [0; MAX_X], w: [0; MAX_W], bias: [0; MAX_CHANNELS], requant: [Requant::ONE; MAX_CHANNELS] }
    }
}

fn out_size(size: usize, k: usize, stride: usize, dilation: usize, before: usize, after: usize) -> usize {
    let eff = (k - 1) * dilation + 1;
    (size + before + after).saturating_sub(eff) / stride + 1
}

/// A convolution of `input` `[n, h, w, c]` to `oc` channels, the rest drawn.
fn conv(rng: &mut Rng, [n, h, w, c]: [usize; 4], oc: usize, groups: usize, kernel: [usize; 2], stride: [usize; 2], dilation: [usize; 2]) -> Conv2dParams {
    let pads: [usize; 4] = core::array::from_fn(|_| if rng.chance(30) { 0 } else { rng.size(0, 2) });
    let oh = out_size(h, kernel[0], stride[0], dilation[0], pads[0], pads[2]);
    let ow = out_size(w, kernel[1], stride[1], dilation[1], pads[1], pads[3]);
    Conv2dParams { input: [n, h, w, c], output: [n, oh, ow, oc], kernel, stride, dilation, pad: [pads[0], pads[1]], groups }
}

/// A geometry of each family in turn: index `i % 8` picks it.
fn conv_geometry(rng: &mut Rng, i: usize) -> Conv2dParams {
    let odd = [1, 3, 5, 7];
    let n = if rng.chance(15) { 2 } else { 1 };
    let (h, w) = (rng.size(1, 7), rng.size(1, 7));
    let stride = [rng.pick(&[1, 1, 2, 3]), rng.pick(&[1, 1, 2, 3])];
    let dilation = if rng.chance(20) { [rng.size(1, 2), rng.size(1, 3)] } else { [1, 1] };
    match i % 8 {
        // Depthwise, 3x3 mostly, wider images.
        0 | 1 => {
            let c = if rng.chance(40) { rng.pick(&odd) } else { rng.size(1, 20) };
            let kernel = if rng.chance(70) { [3, 3] } else { [rng.size(1, 5), rng.size(1, 5)] };
            let stride = if rng.chance(60) { [1, 1] } else { stride };
            let w = rng.size(1, 12);
            conv(rng, [n, h, w, c], c, c, kernel, stride, dilation)
        }
        // 1x1, mostly without padding.
        2 | 3 => {
            let c = if rng.chance(30) { rng.pick(&odd) } else { 4 * rng.size(1, 12) };
            let oc = if rng.chance(30) { rng.pick(&odd) } else { rng.size(1, 24) };
            let mut p = conv(rng, [n, h, w, c], oc, 1, [1, 1], stride, [1, 1]);
            if rng.chance(75) {
                p.pad = [0, 0];
                p.output[1] = out_size(h, 1, stride[0], 1, 0, 0);
                p.output[2] = out_size(w, 1, stride[1], 1, 0, 0);
            }
            p
        }
        // Small K: any kernel, few input channels.
        4 | 5 => {
            let c = if rng.chance(40) { rng.pick(&odd) } else { rng.size(1, 8) };
            let oc = if rng.chance(30) { rng.pick(&odd) } else { rng.size(1, 20) };
            let kernel = [rng.size(1, 5), rng.size(1, 5)];
            conv(rng, [n, h, w, c], oc, 1, kernel, stride, dilation)
        }
        // Large K (more than a weight block holds): 3x3 over many channels.
        6 => {
            let c = rng.size(21, 64);
            let oc = if rng.chance(40) { rng.pick(&odd) } else { rng.size(1, 12) };
            conv(rng, [1, h.min(5), w.min(5), c], oc, 1, [3, 3], stride, [1, 1])
        }
        // What stays on the reference: depthwise multiplier 2, grouped.
        _ => {
            let c = rng.size(1, 6);
            if rng.chance(50) {
                conv(rng, [n, h, w, c], 2 * c, c, [3, 3], [1, 1], [1, 1])
            } else {
                let oc = 2 * rng.size(1, 4);
                conv(rng, [n, h, w, 2 * c], oc, 2, [3, 3], [1, 1], [1, 1])
            }
        }
    }
}

/// The layers of the keyword-spotting DS-CNN (MLPerf Tiny), at their real shapes.
fn kws_layer(i: usize) -> Conv2dParams {
    let base = Conv2dParams { input: [1, 25, 5, 64], output: [1, 25, 5, 64], kernel: [1, 1], stride: [1, 1], dilation: [1, 1], pad: [0, 0], groups: 1 };
    match i % 3 {
        0 => Conv2dParams { input: [1, 49, 10, 1], kernel: [10, 4], stride: [2, 2], pad: [4, 1], ..base },
        1 => Conv2dParams { kernel: [3, 3], pad: [1, 1], groups: 64, ..base },
        _ => base,
    }
}

/// The layer kinds of the visual wake words MobileNetV1 (MLPerf Tiny), at sizes the buffers
/// hold: the 3-channel stride-2 first layer, depthwise stride 2 padded at the bottom and right
/// only, pointwise with `K = 128` (weight blocks) and `K = 256` (im2col).
fn vww_layer(i: usize) -> Conv2dParams {
    let base = Conv2dParams { input: [1, 6, 6, 128], output: [1, 6, 6, 64], kernel: [1, 1], stride: [1, 1], dilation: [1, 1], pad: [0, 0], groups: 1 };
    match i % 4 {
        0 => Conv2dParams { input: [1, 11, 13, 3], output: [1, 5, 6, 8], kernel: [3, 3], stride: [2, 2], ..base },
        1 => Conv2dParams { input: [1, 12, 12, 16], output: [1, 6, 6, 16], kernel: [3, 3], stride: [2, 2], groups: 16, ..base },
        2 => base,
        _ => Conv2dParams { input: [1, 3, 3, 256], output: [1, 3, 3, 24], ..base },
    }
}

fn zero_point(rng: &mut Rng) -> i32 {
    match rng.int(0, 9) {
        0 | 1 => -128,
        2 => 127,
        3 => 0,
        _ => rng.int(-128, 127) as i32,
    }
}

/// Requant for `channels`: per tensor or per channel, multipliers `1e-6 .. 0.49` (shifts -1 and
/// below); sometimes one channel at `0.5 .. 8` (shift 0 and above) or zero. With `dead`, per
/// channel, every third channel zero.
fn requant<'a>(rng: &mut Rng, channels: usize, buf: &'a mut [Requant], dead: bool) -> &'a [Requant] {
    let n = if rng.chance(30) && !dead { 1 } else { channels };
    for r in buf[..n].iter_mut() {
        *r = quantize_multiplier(libm::pow(10.0, -6.0 + 5.69 * rng.unit()));
    }
    if dead {
        buf[..n].iter_mut().step_by(3).for_each(|r| *r = quantize_multiplier(0.0));
        return &buf[..n];
    }
    if rng.chance(10) {
        let i = rng.size(0, n - 1);
        buf[i] = if rng.chance(80) { quantize_multiplier(0.5 + 7.5 * rng.unit()) } else { Requant { multiplier: 0, shift: 0 } };
    }
    &buf[..n]
}

fn bias_value(rng: &mut Rng) -> i32 {
    match rng.int(0, 19) {
        0 => rng.pick(&[i32::MIN, i32::MAX, i32::MIN + 1, i32::MAX - 1]),
        1 | 2 => rng.int(-(1 << 30), 1 << 30) as i32,
        _ => rng.int(-(1 << 16), 1 << 16) as i32,
    }
}

fn act(rng: &mut Rng, zero_point: i32) -> (i8, i8) {
    match rng.int(0, 9) {
        0..=3 => (-128, 127),
        4..=6 => (zero_point as i8, 127),
        7 | 8 => {
            let (a, b) = (rng.int(-128, 127) as i8, rng.int(-128, 127) as i8);
            (a.min(b), a.max(b))
        }
        _ => (rng.int(10, 127) as i8, rng.int(-128, 9) as i8),
    }
}

/// Case `i` of the run seeded with `seed`: one in five is fully connected, one in forty a
/// keyword-spotting layer, one in forty a visual wake words layer, the rest convolutions of
/// every family. `None` when the drawn shape
/// does not fit the buffers (the caller skips it).
pub fn case<'a>(seed: u64, i: usize, buf: &'a mut Buffers) -> Option<(Layer, Operands<'a>)> {
    let mut rng = Rng(seed ^ (i as u64).wrapping_mul(0xa076_1d64_78bd_642f));
    let layer = if i % 5 == 4 {
        let inputs = if rng.chance(50) { 4 * rng.size(1, 80) } else { rng.size(1, 300) };
        Layer::Fc(FcParams { rows: rng.size(1, 4), inputs, outputs: if rng.chance(30) { rng.pick(&[1, 3, 5, 7]) } else { rng.size(1, 24) } })
    } else if i.is_multiple_of(40) {
        Layer::Conv(kws_layer(i / 40))
    } else if i % 40 == 20 {
        Layer::Conv(vww_layer(i / 40))
    } else {
        Layer::Conv(conv_geometry(&mut rng, i))
    };
    let (x_len, w_len, channels, out) = match layer {
        Layer::Conv(p) => (
            p.input.iter().product(),
            p.output[3] * p.kernel[0] * p.kernel[1] * (p.input[3] / p.groups),
            p.output[3],
            p.output.iter().product(),
        ),
        Layer::Fc(p) => (p.rows * p.inputs, p.outputs * p.inputs, p.outputs, p.rows * p.outputs),
    };
    if x_len > MAX_X || w_len > MAX_W || channels > MAX_CHANNELS || out > MAX_OUT {
        return None;
    }
    let saturated = rng.chance(10);
    for v in buf.x[..x_len].iter_mut() {
        *v = if saturated { rng.pick(&[-128, 127]) } else { rng.int(-128, 127) as i8 };
    }
    for v in buf.w[..w_len].iter_mut() {
        *v = rng.int(-128, 127) as i8;
    }
    let has_bias = rng.chance(80);
    for v in buf.bias[..channels].iter_mut() {
        *v = bias_value(&mut rng);
    }
    let x_zero_point = zero_point(&mut rng);
    let out_zero_point = zero_point(&mut rng);
    let act = act(&mut rng, out_zero_point);
    let requant = requant(&mut rng, channels, &mut buf.requant, i % 40 == 20);
    let ops = Operands {
        x: &buf.x[..x_len],
        x_zero_point,
        w: &buf.w[..w_len],
        bias: has_bias.then_some(&buf.bias[..channels]),
        requant,
        out_zero_point,
        act,
        out,
    };
    Some((layer, ops))
}
