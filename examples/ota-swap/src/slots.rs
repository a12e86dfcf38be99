//! The flash layout, the boot record, and the two operations on them: install an update into
//! the inactive slot, and choose the model to boot.
//!
//! ```text
//! 0x00000 ┌──────────────────────┐ boot record: a sequential-storage map, 2 sectors
//! 0x02000 ├──────────────────────┤ slot 0: one model file, 32 KiB
//! 0x0A000 ├──────────────────────┤ slot 1: one model file, 32 KiB
//! 0x12000 └──────────────────────┘
//! ```
//!
//! The boot record (key [`BOOT_KEY`] of the map) names the active slot and the slot before it,
//! each with the version, length and CRC-32 of the file it holds. An update only ever writes the
//! slot the record does not name as active; the switch to the new model is one `store_item`,
//! which `sequential-storage` makes atomic with respect to power loss (an item whose write was
//! cut fails its CRC and the previous item of the key stays the current one).

use embedded_storage::nor_flash::{NorFlash, ReadNorFlash};
use mote_runtime::signature::{self, PublicKey, VerifyError};
use mote_runtime::{FormatError, Model};
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapStorage, SerializationError, Value};

use crate::flash::{Async, FileFlash, FlashError, SECTOR};

/// Bytes of the boot-record map.
pub const RECORD_BYTES: u32 = 2 * SECTOR as u32;
/// Bytes of each model slot.
pub const SLOT_BYTES: u32 = 32 * 1024;
/// Bytes of the whole flash image.
pub const FLASH_BYTES: u32 = RECORD_BYTES + 2 * SLOT_BYTES;
/// The map key of the boot record.
pub const BOOT_KEY: u8 = 1;
/// Bytes an update arrives in: what one radio transfer delivers.
pub const CHUNK: usize = 1024;

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// The model file held by a slot, as the boot record describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    pub slot: u8,
    pub version: u32,
    pub len: u32,
    pub crc: u32,
}

/// Which slot boots, and the one that booted before it (the fallback).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootRecord {
    pub active: SlotInfo,
    pub previous: Option<SlotInfo>,
}

const SLOT_INFO_BYTES: usize = 13;

impl SlotInfo {
    fn write(&self, out: &mut [u8]) {
        out[0] = self.slot;
        out[1..5].copy_from_slice(&self.version.to_le_bytes());
        out[5..9].copy_from_slice(&self.len.to_le_bytes());
        out[9..13].copy_from_slice(&self.crc.to_le_bytes());
    }

    fn read(b: &[u8]) -> Result<Self, SerializationError> {
        let b = b.get(..SLOT_INFO_BYTES).ok_or(SerializationError::InvalidFormat)?;
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let info = SlotInfo { slot: b[0], version: u32_at(1), len: u32_at(5), crc: u32_at(9) };
        if info.slot > 1 || info.len > SLOT_BYTES {
            return Err(SerializationError::InvalidFormat);
        }
        Ok(info)
    }
}

impl<'a> Value<'a> for BootRecord {
    fn serialize_into(&self, buffer: &mut [u8]) -> Result<usize, SerializationError> {
        let len = 1 + SLOT_INFO_BYTES * (1 + usize::from(self.previous.is_some()));
        let out = buffer.get_mut(..len).ok_or(SerializationError::BufferTooSmall)?;
        out[0] = u8::from(self.previous.is_some());
        self.active.write(&mut out[1..]);
        if let Some(p) = &self.previous {
            p.write(&mut out[1 + SLOT_INFO_BYTES..]);
        }
        Ok(len)
    }

    fn deserialize_from(buffer: &'a [u8]) -> Result<(Self, usize), SerializationError> {
        let (&flag, rest) = buffer.split_first().ok_or(SerializationError::InvalidFormat)?;
        let active = SlotInfo::read(rest)?;
        let previous = match flag {
            0 => None,
            1 => Some(SlotInfo::read(&rest[SLOT_INFO_BYTES..])?),
            _ => return Err(SerializationError::InvalidFormat),
        };
        Ok((BootRecord { active, previous }, 1 + SLOT_INFO_BYTES * (1 + usize::from(flag))))
    }
}

