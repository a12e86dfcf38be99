//! Scores every feature window the front-end delivers with the MLPerf Tiny AD autoencoder.
//!
//! The model and the recording are chosen at build time (`MOTE_MODEL`, `MOTE_WINDOWS`, see
//! `build.rs`) and sit in flash; the arena is a static sized by the build script from the model's
//! own memory plan, so RAM use is known at link time. Output goes through defmt: one line per
//! window with the score and its f32 bits, so a test can compare with a host run exactly.
//!
//! Exit codes through semihosting: 0 when every window was scored, 1 on an error (printed first),
//! 101 on a panic, 102 on a HardFault.
#![no_std]
#![no_main]

use cortex_m_rt::{entry, exception, ExceptionFrame};
use defmt_semihosting as _;
use mote_anomaly_i2c::anomaly_score;
use mote_anomaly_i2c::recorded::{BusError, RecordedBus};
use mote_anomaly_i2c::sensor::{self, FeatureSensor, Poll, Window, WINDOW_LEN};
use mote_runtime::{Arena, FormatError, Interpreter, Model, RunError};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}

static MODEL: &[u8] = mote_runtime::include_model!(concat!(env!("OUT_DIR"), "/model.mote"));
static RECORDING: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/windows.bin"));

/// Why the firmware stopped before scoring every window.
#[derive(defmt::Format)]
enum AppError {
    Model(FormatError),
    Run(RunError),
    Sensor(sensor::Error<BusError>),
    /// The arena was already taken: `run` was entered twice.
    ArenaTaken,
    /// The front-end ended its stream before delivering any window.
    NoWindows,
}

impl From<FormatError> for AppError {
    fn from(e: FormatError) -> Self {
        AppError::Model(e)
    }
}

impl From<RunError> for AppError {
    fn from(e: RunError) -> Self {
        AppError::Run(e)
    }
}

impl From<sensor::Error<BusError>> for AppError {
    fn from(e: sensor::Error<BusError>) -> Self {
        AppError::Sensor(e)
    }
}

#[entry]
fn main() -> ! {
    let code = match run() {
        Ok(scored) => {
            defmt::info!("{=usize} windows scored", scored);
            0
        }
        Err(e) => {
            defmt::error!("{}", e);
            1
        }
    };
    semihosting::process::exit(code)
}

fn run() -> Result<usize, AppError> {
    let arena = cortex_m::singleton!(: Arena<{ embedded::ARENA_BYTES }> = Arena::new())
        .ok_or(AppError::ArenaTaken)?;
    let model = Model::from_bytes(MODEL)?;
    let mut interpreter = Interpreter::new(&model, &mut arena.0)?;
    defmt::info!(
        "model {=str}: {=usize} ops, arena {=usize} B, {=usize} recorded windows",
        model.name(),
        model.op_count(),
        model.arena_bytes(),
        embedded::RECORDED_WINDOWS
    );

    // On a board: the HAL's I2C peripheral instead of the recording.
    let bus = RecordedBus::new(RECORDING, sensor::DEFAULT_ADDRESS);
    let mut sensor = FeatureSensor::new(bus, sensor::DEFAULT_ADDRESS)?;

    let mut window: Window = [0.0; WINDOW_LEN];
    let mut reconstruction = [0.0f32; WINDOW_LEN];
    let mut scored = 0;
    loop {
        match sensor.poll()? {
            Poll::Ready => {}
            // A live front-end computes the next window for tens of milliseconds; a board would
            // sleep on its data-ready line here.
            Poll::Pending => continue,
            Poll::Ended => break,
        }
        sensor.read_window(&mut window)?;
        interpreter.set_input_f32(0, &window)?;
        interpreter.invoke()?;
        interpreter.output_to_f32(0, &mut reconstruction)?;
        let score = anomaly_score(&window, &reconstruction);
        defmt::println!(
            "window {=usize}: score {=f32} bits {=u32:#010x}",
            scored,
            score,
            score.to_bits()
        );
        scored += 1;
    }
    if scored == 0 {
        return Err(AppError::NoWindows);
    }
    Ok(scored)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    match info.location() {
        Some(at) => defmt::error!("panicked at {=str}:{=u32}", at.file(), at.line()),
        None => defmt::error!("panicked"),
    }
    semihosting::process::exit(101)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    defmt::error!(
        "HardFault at pc {=u32:#010x}, lr {=u32:#010x}",
        frame.pc(),
        frame.lr()
    );
    semihosting::process::exit(102)
}
