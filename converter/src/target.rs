//! `mote convert --target`: the core a model will run on, and the weight layouts
//! ([`mote_runtime::format::Layout`]) chosen for it.
//!
//! The rule: an int8 FullyConnected whose `k` is a multiple of 4 stores its weights in `fc-q15`
//! (widened to int16 in the DSP kernels' pair order, twice the bytes) when the core has the Arm
//! DSP extension without Helium (Cortex-M4, M7, M33: the SMLAD kernel then skips the widening),
//! when such layers do at least a quarter of the model's MACs (else the layout's code costs more
//! flash than its instructions are worth: [`Target::packing`]), and while the file still fits
//! the board's model region: layers are packed in op order while the packed file fits. Helium cores (M55) keep int8 weights, which their
//! `VMLADAVA.S8` kernel reads sixteen at a time, and store every int8 FullyConnected's bias in
//! `fc-bias-folded` (the input's zero point folded in, same size: the kernel then skips its
//! `bias - x_zero_point * sum(w)` pass on every run) under the same quarter-of-the-MACs rule; cores without the DSP extension (Cortex-M0/M3,
//! RISC-V) keep them too, as does a conversion without `--target`. Every layout runs on every
//! build that has its feature, so a file converted for one core still runs (more slowly) on
//! another.

use mote_runtime::format::Layout;

use crate::error::{ConvertError, Result};

/// What a core's kernels make of weight layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Core {
    /// Arm DSP extension, no Helium (Cortex-M4, M7, M33): `SMLAD` kernels on int16 pairs.
    ArmDsp,
    /// Helium (Cortex-M55): `VMLADAVA.S8` kernels on int8.
    ArmMve,
    /// No DSP extension (Cortex-M0, M0+, M3, RISC-V): blocked scalar kernels on int8.
    Scalar,
}

/// The core names `--target` takes, besides board names.
pub const CORES: [(&str, Core); 9] = [
    ("cortex-m0", Core::Scalar),
    ("cortex-m0plus", Core::Scalar),
    ("cortex-m3", Core::Scalar),
    ("cortex-m4", Core::ArmDsp),
    ("cortex-m7", Core::ArmDsp),
    ("cortex-m33", Core::ArmDsp),
    ("cortex-m55", Core::ArmMve),
    ("rv32imac", Core::Scalar),
    ("rv32imc", Core::Scalar),
];

/// Where a converted model will run.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The name given: a board of `mote-targets` or a core of [`CORES`].
    pub name: String,
    pub core: Core,
    /// Bytes of the board's model region; `None` for a core name (no limit known).
    pub model_flash: Option<u64>,
}

impl Target {
    /// A board (`mote-targets`' `boards/NAME.toml`: its core from its ISA list, its model region)
    /// or a core name; anything else is an error listing both.
    pub fn resolve(name: &str) -> Result<Target> {
        let boards = mote_targets::load_all(&mote_targets::boards_dir()).map_err(|e| ConvertError::Target(e.to_string()))?;
        if let Some(b) = boards.iter().find(|b| b.name == name) {
            let has = |f: &str| b.isa.iter().any(|i| i == f || i.starts_with(&format!("{f}.")));
            let core = if has("mve") {
                Core::ArmMve
            } else if has("dsp") {
                Core::ArmDsp
            } else {
                Core::Scalar
            };
            return Ok(Target { name: name.to_string(), core, model_flash: Some(b.layout.model.size.0) });
        }
        if let Some(&(_, core)) = CORES.iter().find(|(c, _)| *c == name) {
            return Ok(Target { name: name.to_string(), core, model_flash: None });
        }
        let names: Vec<&str> = boards.iter().map(|b| b.name.as_str()).collect();
        let cores: Vec<&str> = CORES.iter().map(|(c, _)| *c).collect();
        Err(ConvertError::Target(format!("unknown target {name:?}: boards are {}; cores are {}", names.join(", "), cores.join(", "))))
    }

