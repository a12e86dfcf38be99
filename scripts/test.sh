#!/usr/bin/env bash
# Runs every test Mote has, installing what they need when it is missing.
# Usage: bash scripts/test.sh        (CI runs exactly this through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

EMBEDDED_TARGETS=(thumbv6m-none-eabi thumbv7em-none-eabihf thumbv8m.main-none-eabihf riscv32imac-unknown-none-elf)

step() { printf '\n== %s\n' "$*"; }

step "rust targets"
installed=$(rustup target list --installed)
for t in "${EMBEDDED_TARGETS[@]}"; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t"
done

step "host tests (workspace)"
cargo test --workspace --release --locked

step "mote-runtime builds no_std, no heap, on its own, for every embedded target"
for t in "${EMBEDDED_TARGETS[@]}"; do
  cargo build -p mote-runtime --no-default-features --target "$t" --locked
done
cargo build -p mote-runtime --no-default-features --features defmt --target thumbv7em-none-eabihf --locked

step "Cortex-M4 size probe (interpreter + every kernel, opt-level s)"
(cd examples/size-probe && cargo build --release --locked)
bash scripts/size-report.sh
