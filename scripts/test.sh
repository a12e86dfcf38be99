#!/usr/bin/env bash
# Runs every test Mote has, installing what they need when it is missing.
# Usage: bash scripts/test.sh        (CI runs exactly this through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

EMBEDDED_TARGETS=(thumbv6m-none-eabi thumbv7em-none-eabihf thumbv8m.main-none-eabihf riscv32imac-unknown-none-elf riscv32imc-unknown-none-elf)

step() { printf '\n== %s\n' "$*"; }

step "rust targets"
installed=$(rustup target list --installed)
for t in "${EMBEDDED_TARGETS[@]}"; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t"
done

step "QEMU and gcc for the HIL tests"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
missing=()
command -v qemu-system-arm >/dev/null || missing+=(qemu-system-arm)
command -v qemu-system-riscv32 >/dev/null || missing+=(qemu-system-misc)
command -v gcc >/dev/null || missing+=(gcc)
if ((${#missing[@]})); then
  $SUDO apt-get update -qq
  # One package per command: qemu-system-arm and qemu-system-misc together fail to resolve.
  for p in "${missing[@]}"; do $SUDO apt-get install -y -qq "$p"; done
fi

step "defmt-print, to decode the defmt example's log"
command -v defmt-print >/dev/null || cargo install defmt-print --locked

step "host tests (workspace)"
cargo test --workspace --release --locked --exclude mote-hil

step "HIL matrix under QEMU: every model on every board, byte-exact against the host, within budgets"
cargo test -p mote-hil --release --locked

step "mote-runtime builds no_std, no heap, on its own, for every embedded target"
for t in "${EMBEDDED_TARGETS[@]}"; do
  cargo build -p mote-runtime --no-default-features --target "$t" --locked
done
cargo build -p mote-runtime --no-default-features --features defmt --target thumbv7em-none-eabihf --locked
step "the kernel conformance suites on the targets: Cortex-M4F and Cortex-M0 code under QEMU"
(cd examples/conformance-firmware && cargo run --release --locked && cargo run --release --locked --target thumbv6m-none-eabi)

step "Cortex-M4 size probe (interpreter + every kernel, opt-level s)"
(cd examples/size-probe && cargo build --release --locked)
bash scripts/size-report.sh

step "command one: the demo (convert, evaluate, run on the Cortex-M4 under QEMU)"
bash scripts/demo.sh