/// Why an update was refused or a model could not be booted.
#[derive(Debug)]
pub enum OtaError {
    Flash(FlashError),
    /// The boot-record map failed (corrupted beyond its own repair, or full).
    Record(sequential_storage::Error<FlashError>),
    /// The update could not be read from the radio (the host file).
    Radio,
    /// The update is larger than a slot.
    TooLarge { len: u32 },
    /// What was read back from the slot differs from what arrived.
    CrcMismatch { expected: u32, found: u32 },
    /// The update's signature, structure or version was refused.
    Verify(VerifyError),
    /// The signed version differs from the one the boot record names.
    VersionMismatch { record: u32, signed: u32 },
    /// No boot record: nothing was ever installed.
    NothingInstalled,
    /// Neither the active slot nor the previous one holds a valid model.
    NoValidModel { active: &'static str },
}

impl core::fmt::Display for OtaError {
    /// `Verify` shows the runtime's error by its variant (`verify: RolledBack { .. }`), which a
    /// test can match on.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            OtaError::Flash(e) => write!(f, "flash: {e}"),
            OtaError::Record(e) => write!(f, "boot record: {e:?}"),
            OtaError::Radio => write!(f, "the update could not be received"),
            OtaError::TooLarge { len } => write!(f, "an update of {len} B does not fit a {SLOT_BYTES} B slot"),
            OtaError::CrcMismatch { expected, found } => {
                write!(f, "CRC mismatch: slot holds {found:#010x}, expected {expected:#010x}")
            }
            OtaError::Verify(e) => write!(f, "verify: {e:?}"),
            OtaError::VersionMismatch { record, signed } => {
                write!(f, "the slot's file is signed for version {signed}, the record says {record}")
            }
            OtaError::NothingInstalled => write!(f, "no model installed"),
            OtaError::NoValidModel { active } => write!(f, "no valid model (active slot: {active}; previous: none or invalid)"),
        }
    }
}

impl From<FlashError> for OtaError {
    fn from(e: FlashError) -> Self {
        OtaError::Flash(e)
    }
}

impl From<sequential_storage::Error<FlashError>> for OtaError {
    fn from(e: sequential_storage::Error<FlashError>) -> Self {
        OtaError::Record(e)
    }
}

impl From<VerifyError> for OtaError {
    fn from(e: VerifyError) -> Self {
        OtaError::Verify(e)
    }
}

impl From<FormatError> for OtaError {
    fn from(e: FormatError) -> Self {
        OtaError::Verify(VerifyError::Format(e))
    }
}

/// The flash with its boot-record map.
pub struct Storage {
    map: MapStorage<u8, Async<FileFlash>, Cache<Uncached, Uncached, Uncached, u8>>,
}

fn slot_start(slot: u8) -> u32 {
    RECORD_BYTES + u32::from(slot) * SLOT_BYTES
}

impl Storage {
    pub fn new(flash: FileFlash) -> Self {
        let config = const { MapConfig::new(0..RECORD_BYTES) };
        Storage { map: MapStorage::new(Async(flash), config, Cache::new_uncached()) }
    }

    /// The flash operations (program, erase) done so far.
    pub fn operations(&mut self) -> u32 {
        self.map.flash().0.operations()
    }

    /// The boot record, if a model was ever installed.
    pub fn record(&mut self) -> Result<Option<BootRecord>, OtaError> {
        let mut buf = [0u8; 64];
        Ok(embassy_futures::block_on(self.map.fetch_item::<BootRecord>(&mut buf, &BOOT_KEY))?)
    }

    fn store(&mut self, record: &BootRecord) -> Result<(), OtaError> {
        let mut buf = [0u8; 64];
        Ok(embassy_futures::block_on(self.map.store_item(&mut buf, &BOOT_KEY, record))?)
    }

    fn flash(&mut self) -> &mut FileFlash {
        &mut self.map.flash().0
    }

