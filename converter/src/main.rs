//! The `mote` command line.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use mote_runtime::format::writer::AlignedBytes;

#[derive(Parser)]
#[command(name = "mote", version, about = "Convert ONNX models to Mote and inspect them")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert an ONNX model to a .mote file.
    Convert {
        model: PathBuf,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
        /// Keep the whole model in f32.
        #[arg(long)]
        float: bool,
        /// Fix an input's shape: NAME=d0,d1,... (symbolic dimensions default to 1).
        #[arg(long = "input-shape", value_parser = parse_shape)]
        input_shape: Vec<(String, Vec<usize>)>,
    },
    /// Print a .mote file's ops, shapes, MACs and sizes.
    Inspect {
        model: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

fn parse_shape(s: &str) -> Result<(String, Vec<usize>), String> {
    let (name, dims) = s.split_once('=').ok_or("expected NAME=d0,d1,...")?;
    let dims = dims.split(',').map(|d| d.trim().parse::<usize>().map_err(|e| format!("{d:?}: {e}"))).collect::<Result<Vec<_>, _>>()?;
    Ok((name.to_string(), dims))
}

/// Writes `bytes` next to `path` and renames it into place, so a failure leaves no partial file.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("mote.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_writer(std::io::stderr).init();
    match Cli::parse().command {
        Command::Convert { model, output, float, input_shape } => {
            if !float {
                bail!("int8 calibration is not available in this version yet; pass --float for an f32 model");
            }
            let name = model.file_stem().and_then(|s| s.to_str()).unwrap_or("model").to_string();
            let bytes = mote_converter::convert_float(&model, &name, &input_shape)?;
            write_atomically(&output, &bytes)?;
            let aligned = AlignedBytes::new(&bytes);
            let m = mote_runtime::Model::from_bytes(&aligned)?;
            println!("{}: {} ops, file {} B, arena {} B", output.display(), m.op_count(), bytes.len(), m.arena_bytes());
        }
        Command::Inspect { model, json } => {
            let bytes = std::fs::read(&model).with_context(|| format!("reading {}", model.display()))?;
            let aligned = AlignedBytes::new(&bytes);
            let m = mote_runtime::Model::from_bytes(&aligned).with_context(|| format!("{} is not a valid Mote model", model.display()))?;
            let report = mote_converter::inspect::inspect(&m);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
        }
    }
    Ok(())
}
