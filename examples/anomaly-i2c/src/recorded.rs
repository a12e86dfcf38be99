//! A stand-in for the I2C bus with the feature front-end on it, serving recorded windows.
//!
//! [`RecordedBus`] implements embedded-hal's [`I2c`] by playing the front-end's side of the
//! protocol in [`sensor`](crate::sensor): it acknowledges only the front-end's address, keeps the
//! register pointer the last write set, and answers reads from a recording of real feature
//! windows in flash (raw little-endian f32, [`WINDOW_BYTES`] per window). The driver above it
//! cannot tell the difference, which is the point: the firmware that runs under QEMU is the one
//! that runs on the board, with only the bus swapped.
use embedded_hal::i2c::{
    ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation, SevenBitAddress,
};

use crate::sensor::{reg, status, CHIP_ID, WINDOW_BYTES};

/// A transfer the recorded front-end refuses, as a real one would NACK or misbehave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum BusError {
    /// Nothing answers at this address.
    NoDevice { address: u8 },
    /// A write that is not exactly one known register address.
    BadWrite,
    /// A read of another length than the register holds.
    BadLength { register: u8, len: usize },
    /// The window register was read while no window was ready.
    NoWindow,
}

impl embedded_hal::i2c::Error for BusError {
    fn kind(&self) -> ErrorKind {
        match self {
            BusError::NoDevice { .. } => ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address),
            BusError::BadWrite => ErrorKind::NoAcknowledge(NoAcknowledgeSource::Data),
            BusError::BadLength { .. } | BusError::NoWindow => ErrorKind::Other,
        }
    }
}

/// The bus with a recorded front-end at `address`.
pub struct RecordedBus {
    recording: &'static [u8],
    address: u8,
    pointer: u8,
    /// Byte offset of the next unread window in `recording`.
    next: usize,
}

impl RecordedBus {
    /// A front-end at `address` that will serve the whole windows of `recording`, then report
    /// [`status::END_OF_STREAM`]. A trailing partial window is never served.
    pub fn new(recording: &'static [u8], address: u8) -> Self {
        RecordedBus {
            recording,
            address,
            pointer: reg::ID,
            next: 0,
        }
    }

    fn next_window(&self) -> Option<&'static [u8]> {
        self.recording.get(self.next..self.next + WINDOW_BYTES)
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<(), BusError> {
        let expected = match self.pointer {
            reg::ID | reg::STATUS => 1,
            _ => WINDOW_BYTES,
        };
        if buf.len() != expected {
            return Err(BusError::BadLength {
                register: self.pointer,
                len: buf.len(),
            });
        }
        match self.pointer {
            reg::ID => buf[0] = CHIP_ID,
            reg::STATUS => {
                buf[0] = if self.next_window().is_some() {
                    status::WINDOW_READY
                } else {
                    status::END_OF_STREAM
                };
            }
            _ => {
                buf.copy_from_slice(self.next_window().ok_or(BusError::NoWindow)?);
                self.next += WINDOW_BYTES;
            }
        }
        Ok(())
    }
}

impl ErrorType for RecordedBus {
    type Error = BusError;
}

impl I2c<SevenBitAddress> for RecordedBus {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), BusError> {
        if address != self.address {
            return Err(BusError::NoDevice { address });
        }
        for operation in operations {
            match operation {
                Operation::Write(bytes) => match **bytes {
                    [register @ (reg::ID | reg::STATUS | reg::WINDOW)] => self.pointer = register,
                    _ => return Err(BusError::BadWrite),
                },
                Operation::Read(buf) => self.read(buf)?,
            }
        }
        Ok(())
    }
}
