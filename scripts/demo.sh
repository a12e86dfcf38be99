#!/usr/bin/env bash
# Command one: Mote's main job on the bundled demo model (a digits CNN, examples/demo/).
# Converts it to int8 with calibration, evaluates float vs int8, writes the .mote file and a
# report, then runs the model on a Cortex-M4 (mps2-an386) under QEMU and prints the device's
# answer, its instructions per inference, flash and RAM. Needs only rustup; no Python, no
# ../shared. What the device part lacks (the Cortex-M4 rust target, QEMU) it installs, saying so;
# when it cannot (see scripts/lib.sh), it still does the host part and ends by listing what to
# install by hand, with exit status 0.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

OUT=target/demo
DEMO=examples/demo
mkdir -p "$OUT"

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
ensure_rust_targets thumbv7em-none-eabihf
ensure_commands qemu-system-arm=qemu-system-arm
if ((${#MOTE_NOT_INSTALLED[@]})); then
  echo "skipped: the device part needs"
  print_not_installed
  echo "The host part above is complete; install these and run this script again."
  exit 0
fi
cargo run --release --locked -q -p mote-hil --example run -- mps2-an386 "$OUT/digits.mote" "$DEMO/digits.npz" eval_idx y
