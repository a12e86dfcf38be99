//! The job the firmware reads from its `MODEL` region: a header, the model, the input. The
//! layout is documented in `examples/hil-firmware/src/main.rs`.
//!
//! QEMU's `-device loader` receives the job wrapped in a one-segment ELF ([`as_elf`]): a raw
//! file is refused when it is larger than the machine's RAM (16 KB on `sifive_e`), an ELF is not.

use std::path::Path;

use mote_targets::{Arch, Target};

use crate::{io_err, HilError, Result};

/// Run a second inference with a marker around every op, for per-layer instruction counts.
pub const PROFILE: u32 = 1;
/// Panic on purpose, to check that a panic exits QEMU with a non-zero code.
pub const PANIC: u32 = 2;
/// Execute an undefined instruction on purpose, to check that a CPU fault does too.
pub const FAULT: u32 = 4;

const MAGIC: &[u8; 8] = b"MOTEJOB1";
/// Where the model starts: after the 28-byte header, on the 16-byte boundary the format needs.
const MODEL_OFFSET: usize = 32;

/// Packs a job. The model lands 16-byte aligned as long as the region is.
pub fn job(model: &[u8], input: &[u8], flags: u32) -> Vec<u8> {
    let input_offset = (MODEL_OFFSET + model.len()).next_multiple_of(16);
    let mut out = Vec::with_capacity(input_offset + input.len());
    out.extend_from_slice(MAGIC);
    for v in [flags, MODEL_OFFSET as u32, model.len() as u32, input_offset as u32, input.len() as u32] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.resize(MODEL_OFFSET, 0);
    out.extend_from_slice(model);
    out.resize(input_offset, 0);
    out.extend_from_slice(input);
    out
}

/// Writes `job` to `path` as the ELF QEMU's loader puts into `board`'s `MODEL` region.
pub fn write(board: &Target, job: &[u8], path: &Path) -> Result<()> {
    let machine = match board.arch() {
        Arch::CortexM => 40,
        Arch::Riscv32 => 243,
    };
    let origin = u32::try_from(board.layout.model.origin).map_err(|_| HilError::Host {
        what: board.name.clone(),
        reason: "the MODEL region lies above 4 GiB".into(),
    })?;
    std::fs::write(path, as_elf(job, origin, machine)).map_err(io_err(path))
}

/// `bytes` as a minimal ELF32 executable with one loadable segment at physical address `addr`.
/// `machine` is the ELF machine number (40 Arm, 243 RISC-V).
pub fn as_elf(bytes: &[u8], addr: u32, machine: u16) -> Vec<u8> {
    const EHSIZE: u16 = 52;
    const PHENTSIZE: u16 = 32;
    const DATA: u32 = 96; // after the 52-byte header and the 32-byte program header, 16-aligned
    let mut e = Vec::with_capacity(DATA as usize + bytes.len());
    e.extend_from_slice(&[0x7f, b'E', b'L', b'F', 1, 1, 1]); // 32-bit, little-endian, version 1
    e.resize(16, 0);
    for half in [2u16, machine] {
        e.extend_from_slice(&half.to_le_bytes()); // ET_EXEC, e_machine
    }
    for word in [1u32, 0, EHSIZE as u32, 0, 0] {
        e.extend_from_slice(&word.to_le_bytes()); // e_version, e_entry, e_phoff, e_shoff, e_flags
    }
    for half in [EHSIZE, PHENTSIZE, 1, 40, 0, 0] {
        e.extend_from_slice(&half.to_le_bytes()); // e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
    }
    let len = bytes.len() as u32;
    for word in [1u32, DATA, addr, addr, len, len, 4, 16] {
        e.extend_from_slice(&word.to_le_bytes()); // PT_LOAD, offset, vaddr, paddr, filesz, memsz, PF_R, align
    }
    e.resize(DATA as usize, 0);
    e.extend_from_slice(bytes);
    e
}

#[cfg(test)]
mod tests {
    use object::{Object, ObjectSegment};

    use super::*;

    #[test]
    fn the_elf_wrapper_holds_one_segment_at_the_address() {
        let data: Vec<u8> = (0..=255).collect();
        let elf = as_elf(&data, 0x2050_0000, 243);
        let file = object::File::parse(&*elf).unwrap();
        assert_eq!(file.architecture(), object::Architecture::Riscv32);
        let segments: Vec<_> = file.segments().collect();
        assert_eq!(segments.len(), 1);
        assert_eq!(segments[0].address(), 0x2050_0000);
        assert_eq!(segments[0].data().unwrap(), &data[..]);
    }

    #[test]
    fn layout_matches_the_firmware() {
        let j = job(&[1, 2, 3], &[9, 8], PROFILE);
        assert_eq!(&j[..8], b"MOTEJOB1");
        let word = |at: usize| u32::from_le_bytes(j[at..at + 4].try_into().unwrap());
        assert_eq!((word(8), word(12), word(16), word(20), word(24)), (PROFILE, 32, 3, 48, 2));
        assert_eq!(&j[32..35], &[1, 2, 3]);
        assert_eq!(&j[48..], &[9, 8]);
    }
}
