//! What a firmware ELF costs: flash and static RAM, and where its marker is.

use std::path::Path;

use object::elf::{SHF_ALLOC, SHT_NOBITS, SHT_PROGBITS};
use object::read::elf::{ElfFile32, SectionHeader};
use object::{Endianness, Object, ObjectSection, ObjectSymbol};

use crate::{io_err, HilError, Result};

/// Sizes and symbols of one firmware image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Bytes stored in flash: every allocated section with contents (vector table, code,
    /// read-only data, and `.data`'s initial values).
    pub flash: u64,
    /// Bytes of statics in RAM: `.data` plus the zero-initialised and uninitialised sections,
    /// without the stack and heap placeholders riscv-rt declares.
    pub static_ram: u64,
    /// Address of `mote_hil_marker`'s first instruction (Thumb bit cleared).
    pub marker: u64,
}

/// Reads `path`; `ram` is the layout's RAM region, where statics live.
pub fn inspect(path: &Path, ram: &mote_targets::Region) -> Result<Image> {
    let data = std::fs::read(path).map_err(io_err(path))?;
    let bad = |reason: String| HilError::Elf { path: path.to_path_buf(), reason };
    let elf = ElfFile32::<Endianness>::parse(&*data).map_err(|e| bad(e.to_string()))?;
    let endian = elf.endian();
    let (mut flash, mut static_ram) = (0, 0);
    for section in elf.sections() {
        let header = section.elf_section_header();
        let (kind, flags) = (header.sh_type(endian), header.sh_flags(endian));
        let name = section.name().unwrap_or("");
        if flags & SHF_ALLOC == 0 || matches!(name, ".stack" | ".heap") {
            continue;
        }
        if kind == SHT_PROGBITS {
            flash += section.size();
        }
        if (kind == SHT_PROGBITS || kind == SHT_NOBITS) && ram.contains_addr(section.address()) {
            static_ram += section.size();
        }
    }
    let marker = elf
        .symbols()
        .find(|s| s.name() == Ok("mote_hil_marker"))
        .ok_or_else(|| bad("no symbol mote_hil_marker".into()))?
        .address()
        & !1;
    Ok(Image { flash, static_ram, marker })
}
