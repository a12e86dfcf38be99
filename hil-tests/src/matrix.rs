//! One cell of the matrix (a model on a board): plan, run, check, measure; and the report.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use mote_runtime::DType;
use mote_targets::Target;

use crate::budget::Figures;
use crate::firmware::Firmware;
use crate::host::Reference;
use crate::qemu::{self, Report, Run};
use crate::{job, Result};

/// A model ready to run: its file and the host's answer.
#[derive(Clone, Debug)]
pub struct Model {
    pub name: String,
    pub bytes: Vec<u8>,
    pub reference: Reference,
}

/// Why `model` cannot run on `board`, if it cannot: the job must fit the `MODEL` region and
/// the arena the `ARENA` region. (Statics and stack must fit `RAM`; the linker and the stack
/// check see to that.)
pub fn misfit(board: &Target, model: &Model) -> Option<String> {
    let job = job::job(&model.bytes, &model.reference.input, 0).len() as u64;
    let (room, arena_room) = (board.layout.model.size.0, board.layout.arena.size.0);
    let arena = model.reference.arena_bytes as u64;
    if job > room {
        Some(format!("model + input {job} B > MODEL region {room} B"))
    } else if arena > arena_room {
        Some(format!("arena {arena} B > ARENA region {arena_room} B"))
    } else {
        None
    }
}

/// The instructions one op took in the profiled inference.
#[derive(Clone, Debug)]
pub struct OpCost {
    pub op: String,
    pub shape: Vec<u32>,
    pub instructions: u64,
    /// Multiply-accumulates (0 for ops without).
    pub macs: u64,
}

/// Everything one cell produced.
#[derive(Clone, Debug)]
pub struct CellResult {
    pub board: String,
    pub model: String,
    pub figures: Option<Figures>,
    /// Every way the cell failed; empty when it passed.
    pub problems: Vec<String>,
    pub profile: Option<Vec<OpCost>>,
    /// `f32` or `int8`.
    pub kind: &'static str,
    pub wall: Duration,
}

