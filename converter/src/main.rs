//! The `mote` command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mote_converter::calib::Method;
use mote_converter::data::Dataset;
use mote_converter::{Calibration, Options};
use mote_runtime::format::writer::AlignedBytes;

#[derive(Parser)]
#[command(name = "mote", version, about = "Convert ONNX models to Mote, evaluate and inspect them")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert an ONNX model to a .mote file: int8 calibrated on --calib data, or --float.
    Convert {
        model: PathBuf,
        /// Output file (written atomically: nothing is left behind on failure).
        #[arg(short, long)]
        output: PathBuf,
        /// Calibration data (.npz): one array per input, [N, ...] rows of real inputs. Needed
        /// for int8 unless the model is already quantized (QDQ).
        #[arg(long)]
        calib: Option<PathBuf>,
        /// Array to read from --calib (single-input models; default: the input's name, else x).
        #[arg(long)]
        calib_key: Option<String>,
        /// Integer array in --calib selecting the rows to calibrate on.
        #[arg(long)]
        calib_index: Option<String>,
        /// Range method: minmax, percentile (99.99), percentile=P, or mse.
        #[arg(long, default_value = "percentile")]
        method: Method,
        /// Keep this node (or the node producing this tensor) in f32; repeatable.
        #[arg(long = "keep-float")]
        keep_float: Vec<String>,
        /// One weight scale per tensor instead of per output channel.
        #[arg(long)]
        per_tensor: bool,
        /// Keep the whole model in f32.
        #[arg(long, conflicts_with = "calib")]
        float: bool,
        /// Fix an input's shape: NAME=d0,d1,... (symbolic dimensions default to 1).
        #[arg(long = "input-shape", value_parser = parse_shape)]
        input_shape: Vec<(String, Vec<usize>)>,
        /// The board (mps2-an386, ...) or core (cortex-m4, cortex-m55, rv32imac, ...) the file is
        /// for: weights stored in the layouts its kernels read fastest (int16 fully connected
        /// weights on cores with the Arm DSP extension, while the board's model flash allows).
        /// Default: the reference layout, for any target.
        #[arg(long)]
        target: Option<String>,
    },
    /// Compare a .mote model with its float ONNX model on real data.
    Eval {
        model: PathBuf,
        /// The float ONNX model it was converted from.
        #[arg(long)]
        reference: PathBuf,
        /// Evaluation data (.npz).
        #[arg(long)]
        data: PathBuf,
        /// Array to read (single-input models; default: the input's name, else x).
        #[arg(long)]
        key: Option<String>,
        /// Integer label array (one per row; -1 = unlabelled) for top-1 accuracy.
        #[arg(long)]
        labels: Option<String>,
        /// Integer array selecting the rows to evaluate on.
        #[arg(long)]
        index: Option<String>,
        /// Samples to compute the per-layer error on.
        #[arg(long, default_value_t = 64)]
        layer_samples: usize,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print a .mote file's ops, shapes, MACs and sizes, and the mote-runtime features it needs.
    Inspect {
        model: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Serve a .mote or ONNX model over the Open Inference Protocol v2 (KServe / Triton REST).
    Serve {
        model: PathBuf,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// 0 picks a free port (printed on the first line).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The model's name in URLs (default: the file stem).
        #[arg(long)]
        name: Option<String>,
    },
    /// Make an Ed25519 signing key: KEY (the secret, keep it off devices) and KEY.pub.
    Keygen {
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Sign a .mote file (adds or replaces its SIGNATURE section).
    Sign {
        model: PathBuf,
        /// The secret key file written by `mote keygen`.
        #[arg(long)]
        key: PathBuf,
        /// Model version (rollback counter): devices refuse versions below their minimum.
        #[arg(long, default_value_t = 0)]
        version: u32,
        /// Output file (written atomically).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Check a signed .mote file as a device would; exits 1 with the reason when it fails.
    Verify {
        model: PathBuf,
        /// A trusted public key (KEY.pub); repeat it to trust several (key rotation).
        #[arg(long, required = true)]
        key: Vec<PathBuf>,
        /// Refuse models whose version is below this.
        #[arg(long, default_value_t = 0)]
        min_version: u32,
    },
    /// Device .mote vs a cloud model on labelled data: system accuracy against escalation rate,
    /// and the confidence threshold for a target.
    Hybrid {
        /// The device model.
        model: PathBuf,
        /// The cloud model as an ONNX file (run here by tract).
        #[arg(long, conflicts_with = "endpoint", required_unless_present = "endpoint")]
        cloud: Option<PathBuf>,
        /// The cloud model behind an OIP v2 endpoint (http://host:port).
        #[arg(long)]
        endpoint: Option<String>,
        /// The model's name at --endpoint (default: the device model's file stem).
        #[arg(long)]
        cloud_model: Option<String>,
        /// Send tensors to --endpoint with the binary data extension.
        #[arg(long)]
        binary: bool,
        /// Evaluation data (.npz).
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        key: Option<String>,
        /// Integer label array (one per row; -1 = unlabelled).
        #[arg(long, default_value = "y")]
        labels: String,
        #[arg(long)]
        index: Option<String>,
        /// Confidence measure: max-prob, margin or entropy.
        #[arg(long, default_value = "max-prob")]
        measure: mote_cloud::Measure,
        /// Pick the threshold escalating at most this fraction of inputs (0-1).
        #[arg(long, group = "target")]
        target_rate: Option<f64>,
        /// Pick the lowest escalation rate reaching this system accuracy (0-1).
        #[arg(long, group = "target")]
        target_accuracy: Option<f64>,
        /// Pick the best accuracy within this cloud cost per 1,000 inputs (needs --cloud-cost-per-1k).
        #[arg(long, group = "target", requires = "cloud_cost_per_1k")]
        max_cost_per_1k: Option<f64>,
        /// The price of 1,000 cloud calls.
        #[arg(long)]
        cloud_cost_per_1k: Option<f64>,
        /// Samples per request to --endpoint.
        #[arg(long, default_value_t = 32)]
        batch: usize,
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

fn read_model(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    mote_runtime::Model::from_bytes(&AlignedBytes::new(&bytes)).with_context(|| format!("{} is not a valid Mote model", path.display()))?;
    Ok(bytes)
}

/// Prints to stdout; a closed pipe (`mote inspect m.mote | head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Prints a report as one JSON object (`--json`) or as text.
fn emit_report(report: &(impl serde::Serialize + std::fmt::Display), json: bool) -> anyhow::Result<()> {
    if json {
        emit(&format!("{}\n", serde_json::to_string_pretty(report)?))
    } else {
        emit(&report.to_string())
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_writer(std::io::stderr).init();
    match Cli::parse().command {
        Command::Convert { model, output, calib, calib_key, calib_index, method, keep_float, per_tensor, float, input_shape, target } => {
            let start = Instant::now();
            let calibration = calib.map(|path| Calibration { path, key: calib_key, index: calib_index, method });
            let target = target.map(|t| mote_converter::target::Target::resolve(&t)).transpose()?;
            let opts = Options { name: None, input_shapes: input_shape, float, calibration, keep_float, per_tensor_weights: per_tensor, target };
            let converted = mote_converter::convert(&model, &opts)?;
            write_atomically(&output, &converted.bytes)?;
            let aligned = AlignedBytes::new(&converted.bytes);
            let m = mote_runtime::Model::from_bytes(&aligned)?;
            let kind = match (float, converted.calibration_rows) {
                (true, _) => "f32".to_string(),
                (false, 0) => "int8 (the model's own QDQ parameters)".to_string(),
                (false, rows) => format!("int8 (calibrated on {rows} rows)"),
            };
            emit(&format!(
                "{}: {kind}, {} ops, file {} B, arena {} B, {:.1} s\n",
                output.display(),
                m.op_count(),
                converted.bytes.len(),
                m.arena_bytes(),
                start.elapsed().as_secs_f64()
            ))?;
            if !converted.float_nodes.is_empty() {
                emit(&format!("  kept in f32: {}\n", converted.float_nodes.join(", ")))?;
            }
        }
        Command::Eval { model, reference, data, key, labels, index, layer_samples, json } => {
            let bytes = read_model(&model)?;
            let aligned = AlignedBytes::new(&bytes);
            let inputs = mote_converter::data::model_inputs(&mote_runtime::Model::from_bytes(&aligned)?);
            let set = Dataset::load(&data, &inputs, key.as_deref(), index.as_deref())?;
            let labels = match &labels {
                Some(k) => Some(mote_converter::data::labels(&data, k, &set)?),
                None => None,
            };
            emit_report(&mote_converter::eval::evaluate(&bytes, &reference, &set, labels.as_deref(), layer_samples)?, json)?;
        }
        Command::Inspect { model, json } => {
            let bytes = read_model(&model)?;
            let aligned = AlignedBytes::new(&bytes);
            let m = mote_runtime::Model::from_bytes(&aligned)?;
            emit_report(&mote_converter::inspect::inspect(&m), json)?;
        }
        Command::Serve { model, host, port, name } => {
            let served = mote_converter::serve::Served::load(&model, name)?;
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind((host.as_str(), port)).await.with_context(|| format!("binding {host}:{port}"))?;
                let addr = listener.local_addr()?;
                emit(&format!("serving {} ({}) on http://{addr}/v2/models/{}\n", served.name, served.platform(), served.name))?;
                mote_converter::serve::serve(listener, std::sync::Arc::new(served)).await?;
                anyhow::Ok(())
            })?;
        }
        Command::Keygen { output } => {
            let public = mote_converter::sign::keygen(&output)?;
            let id = mote_runtime::signature::key_id(&public);
            let hexed = mote_runtime::signature::Hex;
            emit(&format!(
                "{}: secret key (keep it off devices and out of version control)\n{}: public key {}, key id {}\n  firmware: const KEYS: [mote_runtime::signature::PublicKey; 1] = [mote_runtime::signature::public_key_from_hex(include_str!(\"{}\"))];\n",
                output.display(),
                mote_converter::sign::public_path(&output).display(),
                hexed(&public),
                hexed(&id),
                mote_converter::sign::public_path(&output).display(),
            ))?;
        }
        Command::Sign { model, key, version, output } => {
            let signed = mote_converter::sign::sign(&model, &key, version)?;
            write_atomically(&output, &signed)?;
            let v = mote_runtime::signature::read(&signed)?.context("the signed file has no signature")?;
            emit(&format!(
                "{}: signed by key {}, version {version}, file {} B\n",
                output.display(),
                mote_runtime::signature::Hex(&v.key_id),
                signed.len()
            ))?;
        }
        Command::Verify { model, key, min_version } => {
            let v = mote_converter::sign::verify(&model, &key, min_version)?;
            emit(&format!(
                "{}: signature ok, key {}, version {} (minimum {min_version})\n",
                model.display(),
                mote_runtime::signature::Hex(&v.key_id),
                v.model_version
            ))?;
        }
        Command::Hybrid { model, cloud, endpoint, cloud_model, binary, data, key, labels, index, measure, target_rate, target_accuracy, max_cost_per_1k, cloud_cost_per_1k, batch, json } => {
            use mote_converter::hybrid::{Cloud, Target};
            let bytes = read_model(&model)?;
            let aligned = AlignedBytes::new(&bytes);
            let inputs = mote_converter::data::model_inputs(&mote_runtime::Model::from_bytes(&aligned)?);
            let set = Dataset::load(&data, &inputs, key.as_deref(), index.as_deref())?;
            let labels = mote_converter::data::labels(&data, &labels, &set)?;
            let cloud = match (cloud, endpoint) {
                (Some(path), _) => Cloud::Onnx(path),
                (None, Some(url)) => {
                    let stem = model.file_stem().and_then(|s| s.to_str()).unwrap_or("model").to_string();
                    Cloud::Endpoint { url, model: cloud_model.unwrap_or(stem), binary }
                }
                (None, None) => anyhow::bail!("give the cloud model: --cloud MODEL.onnx or --endpoint URL"),
            };
            let target = match (target_rate, target_accuracy, max_cost_per_1k) {
                (Some(r), _, _) => Some(Target::EscalationRate(r)),
                (_, Some(a), _) => Some(Target::Accuracy(a)),
                (_, _, Some(c)) => Some(Target::CostPer1k(c)),
                _ => None,
            };
            let report = mote_converter::hybrid::evaluate(&model, &cloud, &set, &labels, measure, target, cloud_cost_per_1k, batch)?;
            emit_report(&report, json)?;
        }
    }
    Ok(())
}
