//! A NOR flash whose cells are a host file, reached through ARM semihosting, and the power cut.
//!
//! [`FileFlash`] implements `embedded-storage`'s blocking `ReadNorFlash` + `NorFlash` with the
//! rules of a real NOR part enforced in the driver, so that code which would break a board
//! breaks here too: an erase sets whole 4 KiB sectors to `0xFF`; a write only clears bits (a
//! write that would need a 0 → 1 change is refused with [`FlashError::NotErased`]), in 4-byte
//! words at 4-byte offsets. These are the figures of the internal flash of an nRF52 (4 KiB
//! pages, 32-bit words); change [`SECTOR`] and [`WORD`] for another part.
//!
//! Because the cells live in a file, they survive the QEMU process: a power cut is the process
//! exiting mid-update, and the next boot is a new QEMU run on whatever the file then holds.
//! The driver numbers every program and erase operation (one per `write` call, one per sector
//! of an `erase` call); given a [`Cut`] at operation `n`, it applies only part of that operation
//! (nothing, or its first half: half the bytes of a write, the first half of a sector being
//! erased) and exits at once with [`CUT_EXIT`], as a board would lose power.
//!
//! [`Async`] presents the same flash through `embedded-storage-async`, which
//! `sequential-storage` takes; every operation completes before the future is first polled.

use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};
use semihosting::fs::File;
use semihosting::io::{Read, Seek, SeekFrom, Write};

/// Erase granularity in bytes.
pub const SECTOR: usize = 4096;
/// Program granularity in bytes.
pub const WORD: usize = 4;
/// Exit status of the firmware when the simulated power cut hits.
pub const CUT_EXIT: i32 = 42;

/// Where the simulated power cut hits: flash operation `at` (0-based, counted from boot), with
/// `half` of it applied (else none of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    pub at: u32,
    pub half: bool,
}

/// Why a flash operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashError {
    /// The offset or length is not a multiple of the operation's granularity.
    NotAligned,
    /// The range reaches past the end of the flash.
    OutOfBounds,
    /// A write would turn a 0 bit into a 1: the word was not erased first.
    NotErased { offset: u32 },
    /// The semihosting file operation failed (the host's file is missing, short or read-only).
    Io,
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FlashError::NotAligned => NorFlashErrorKind::NotAligned,
            FlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            FlashError::NotErased { .. } | FlashError::Io => NorFlashErrorKind::Other,
        }
    }
}

impl core::fmt::Display for FlashError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FlashError::NotAligned => write!(f, "unaligned flash operation"),
            FlashError::OutOfBounds => write!(f, "flash operation out of bounds"),
            FlashError::NotErased { offset } => write!(f, "write to a word not erased at {offset:#x}"),
            FlashError::Io => write!(f, "the flash image file could not be read or written"),
        }
    }
}

/// The flash: `capacity` bytes of the host file it was opened on.
pub struct FileFlash {
    file: File,
    capacity: u32,
    ops: u32,
    cut: Option<Cut>,
}

impl FileFlash {
    /// Opens the flash image `path` (read and write; the file must exist and hold at least
    /// `capacity` bytes, as an erased part does: all `0xFF`).
    pub fn open(path: &core::ffi::CStr, capacity: u32, cut: Option<Cut>) -> Result<Self, FlashError> {
        let file = File::options().read(true).write(true).open(path).map_err(|_| FlashError::Io)?;
        let len = file.metadata().map_err(|_| FlashError::Io)?.len();
        if len < u64::from(capacity) {
            return Err(FlashError::OutOfBounds);
        }
        Ok(FileFlash { file, capacity, ops: 0, cut })
    }

    /// Program and erase operations so far.
    pub fn operations(&self) -> u32 {
        self.ops
    }

    /// Counts one operation; `Some(half)` when the power cut hits it.
    fn next_op(&mut self) -> Option<bool> {
        let n = self.ops;
        self.ops += 1;
        self.cut.filter(|c| c.at == n).map(|c| c.half)
    }

    fn power_off(&self) -> ! {
        semihosting::println!("power cut at flash operation {}", self.ops - 1);
        semihosting::process::exit(CUT_EXIT)
    }

    fn io_at(&mut self, offset: u32) -> Result<(), FlashError> {
        self.file.seek(SeekFrom::Start(u64::from(offset))).map(drop).map_err(|_| FlashError::Io)
    }

    fn read_raw(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        self.io_at(offset)?;
        self.file.read_exact(bytes).map_err(|_| FlashError::Io)
    }

    fn write_raw(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        self.io_at(offset)?;
        self.file.write_all(bytes).map_err(|_| FlashError::Io)
    }

    fn check(&self, offset: u32, len: usize, align: usize) -> Result<(), FlashError> {
        if !(offset as usize).is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(FlashError::NotAligned);
        }
        match (offset as usize).checked_add(len) {
            Some(end) if end <= self.capacity as usize => Ok(()),
            _ => Err(FlashError::OutOfBounds),
        }
    }

    fn fill_ff(&mut self, from: u32, len: usize) -> Result<(), FlashError> {
        let ones = [0xFFu8; 256];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(ones.len());
            self.write_raw(from + done as u32, &ones[..n])?;
            done += n;
        }
        Ok(())
    }
}

impl ErrorType for FileFlash {
    type Error = FlashError;
}

impl ReadNorFlash for FileFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        self.check(offset, bytes.len(), Self::READ_SIZE)?;
        self.read_raw(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.capacity as usize
    }
}

impl NorFlash for FileFlash {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = SECTOR;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        if to < from {
            return Err(FlashError::OutOfBounds);
        }
        self.check(from, (to - from) as usize, SECTOR)?;
        for sector in (from..to).step_by(SECTOR) {
            match self.next_op() {
                None => self.fill_ff(sector, SECTOR)?,
                Some(half) => {
                    if half {
                        self.fill_ff(sector, SECTOR / 2)?;
                    }
                    self.power_off()
                }
            }
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        self.check(offset, bytes.len(), WORD)?;
        let mut old = [0u8; 256];
        for (i, part) in bytes.chunks(old.len()).enumerate() {
            let at = offset + (i * old.len()) as u32;
            let old = &mut old[..part.len()];
            self.read_raw(at, old)?;
            if let Some(j) = old.iter().zip(part).position(|(o, n)| o & n != *n) {
                return Err(FlashError::NotErased { offset: (at as usize + j) as u32 / WORD as u32 * WORD as u32 });
            }
        }
        match self.next_op() {
            None => self.write_raw(offset, bytes),
            Some(half) => {
                if half {
                    self.write_raw(offset, &bytes[..bytes.len() / 2])?;
                }
                self.power_off()
            }
        }
    }
}

/// A blocking flash seen through `embedded-storage-async`; run its futures with
/// `embassy_futures::block_on`.
pub struct Async<F>(pub F);

impl<F: ErrorType> embedded_storage_async::nor_flash::ErrorType for Async<F> {
    type Error = F::Error;
}

impl<F: ReadNorFlash> embedded_storage_async::nor_flash::ReadNorFlash for Async<F> {
    const READ_SIZE: usize = F::READ_SIZE;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.0.read(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl<F: NorFlash> embedded_storage_async::nor_flash::NorFlash for Async<F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.0.erase(from, to)
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.0.write(offset, bytes)
    }
}
