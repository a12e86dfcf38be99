//! Cost budgets: the figures of every board × model cell, measured under QEMU, kept in
//! `hil-tests/budgets.toml`. A run fails when a figure grows by more than [`TOLERANCE`]; a figure
//! that shrank is reported so the next bless can lock the gain in.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{io_err, HilError, Result};

/// Growth allowed before a figure fails: 2 %.
pub const TOLERANCE: f64 = 0.02;

/// The cost of one model on one board.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figures {
    /// Instructions of one inference, counted by the QEMU plugin.
    pub instructions: u64,
    /// `firmware_flash + model`.
    pub flash: u64,
    /// `static_ram + stack + arena`.
    pub ram: u64,
    /// The firmware's flash: vector table, code, read-only data, `.data`'s initial values.
    pub firmware_flash: u64,
    /// The `.mote` file.
    pub model: u64,
    /// `.data + .bss + .uninit`.
    pub static_ram: u64,
    /// Stack high-water mark of the whole run, measured by painting.
    pub stack: u64,
    /// The model's arena.
    pub arena: u64,
}

impl Figures {
    pub fn named(&self) -> [(&'static str, u64); 8] {
        [
            ("instructions", self.instructions),
            ("flash", self.flash),
            ("ram", self.ram),
            ("firmware_flash", self.firmware_flash),
            ("model", self.model),
            ("static_ram", self.static_ram),
            ("stack", self.stack),
            ("arena", self.arena),
        ]
    }
}

/// Board → model → figures.
pub type Budgets = BTreeMap<String, BTreeMap<String, Figures>>;

const HEADER: &str = "\
# Cost of every board x model cell of the HIL matrix, measured under QEMU (-icount shift=0).
# A run fails when any figure grows by more than 2 %. Regenerate after an intended change with
#   MOTE_BLESS=1 cargo test -p mote-hil --release
# instructions: one inference, exact (qemu-insncount plugin); flash = firmware_flash + model;
# ram = static_ram + stack (painted high-water mark) + arena. Bytes unless said otherwise.

";

/// The budgets in `path`; none if the file does not exist yet.
pub fn load(path: &Path) -> Result<Budgets> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| HilError::Budgets { path: path.to_path_buf(), reason: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Budgets::new()),
        Err(e) => Err(io_err(path)(e)),
    }
}

pub fn save(path: &Path, budgets: &Budgets) -> Result<()> {
    let body = toml::to_string(budgets).map_err(|e| HilError::Budgets { path: path.to_path_buf(), reason: e.to_string() })?;
    std::fs::write(path, format!("{HEADER}{body}")).map_err(io_err(path))
}

/// The outcome of comparing a run with the budgets.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Figures over budget, cells without a budget, budgeted cells the run lost.
    pub failures: Vec<String>,
    /// Figures under budget.
    pub improvements: Vec<String>,
}

/// Compares `measured` with `budgets`. With `complete`, a budgeted cell the run did not measure
/// is a failure (a model that stopped fitting a board, a board that vanished).
pub fn compare(budgets: &Budgets, measured: &Budgets, complete: bool) -> Verdict {
    let mut v = Verdict::default();
    for (board, cells) in measured {
        for (model, now) in cells {
            let Some(was) = budgets.get(board).and_then(|c| c.get(model)) else {
                v.failures.push(format!("{board} × {model}: no budget yet (bless with MOTE_BLESS=1)"));
                continue;
            };
            for ((name, now), (_, was)) in now.named().into_iter().zip(was.named()) {
                let change = (now as f64 - was as f64) / (was.max(1) as f64);
                if change > TOLERANCE {
                    v.failures.push(format!("{board} × {model}: {name} {was} → {now} (+{:.1} %, over the 2 % budget)", change * 100.0));
                } else if now < was {
                    v.improvements.push(format!("{board} × {model}: {name} {was} → {now} ({:.1} %)", change * 100.0));
                }
            }
        }
    }
    if complete {
        for (board, cells) in budgets {
            for model in cells.keys() {
                if !measured.get(board).is_some_and(|c| c.contains_key(model)) {
                    v.failures.push(format!("{board} × {model}: budgeted but not run (no longer fits, or the board is gone)"));
                }
            }
        }
    }
    v
}

/// `budgets` with every measured cell replaced (cells this run did not measure are kept).
pub fn merge(mut budgets: Budgets, measured: &Budgets) -> Budgets {
    for (board, cells) in measured {
        budgets.entry(board.clone()).or_default().extend(cells.iter().map(|(m, f)| (m.clone(), *f)));
    }
    budgets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(instructions: u64, stack: u64) -> Figures {
        Figures { instructions, flash: 100, ram: 50, firmware_flash: 60, model: 40, static_ram: 10, stack, arena: 30 }
    }

    fn one(board: &str, model: &str, f: Figures) -> Budgets {
        Budgets::from([(board.to_string(), BTreeMap::from([(model.to_string(), f)]))])
    }

    #[test]
    fn growth_over_two_percent_fails_and_shrinking_is_reported() {
        let budget = one("b", "m", fig(1000, 100));
        assert!(compare(&budget, &one("b", "m", fig(1020, 100)), true).failures.is_empty());
        let v = compare(&budget, &one("b", "m", fig(1021, 100)), true);
        assert_eq!(v.failures.len(), 1, "{v:?}");
        assert!(v.failures[0].contains("instructions 1000 → 1021"), "{v:?}");
        let v = compare(&budget, &one("b", "m", fig(900, 103)), true);
        assert!(v.failures[0].contains("stack"), "{v:?}");
        assert!(v.improvements[0].contains("instructions"), "{v:?}");
    }

    #[test]
    fn missing_cells_fail_both_ways() {
        let budget = one("b", "m", fig(1000, 100));
        assert!(compare(&budget, &Budgets::new(), true).failures[0].contains("not run"));
        assert!(compare(&budget, &Budgets::new(), false).failures.is_empty());
        assert!(compare(&Budgets::new(), &budget, false).failures[0].contains("no budget"));
    }

    #[test]
    fn budgets_round_trip_through_toml() {
        let dir = std::env::temp_dir().join(format!("mote-hil-budget-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("budgets.toml");
        let b = merge(one("mps2-an386", "kws", fig(1, 2)), &one("riscv32-virt", "ad", fig(3, 4)));
        save(&path, &b).unwrap();
        assert_eq!(load(&path).unwrap(), b);
        assert!(std::fs::read_to_string(&path).unwrap().contains("[mps2-an386.kws]"));
        assert!(load(&dir.join("none.toml")).unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
