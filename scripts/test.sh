#!/usr/bin/env bash
# Runs every test Mote has, installing what they need when it is missing.
# Usage: bash scripts/test.sh        (CI runs exactly this through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

EMBEDDED_TARGETS=(thumbv6m-none-eabi thumbv7em-none-eabihf thumbv8m.main-none-eabihf riscv32imac-unknown-none-elf riscv32imc-unknown-none-elf)

source scripts/lib.sh

step "what the tests need: rust targets, QEMU, gcc (for the instruction-counting plugin) and g++ (libFuzzer, for the fuzz step)"
ensure_rust_targets "${EMBEDDED_TARGETS[@]}"
ensure_commands qemu-system-arm=qemu-system-arm qemu-system-riscv32=qemu-system-misc gcc=gcc c++=g++
if ((${#MOTE_NOT_INSTALLED[@]})); then
  echo "cannot run the tests without"
  print_not_installed
  exit 1
fi

step "defmt-print, to decode the defmt example's log"
command -v defmt-print >/dev/null || cargo install defmt-print --locked

step "no firmware build pulls in a host-only crate (every firmware crate, on its embedded targets)"
bash scripts/check-firmware-deps.sh

step "Open Inference Protocol v2 servers for the cloud tests: MLServer 1.7.1 and KServe 0.21 (venvs cached in target/oip-venvs)"
bash scripts/oip-servers.sh install
export MOTE_REQUIRE_OIP_SERVERS=1

step "host tests (workspace)"
cargo test --workspace --release --locked --exclude mote-hil

step "fuzz the runtime for 30 s a target under AddressSanitizer (model, signature; cargo-fuzz, fuzz/README.md)"
bash scripts/fuzz.sh 30 model signature

step "reduced builds of mote-runtime (a family's int8 and f32 ops apart) load what they compile in and reject the rest, naming the feature"
cargo test -p mote-runtime --release --locked --no-default-features --features std,conformance,quantize,conv,unary_f32 --lib ops::tests
cargo test -p mote-runtime --release --locked --no-default-features --features std,conformance,f32,conv,pool,fully_connected --lib ops::tests

step "HIL matrix under QEMU: every model on every board, byte-exact against the host, within budgets"
cargo test -p mote-hil --release --locked

step "mote-runtime builds no_std, no heap, on its own, for every embedded target"
for t in "${EMBEDDED_TARGETS[@]}"; do
  cargo build -p mote-runtime --no-default-features --target "$t" --locked
  cargo build -p mote-runtime --no-default-features --features verify --target "$t" --locked
done
cargo build -p mote-runtime --no-default-features --features defmt,verify --target thumbv7em-none-eabihf --locked
step "the kernel conformance suites on the targets: Cortex-M4F, Cortex-M0 code, RV32IMAC and Cortex-M55 under QEMU"
(cd examples/conformance-firmware && cargo run --release --locked && cargo run --release --locked --target thumbv6m-none-eabi \
  && cargo run --release --locked --target riscv32imac-unknown-none-elf && cargo run --release --locked --target thumbv8m.main-none-eabihf)

step "Cortex-M4 size probe (the runtime with every op family, and with each benchmark model's features), within 2 % of its committed flash"
bash scripts/size-report.sh

step "the README's results tables match the blessed figures (budgets, REPORT, size budget)"
python3 scripts/readme-tables.py --check

step "command one: the demo (convert, evaluate, run on the Cortex-M4 under QEMU)"
bash scripts/demo.sh