    /// The packing a model gets for this target, given its file in the reference layout.
    /// `fc-q15` needs the DSP core, and FullyConnected layers that can take it (`k % 4 == 0`)
    /// doing at least a quarter of the model's MACs: below that its code (about 2.3 KB of
    /// flash in a firmware that links exactly the model's features) buys too little (KWS's
    /// classifier, 768 of 2.66 M MACs, would save 0.01 % of its instructions).
    pub fn packing(&self, reference: &[u8]) -> Packing {
        let aligned = mote_runtime::format::writer::AlignedBytes::new(reference);
        let Ok(m) = mote_runtime::Model::from_bytes(&aligned) else { return Packing::REFERENCE };
        let (mut total, mut packable, mut fc) = (0u64, 0u64, 0u64);
        for op in m.ops() {
            let macs = mote_runtime::ops::macs(&m, &op);
            total += macs;
            let k = op.inputs.get(1).and_then(|&w| m.tensor(w)).and_then(|w| w.shape.dims().get(1).copied());
            let int8 = op.inputs.first().and_then(|&x| m.tensor(x)).is_some_and(|x| x.dtype == mote_runtime::DType::I8);
            if matches!(op.kind, mote_runtime::ops::OpKind::FullyConnected { .. }) && int8 {
                fc += macs;
                if k.is_some_and(|k| k % 4 == 0) {
                    packable += macs;
                }
            }
        }
        let fc_q15 = self.core == Core::ArmDsp && packable > 0 && 4 * packable >= total;
        let fold_fc_bias = self.core == Core::ArmMve && fc > 0 && 4 * fc >= total;
        Packing { fc_q15, fold_fc_bias, extra_bytes: self.model_flash.map(|f| f.saturating_sub(reference.len() as u64)) }
    }
}

/// Which layouts the lowering may choose, and how many bytes packing may add to the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Packing {
    pub fc_q15: bool,
    /// int8 FullyConnected biases in `fc-bias-folded` (the input's zero point folded in).
    pub fold_fc_bias: bool,
    /// `None`: no limit.
    pub extra_bytes: Option<u64>,
}

impl Packing {
    /// The reference layout everywhere (no `--target`).
    pub const REFERENCE: Packing = Packing { fc_q15: false, fold_fc_bias: false, extra_bytes: None };

    /// The layout for the int8 weights `[n, k]` of a FullyConnected, given the bytes packing
    /// has already added (`added`, updated when it packs).
    pub fn fc_layout(&self, n: usize, k: usize, added: &mut u64) -> Layout {
        // The packed data takes `n * k` more bytes, and up to 15 more of alignment.
        let extra = (n * k) as u64 + 15;
        if self.fc_q15 && k % 4 == 0 && self.extra_bytes.is_none_or(|limit| *added + extra <= limit) {
            *added += extra;
            Layout::FcQ15
        } else {
            Layout::Reference
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boards_and_cores() {
        let m4 = Target::resolve("mps2-an386").unwrap();
        assert_eq!((m4.core, m4.model_flash), (Core::ArmDsp, Some(3584 * 1024)));
        assert_eq!(Target::resolve("mps3-an547").unwrap().core, Core::ArmMve);
        assert_eq!(Target::resolve("mps2-an505").unwrap().core, Core::ArmDsp);
        assert_eq!(Target::resolve("riscv32-virt").unwrap().core, Core::Scalar);
        assert_eq!(Target::resolve("mps2-an385").unwrap().core, Core::Scalar);
        assert_eq!(Target::resolve("cortex-m7").unwrap(), Target { name: "cortex-m7".into(), core: Core::ArmDsp, model_flash: None });
        let err = Target::resolve("cortex-m9").unwrap_err().to_string();
        assert!(err.contains("mps2-an386") && err.contains("rv32imc") && err.contains("\"cortex-m9\""), "{err}");
    }

    #[test]
    fn fc_q15_only_for_dsp_cores_k_by_4_and_within_the_flash() {
        let mut added = 0;
        let m4 = Packing { fc_q15: true, fold_fc_bias: false, extra_bytes: Some(1000) };
        assert_eq!(m4.fc_layout(10, 6, &mut added), Layout::Reference);
        assert_eq!(m4.fc_layout(10, 64, &mut added), Layout::FcQ15);
        assert_eq!(added, 655);
        assert_eq!(m4.fc_layout(10, 64, &mut added), Layout::Reference);
        assert_eq!(m4.fc_layout(4, 64, &mut added), Layout::FcQ15);
    }
}
