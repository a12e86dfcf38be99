#!/usr/bin/env python3
"""Rewrites the README's measured-results tables from the blessed figures.

Run after `MOTE_BLESS=1 cargo test -p mote-hil --release` and
`MOTE_BLESS=1 bash scripts/size-report.sh`:

    python3 scripts/readme-tables.py          # rewrites README.md in place
    python3 scripts/readme-tables.py --check  # exits 1 when README.md is not up to date

Sources: hil-tests/REPORT.md (the board table), hil-tests/budgets.toml (instructions, arenas),
examples/size-probe/budget.toml (runtime flash). The peer figures (TFLM + CMSIS-NN) and the
"before" counts of the portable reference kernels are measurements kept here, not regenerated.
"""
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (README name, HIL model, MACs, TFLM+CMSIS-NN instructions, TFLM arena, TFLM runtime code, size key)
MODELS = [
    ("KWS DS-CNN", "kws_dscnn", 2_656_768, 7_581_628, 22_820, "≈ 130 KB", "kws"),
    ("VWW MobileNet", "vww_mobilenetv1_025", 7_489_664, 23_778_337, 100_708, "≈ 130 KB", "vww"),
    ("IC ResNet-8", "ic_resnet8", 12_501_632, 29_782_668, 54_996, "≈ 125 KB", "ic"),
    ("AD autoencoder", "ad_fc_autoencoder", 264_192, 583_480, 2_580, "≈ 72 KB", "ad"),
]

# Instructions per inference with the portable reference kernels, before each core had its own.
BEFORE = {
    "riscv32-virt": {"kws_dscnn": 90_834_231, "vww_mobilenetv1_025": 211_748_724,
                     "ic_resnet8": 183_083_738, "ad_fc_autoencoder": 2_389_554},
    "mps2-an385": {"kws_dscnn": 133_635_406, "vww_mobilenetv1_025": 320_473_676,
                   "ic_resnet8": 251_609_066, "ad_fc_autoencoder": 3_040_789},
}


def n(v):
    return f"{v:,}"


def ratio(a, b):
    return f"{a / b:.2f}×"


def board_table():
    lines = (ROOT / "hil-tests/REPORT.md").read_text().splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("| board | core | model |"))
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return [l.replace(" (int8) |", " |") for l in lines[start:end]]


def peer_table(budgets, size):
    rows = [
        "| model | MACs | TFLM + CMSIS-NN instructions | per MAC | TFLM arena | TFLM runtime code "
        "| Mote instructions | per MAC | vs TFLM | Mote arena | vs TFLM | Mote runtime flash |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, model, macs, tflm, tflm_arena, tflm_code, key in MODELS:
        cell = budgets["mps2-an386"][model]
        ins, arena = cell["instructions"], cell["arena"]
        rows.append(
            f"| {name} | {n(macs)} | {n(tflm)} | {tflm / macs:.2f} | {n(tflm_arena)} B | {tflm_code} "
            f"| {n(ins)} | {ins / macs:.2f} | {ratio(ins, tflm)} | {n(arena)} B "
            f"| {ratio(arena, tflm_arena)} | {n(size[key])} B |"
        )
    return rows


def cores_table(budgets):
    rows = [
        "| model | M4 (mps2-an386) | M7 (mps2-an500) | M33 (mps2-an505) | M55 Helium (mps3-an547) "
        "| M55 ÷ M4 | RV32IMAC (riscv32-virt) | ÷ before | M0 code (mps2-an385) | ÷ before |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, model, *_ in MODELS:
        ins = {b: budgets[b][model]["instructions"] for b in
               ("mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547", "riscv32-virt", "mps2-an385")}
        rows.append(
            f"| {name} | {n(ins['mps2-an386'])} | {n(ins['mps2-an500'])} | {n(ins['mps2-an505'])} "
            f"| {n(ins['mps3-an547'])} | {ratio(ins['mps3-an547'], ins['mps2-an386'])} "
            f"| {n(ins['riscv32-virt'])} | {ratio(ins['riscv32-virt'], BEFORE['riscv32-virt'][model])} "
            f"| {n(ins['mps2-an385'])} | {ratio(ins['mps2-an385'], BEFORE['mps2-an385'][model])} |"
        )
    return rows


def replace_table(text, header_prefix, new_rows):
    lines = text.split("\n")
    start = next(i for i, l in enumerate(lines) if l.startswith(header_prefix))
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join(lines[:start] + new_rows + lines[end:])


def main():
    budgets = tomllib.loads((ROOT / "hil-tests/budgets.toml").read_text())
    size = tomllib.loads((ROOT / "examples/size-probe/budget.toml").read_text())
    readme = ROOT / "README.md"
    old = readme.read_text()
    new = replace_table(old, "| board | core | model |", board_table())
    new = replace_table(new, "| model | MACs | TFLM", peer_table(budgets, size))
    new = replace_table(new, "| model | M4 (mps2-an386)", cores_table(budgets))
    if "--check" in sys.argv[1:]:
        if new != old:
            print("README.md's results tables differ from the blessed figures: run python3 scripts/readme-tables.py")
            return 1
        return 0
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