/// Runs `model` on `board` under QEMU and checks and measures the result.
pub fn run_cell(board: &Target, firmware: &Firmware, model: &Model, profile: bool, work_dir: &Path, plugin: &Path, timeout: Duration) -> CellResult {
    let mut result = CellResult { board: board.name.clone(), model: model.name.clone(), figures: None, problems: Vec::new(), profile: None, kind: model.reference.kind, wall: Duration::ZERO };
    match measure(board, firmware, model, profile, work_dir, plugin, timeout, &mut result) {
        Ok(()) => {}
        Err(e) => result.problems.push(e.to_string()),
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn measure(board: &Target, firmware: &Firmware, model: &Model, profile: bool, work_dir: &Path, plugin: &Path, timeout: Duration, result: &mut CellResult) -> Result<()> {
    let flags = if profile { job::PROFILE } else { 0 };
    let job_path = work_dir.join(format!("{}-{}.job.elf", board.name, model.name));
    job::write(board, &job::job(&model.bytes, &model.reference.input, flags), &job_path)?;
    let run = Run { board, firmware, job: Some(&job_path), plugin: Some(plugin), timeout };
    let outcome = run.run()?;
    result.wall = outcome.wall;
    let report = qemu::parse(&board.name, &outcome)?;
    let fail = |problem: String| format!("{problem}\n--- guest output ---\n{}", outcome.transcript());

    result.problems.extend(compare_outputs(&model.reference, &report).into_iter().map(fail));
    if report.arena != model.reference.arena_bytes as u64 {
        result.problems.push(fail(format!("guest arena {} B, host {} B", report.arena, model.reference.arena_bytes)));
    }
    let Some(instructions) = report.instructions() else {
        result.problems.push(fail(format!("the plugin printed {} marks, not the 2 around the inference", report.marks.len())));
        return Ok(());
    };
    if let Some(problem) = counter_disagrees(board, &report, instructions) {
        result.problems.push(fail(problem));
    }
    let stack_room = board.layout.ram.size.0.saturating_sub(firmware.image.static_ram);
    if report.stack + 64 >= stack_room {
        result.problems.push(fail(format!("stack high-water {} B reaches the end of RAM ({stack_room} B free): it may have overflowed", report.stack)));
    }
    let model_len = model.bytes.len() as u64;
    let arena = report.arena;
    result.figures = Some(Figures {
        instructions,
        flash: firmware.image.flash + model_len,
        ram: firmware.image.static_ram + report.stack + arena,
        firmware_flash: firmware.image.flash,
        model: model_len,
        static_ram: firmware.image.static_ram,
        stack: report.stack,
        arena,
    });
    if profile {
        let ops = &model.reference.ops;
        if report.ops.len() != ops.len() || report.marks.len() != 2 + 2 * ops.len() {
            result.problems.push(fail(format!("profile: {} ops and {} marks for a model of {} ops", report.ops.len(), report.marks.len(), ops.len())));
        } else {
            let costs = ops
                .iter()
                .enumerate()
                .map(|(i, (code, shape, macs))| OpCost { op: code.name().to_string(), shape: shape.clone(), instructions: report.op_instructions(i).unwrap_or(0), macs: *macs })
                .collect();
            result.profile = Some(costs);
        }
    }
    Ok(())
}

/// Every difference between the guest's outputs and the host's, as messages.
pub fn compare_outputs(reference: &Reference, report: &Report) -> Vec<String> {
    if report.outputs.len() != reference.outputs.len() {
        return vec![format!("guest printed {} outputs, the model has {}", report.outputs.len(), reference.outputs.len())];
    }
    let mut problems = Vec::new();
    for (i, ((want, got), dtype)) in reference.outputs.iter().zip(&report.outputs).zip(&reference.output_dtypes).enumerate() {
        if want == got {
            continue;
        }
        if want.len() != got.len() {
            problems.push(format!("output {i}: guest sent {} bytes, host has {}", got.len(), want.len()));
            continue;
        }
        let differing = want.iter().zip(got).filter(|(a, b)| a != b).count();
        let first = want.iter().zip(got).position(|(a, b)| a != b).unwrap_or(0);
        let size = dtype.size();
        let element = first / size;
        let at = element * size..(element + 1) * size;
        let show = |b: &[u8]| match dtype {
            DType::F32 => format!("{:e}", f32::from_le_bytes(b.try_into().unwrap_or([0; 4]))),
            DType::I32 => format!("{}", i32::from_le_bytes(b.try_into().unwrap_or([0; 4]))),
            DType::I8 => format!("{}", b[0] as i8),
        };
        problems.push(format!(
            "output {i} ({dtype:?}) differs from the host in {differing} of {} bytes; first at element {element}: host {}, guest {}",
            want.len(),
            show(&want[at.clone()]),
            show(&got[at]),
        ));
    }
    problems
}

/// The firmware's own counter must agree with the plugin: SysTick to within two ticks (QEMU
/// advances virtual time by 1 ns per instruction under `-icount shift=0`), `minstret` exactly up
/// to the few instructions between the counter reads and the markers.
/// Instructions of the measured inference from the firmware's own counter (no plugin needed),
/// and the counter's resolution in instructions: under `-icount shift=0` one instruction takes
/// 1 ns of virtual time, so a SysTick tick is `1e9 / hz` instructions; `minstret` is exact.
pub fn counter_instructions(board: &Target, report: &Report) -> Option<(f64, f64)> {
    let (name, value) = report.counter.as_ref()?;
    match name.as_str() {
        "systick" => {
            let ns_per_tick = 1e9 / board.qemu.as_ref()?.systick_hz? as f64;
            Some((*value as f64 * ns_per_tick, ns_per_tick))
        }
        "minstret" => Some((*value as f64, 1.0)),
        _ => None,
    }
}

fn counter_disagrees(board: &Target, report: &Report, instructions: u64) -> Option<String> {
    let (name, value) = report.counter.as_ref()?;
    const SLACK: f64 = 64.0;
    let Some((estimate, resolution)) = counter_instructions(board, report) else { return Some(format!("unknown counter {name:?}")) };
    let tolerance = if resolution > 1.0 { 2.0 * resolution + SLACK } else { SLACK };
    let off = (estimate - instructions as f64).abs();
    (off > tolerance).then(|| format!("firmware counter {name} = {value} means {estimate:.0} instructions, the plugin counted {instructions} (off by {off:.0})"))
}

/// A Markdown report: the figures of every cell, the cells that could not run, and the per-op
/// profile.
pub fn markdown(results: &[CellResult], skipped: &[(String, String, String)], boards: &[Target]) -> String {
    let mut s = String::from("# HIL matrix: cost per board and model\n\n");
    s += "Measured under QEMU with `-icount shift=0` by `cargo test -p mote-hil --release` (regenerate with `MOTE_BLESS=1`). ";
    s += "Instructions are exact (qemu-insncount plugin). flash = firmware + model file; RAM = statics + stack high-water mark + arena.\n\n";
    s += "| board | core | model | instructions / inference | flash B (firmware + model) | RAM B (statics + stack + arena) |\n|---|---|---|---:|---:|---:|\n";
    for r in results {
        let Some(f) = r.figures else { continue };
        let core = boards.iter().find(|b| b.name == r.board).map(|b| b.core.as_str()).unwrap_or("");
        let _ = writeln!(
            s,
            "| {} | {core} | {} ({}) | {} | {} ({} + {}) | {} ({} + {} + {}) |",
            r.board,
            r.model,
            r.kind,
            thousands(f.instructions),
            thousands(f.flash),
            thousands(f.firmware_flash),
            thousands(f.model),
            thousands(f.ram),
            thousands(f.static_ram),
            thousands(f.stack),
            thousands(f.arena)
        );
    }
    if !skipped.is_empty() {
        s += "\nNot run (does not fit):\n\n";
        for (board, model, why) in skipped {
            let _ = writeln!(s, "- {model} on {board}: {why}");
        }
    }
    for r in results {
        let Some(profile) = &r.profile else { continue };
        let total: u64 = profile.iter().map(|o| o.instructions).sum();
        let _ = write!(s, "\n## Per-op instructions: {} ({}) on {}\n\n", r.model, r.kind, r.board);
        s += "Second inference of the run, a marker before and after every op; the sum leaves out the interpreter's work between ops. ";
        s += "Instructions per MAC for the ops that multiply-accumulate (convolutions, fully connected).\n\n";
        s += "| # | op | output shape | instructions | share | MACs | instr / MAC |\n|---:|---|---|---:|---:|---:|---:|\n";
        for (i, o) in profile.iter().enumerate() {
            let _ = writeln!(
                s,
                "| {i} | {} | {:?} | {} | {:.1} % | {} | {} |",
                o.op,
                o.shape,
                thousands(o.instructions),
                100.0 * o.instructions as f64 / total.max(1) as f64,
                if o.macs > 0 { thousands(o.macs) } else { String::new() },
                per_mac(o.instructions, o.macs)
            );
        }
        let macs: u64 = profile.iter().map(|o| o.macs).sum();
        let mac_instructions: u64 = profile.iter().filter(|o| o.macs > 0).map(|o| o.instructions).sum();
        let _ = writeln!(s, "| | total | | {} | | {} | {} |", thousands(total), thousands(macs), per_mac(total, macs));
        let _ = writeln!(s, "| | MAC ops | | {} | {:.1} % | {} | {} |", thousands(mac_instructions), 100.0 * mac_instructions as f64 / total.max(1) as f64, thousands(macs), per_mac(mac_instructions, macs));
    }
    s
}

/// Instructions per multiply-accumulate with two decimals, or nothing when there are none.
fn per_mac(instructions: u64, macs: u64) -> String {
    if macs == 0 {
        String::new()
    } else {
        format!("{:.2}", instructions as f64 / macs as f64)
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn output_differences_name_the_element() {
        let reference = Reference {
            input: vec![],
            outputs: vec![[1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect()],
            output_dtypes: vec![DType::F32],
            arena_bytes: 0,
            ops: vec![],
            kind: "f32",
        };
        let mut report = Report { outputs: reference.outputs.clone(), ..Report::default() };
        assert!(compare_outputs(&reference, &report).is_empty());
        report.outputs[0][4] ^= 1;
        let p = compare_outputs(&reference, &report);
        assert!(p[0].contains("1 of 8 bytes") && p[0].contains("element 1") && p[0].contains("host 2e0"), "{p:?}");
        report.outputs.clear();
        assert!(compare_outputs(&reference, &report)[0].contains("0 outputs"));
    }
}
