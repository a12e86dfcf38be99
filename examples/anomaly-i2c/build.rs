//! Embeds the model and the recording chosen at build time, and checks them before they are
//! flashed: a model that does not map a 640-value window to a 640-value reconstruction, or a
//! recording that is not whole windows, fails the build rather than the device.
//!
//! - `MOTE_MODEL`: the `.mote` file (default `../../target/demo/ad.mote`).
//! - `MOTE_WINDOWS`: raw little-endian f32 feature windows, 640 values each, back to back
//!   (default `../../target/demo/ad_windows.bin`).
//!
//! Relative paths are taken from this example's directory. Both files are copied to `OUT_DIR`,
//! where `src/` includes them, and the model's arena size is written to `OUT_DIR/model.rs`.
use std::{env, fs, path::PathBuf};

use mote_runtime::format::writer::AlignedBytes;
use mote_runtime::{Interpreter, Model};

/// Feature values per window: what the sensor protocol and the AD autoencoder both use.
const WINDOW_LEN: usize = 640;

const HOW_MODEL: &str = "convert the MLPerf Tiny AD autoencoder from the repository root:\n  \
    target/release/mote convert ad_fc_autoencoder.onnx --calib ad_toycar.npz -o target/demo/ad.mote\n\
    or point MOTE_MODEL at an existing .mote file";
const HOW_WINDOWS: &str = "extract windows from ad_toycar.npz, from the repository root:\n  \
    python3 examples/anomaly-i2c/extract_windows.py ad_toycar.npz 4 target/demo/ad_windows.bin\n\
    or point MOTE_WINDOWS at a raw file of N x 640 little-endian f32";

fn input_path(var: &str, default: &str) -> PathBuf {
    println!("cargo:rerun-if-env-changed={var}");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let path = manifest.join(env::var(var).unwrap_or_else(|_| default.to_string()));
    println!("cargo:rerun-if-changed={}", path.display());
    path
}

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());

    let model_path = input_path("MOTE_MODEL", "../../target/demo/ad.mote");
    let model_bytes = fs::read(&model_path).unwrap_or_else(|e| {
        panic!(
            "cannot read the model {} ({e}).\nSet MOTE_MODEL, or {HOW_MODEL}",
            model_path.display()
        )
    });
    let aligned = AlignedBytes::new(&model_bytes);
    let model = Model::from_bytes(aligned.as_bytes())
        .unwrap_or_else(|e| panic!("{}: {e}", model_path.display()));
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    let it = Interpreter::new(&model, &mut arena)
        .unwrap_or_else(|e| panic!("{}: {e}", model_path.display()));
    for (what, info) in [("input", it.input(0)), ("output", it.output(0))] {
        let len = info
            .unwrap_or_else(|e| panic!("{}: no graph {what} 0: {e}", model_path.display()))
            .len();
        if len != WINDOW_LEN {
            panic!("{}: graph {what} 0 has {len} values; this example needs an autoencoder of {WINDOW_LEN}-value windows", model_path.display());
        }
    }
    fs::write(out.join("model.mote"), &model_bytes).unwrap();

    let windows_path = input_path("MOTE_WINDOWS", "../../target/demo/ad_windows.bin");
    let windows = fs::read(&windows_path).unwrap_or_else(|e| {
        panic!(
            "cannot read the recording {} ({e}).\nSet MOTE_WINDOWS, or {HOW_WINDOWS}",
            windows_path.display()
        )
    });
    let window_bytes = WINDOW_LEN * 4;
    if windows.is_empty() || !windows.chunks_exact(window_bytes).remainder().is_empty() {
        panic!(
            "{}: {} bytes is not a whole number of {window_bytes}-byte windows (640 f32 LE each)",
            windows_path.display(),
            windows.len()
        );
    }
    fs::write(out.join("windows.bin"), &windows).unwrap();

    // Sized from the model actually embedded, with room to align the arena's start to 16.
    fs::write(
        out.join("model.rs"),
        format!(
            "/// Arena bytes the embedded model's memory plan needs.\npub const ARENA_BYTES: usize = {};\n\
             /// Windows in the embedded recording.\npub const RECORDED_WINDOWS: usize = {};\n",
            model.arena_bytes(),
            windows.len() / window_bytes
        ),
    )
    .unwrap();

    fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
}