    /// Copies `info`'s file out of its slot into `buf` (a board with memory-mapped flash would
    /// read it in place) and returns it if its CRC matches.
    fn load<'b>(&mut self, info: &SlotInfo, buf: &'b mut [u8]) -> Result<&'b [u8], OtaError> {
        let file = buf.get_mut(..info.len as usize).ok_or(OtaError::TooLarge { len: info.len })?;
        self.flash().read(slot_start(info.slot), file)?;
        let found = CRC.checksum(file);
        if found != info.crc {
            return Err(OtaError::CrcMismatch { expected: info.crc, found });
        }
        Ok(file)
    }

    /// Receives an update in [`CHUNK`]s from `radio` into the inactive slot, checks it in place
    /// (CRC of what was read back against what arrived; then signature by one of `keys`, model
    /// structure, and a version above the active one) and only then makes it the active slot.
    /// `buf` must hold a slot. Returns the new record.
    pub fn update<R>(&mut self, radio: &mut R, len: u32, keys: &[PublicKey], buf: &mut [u8]) -> Result<BootRecord, OtaError>
    where
        R: FnMut(&mut [u8]) -> Result<(), OtaError>,
    {
        if len > SLOT_BYTES {
            return Err(OtaError::TooLarge { len });
        }
        let current = self.record()?;
        let slot = match current {
            Some(r) => 1 - r.active.slot,
            None => 0,
        };
        let start = slot_start(slot);
        let end = start + (len as usize).div_ceil(SECTOR) as u32 * SECTOR as u32;
        self.flash().erase(start, end)?;

        let mut digest = CRC.digest();
        let mut chunk = [0u8; CHUNK];
        let mut done = 0u32;
        while done < len {
            let n = (len - done).min(CHUNK as u32) as usize;
            let c = &mut chunk[..n];
            radio(c)?;
            digest.update(c);
            // The tail of the last chunk is padded with erased bytes up to a whole word.
            let padded = n.div_ceil(crate::flash::WORD) * crate::flash::WORD;
            chunk[n..padded].fill(0xFF);
            self.flash().write(start + done, &chunk[..padded])?;
            done += n as u32;
        }
        let crc = digest.finalize();

        let info = SlotInfo { slot, version: 0, len, crc };
        let file = self.load(&info, buf)?;
        let min_version = current.map_or(0, |r| r.active.version + 1);
        let (_, verified) = Model::from_signed_bytes(file, keys, min_version)?;
        let record = BootRecord {
            active: SlotInfo { version: verified.model_version, ..info },
            previous: current.map(|r| r.active),
        };
        self.store(&record)?;
        Ok(record)
    }

    /// The model to boot: the active slot's if its file is intact (CRC), correctly signed and of
    /// the version the record names, else the previous slot's under the same checks. Returns the
    /// slot booted, whether it is the fallback, and the file (in `buf`).
    pub fn boot<'b>(&mut self, keys: &[PublicKey], buf: &'b mut [u8]) -> Result<(SlotInfo, bool, &'b [u8]), OtaError> {
        let record = self.record()?.ok_or(OtaError::NothingInstalled)?;
        let first = self.check(&record.active, keys, buf);
        let active = match first {
            Ok(()) => return Ok((record.active, false, &buf[..record.active.len as usize])),
            Err(e) => e,
        };
        semihosting::println!("active slot {} rejected: {}", record.active.slot, active);
        let why = why(&active);
        let previous = record.previous.ok_or(OtaError::NoValidModel { active: why })?;
        self.check(&previous, keys, buf).map_err(|_| OtaError::NoValidModel { active: why })?;
        Ok((previous, true, &buf[..previous.len as usize]))
    }

    fn check(&mut self, info: &SlotInfo, keys: &[PublicKey], buf: &mut [u8]) -> Result<(), OtaError> {
        let file = self.load(info, buf)?;
        let verified = signature::verify(file, keys, info.version)?;
        if verified.model_version != info.version {
            return Err(OtaError::VersionMismatch { record: info.version, signed: verified.model_version });
        }
        Model::from_bytes(file)?;
        Ok(())
    }
}

fn why(e: &OtaError) -> &'static str {
    match e {
        OtaError::CrcMismatch { .. } => "CRC mismatch",
        OtaError::Verify(_) => "signature or structure",
        OtaError::VersionMismatch { .. } => "version differs from the record",
        _ => "unreadable",
    }
}
