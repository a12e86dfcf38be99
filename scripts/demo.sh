#!/usr/bin/env bash
# Command one: Mote's main job on the bundled demo model (a digits CNN, examples/demo/).
# Converts it to int8 with calibration, evaluates float vs int8, writes the .mote file and a
# report, then runs the model on a Cortex-M4 (mps2-an386) under QEMU and prints the device's
# answer, its instructions per inference, flash and RAM. Needs only rustup; no network at run
# time beyond fetching crates, no Python, no ../shared.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=target/demo
DEMO=examples/demo
mkdir -p "$OUT"
step() { printf '\n== %s\n' "$*"; }

step "build the converter"
cargo build --release --locked -p mote-converter
MOTE=target/release/mote

step "convert $DEMO/digits.onnx to int8, calibrated on 200 training images"
"$MOTE" convert "$DEMO/digits.onnx" --calib "$DEMO/digits.npz" --calib-index calib_idx -o "$OUT/digits.mote"

step "evaluate float (tract) vs int8 (mote-runtime) on 360 held-out images"
"$MOTE" eval "$OUT/digits.mote" --reference "$DEMO/digits.onnx" --data "$DEMO/digits.npz" --labels y --index eval_idx | tee "$OUT/report.txt"
"$MOTE" eval "$OUT/digits.mote" --reference "$DEMO/digits.onnx" --data "$DEMO/digits.npz" --labels y --index eval_idx --json > "$OUT/report.json"
"$MOTE" inspect "$OUT/digits.mote" >> "$OUT/report.txt"
echo "model: $OUT/digits.mote   report: $OUT/report.txt, $OUT/report.json"

step "run it on a Cortex-M4 (mps2-an386) under QEMU"
missing=()
command -v qemu-system-arm >/dev/null || missing+=("qemu-system-arm  (install: sudo apt-get install -y qemu-system-arm)")
rustup target list --installed 2>/dev/null | grep -qx thumbv7em-none-eabihf || missing+=("the Cortex-M4 rust target  (install: rustup target add thumbv7em-none-eabihf)")
if ((${#missing[@]})); then
  echo "skipped: the device part needs"
  printf '  - %s\n' "${missing[@]}"
  echo "The host part above is complete; install these and run this script again."
  exit 0
fi
cargo run --release --locked -q -p mote-hil --example run -- mps2-an386 "$OUT/digits.mote" "$DEMO/digits.npz" eval_idx y
