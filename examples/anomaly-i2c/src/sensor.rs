//! Driver for an audio feature front-end on I2C.
//!
//! The front-end (a DSP or a small MCU beside the microphone) computes log-mel feature windows
//! and exposes them through a register map. This is the protocol this example defines for it;
//! a real part's datasheet would replace the constants, not the shape of the driver:
//!
//! | register | address | access | content |
//! |---|---|---|---|
//! | [`reg::ID`] | `0x00` | read, 1 byte | [`CHIP_ID`] |
//! | [`reg::STATUS`] | `0x01` | read, 1 byte | [`status::WINDOW_READY`], [`status::END_OF_STREAM`] |
//! | [`reg::WINDOW`] | `0x10` | read, 2560 bytes | the oldest unread window: 640 f32, little-endian; reading it whole consumes it |
//!
//! Every access is one `write_read`: the register address is written, then, after a repeated
//! start, the bytes are read. The driver is generic over [`I2c`] so the bus can be a HAL's
//! peripheral, a shared-bus proxy or [`RecordedBus`](crate::recorded::RecordedBus).
use embedded_hal::i2c::{ErrorKind, I2c, NoAcknowledgeSource};

/// The front-end's 7-bit address.
pub const DEFAULT_ADDRESS: u8 = 0x3A;
/// What [`reg::ID`] reads on the front-end.
pub const CHIP_ID: u8 = 0xA5;
/// Feature values per window (the MLPerf Tiny AD input: 5 frames × 128 mel bins).
pub const WINDOW_LEN: usize = 640;
/// Bytes per window on the bus.
pub const WINDOW_BYTES: usize = WINDOW_LEN * 4;

/// One feature window.
pub type Window = [f32; WINDOW_LEN];

/// Register addresses.
pub mod reg {
    pub const ID: u8 = 0x00;
    pub const STATUS: u8 = 0x01;
    pub const WINDOW: u8 = 0x10;
}

/// Bits of the status register.
pub mod status {
    /// At least one window is waiting in [`reg::WINDOW`](super::reg::WINDOW).
    pub const WINDOW_READY: u8 = 1 << 0;
    /// No window will come any more (a recording has ended; a live front-end never sets it).
    pub const END_OF_STREAM: u8 = 1 << 1;
}

/// What the front-end has to offer now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub enum Poll {
    /// A window can be read.
    Ready,
    /// No window yet: the next one is still being computed.
    Pending,
    /// No window now and none will come.
    Ended,
}

/// Why the front-end could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The bus transfer failed.
    Bus(E),
    /// Something answered at the address, but not the front-end.
    WrongChip { found: u8 },
}

impl<E: embedded_hal::i2c::Error> defmt::Format for Error<E> {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self {
            Error::Bus(e) => defmt::write!(f, "I2C bus error: {=str}", kind_name(e.kind())),
            Error::WrongChip { found } => {
                defmt::write!(
                    f,
                    "chip id {=u8:#04x}, expected {=u8:#04x}: not the feature front-end",
                    found,
                    CHIP_ID
                )
            }
        }
    }
}

/// embedded-hal's `ErrorKind` has no `defmt::Format` (only for defmt 0.3), hence this.
fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Bus => "bus error",
        ErrorKind::ArbitrationLoss => "arbitration lost",
        ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address) => "no acknowledge of the address",
        ErrorKind::NoAcknowledge(NoAcknowledgeSource::Data) => "no acknowledge of data",
        ErrorKind::NoAcknowledge(NoAcknowledgeSource::Unknown) => "no acknowledge",
        ErrorKind::Overrun => "overrun",
        _ => "other",
    }
}

/// The feature front-end on `I2C`.
pub struct FeatureSensor<I2C> {
    i2c: I2C,
    address: u8,
}

impl<I2C: I2c> FeatureSensor<I2C> {
    /// Takes the bus and checks that the front-end answers at `address` with [`CHIP_ID`].
    pub fn new(i2c: I2C, address: u8) -> Result<Self, Error<I2C::Error>> {
        let mut sensor = FeatureSensor { i2c, address };
        let found = sensor.read_register(reg::ID)?;
        if found != CHIP_ID {
            return Err(Error::WrongChip { found });
        }
        Ok(sensor)
    }

    /// Reads the status register.
    pub fn poll(&mut self) -> Result<Poll, Error<I2C::Error>> {
        let bits = self.read_register(reg::STATUS)?;
        Ok(if bits & status::WINDOW_READY != 0 {
            Poll::Ready
        } else if bits & status::END_OF_STREAM != 0 {
            Poll::Ended
        } else {
            Poll::Pending
        })
    }

    /// Reads the oldest unread window into `window`, consuming it on the front-end. Call it after
    /// [`poll`](Self::poll) said [`Poll::Ready`].
    pub fn read_window(&mut self, window: &mut Window) -> Result<(), Error<I2C::Error>> {
        // Read straight into the caller's window: no second 2.5 KiB buffer.
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut window[..]);
        self.i2c
            .write_read(self.address, &[reg::WINDOW], bytes)
            .map_err(Error::Bus)?;
        for value in window.iter_mut() {
            *value = f32::from_bits(u32::from_le(value.to_bits()));
        }
        Ok(())
    }

    /// Gives the bus back.
    pub fn release(self) -> I2C {
        self.i2c
    }

    fn read_register(&mut self, register: u8) -> Result<u8, Error<I2C::Error>> {
        let mut value = [0u8];
        self.i2c
            .write_read(self.address, &[register], &mut value)
            .map_err(Error::Bus)?;
        Ok(value[0])
    }
}
