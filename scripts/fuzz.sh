#!/usr/bin/env bash
# Bounded fuzz runs (libFuzzer + AddressSanitizer through cargo-fuzz) of the runtime's
# `Model::from_bytes` + `Interpreter::invoke` (target `model`) and of the signature check
# (target `signature`), both in fuzz/ (outside the workspace). cargo-fuzz passes nightly-only
# flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
#   bash scripts/fuzz.sh [SECONDS per target, default 60] [TARGET...]
# Seeds: fuzz/seeds/<target> (committed) and, when ../shared/bench is there, the KWS and AD
# models converted to int8 (and signed with the HIL test key) into target/fuzz-seeds/. The
# corpus grows in fuzz/corpus/<target>, crashes land in fuzz/artifacts/<target>/ (both ignored
# by git; commit a crash as a regression test). Exits non-zero on a crash, a leak or a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(model signature)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

seeds=target/fuzz-seeds
mkdir -p "$seeds/model" "$seeds/signature"
if [ -d ../shared/bench/models ]; then
  cargo build --release --locked -q -p mote-converter
  for pair in kws_dscnn:kws_mfcc ad_fc_autoencoder:ad_toycar; do
    m=${pair%%:*} d=${pair##*:}
    [ -f "$seeds/model/$m.mote" ] || target/release/mote convert "../shared/bench/models/$m.onnx" \
      --calib "../shared/bench/data/$d.npz" -o "$seeds/model/$m.mote" >/dev/null
    [ -f "$seeds/signature/$m.mote" ] || target/release/mote sign "$seeds/model/$m.mote" \
      --key examples/hil-firmware/test-key --version 2 -o "$seeds/signature/$m.mote" >/dev/null
  done
fi

cd fuzz
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "fuzz: $t for $seconds s"
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" "seeds/$t" "../$seeds/$t" -- \
    -max_total_time="$seconds" -max_len=400000 -rss_limit_mb=4096 -print_final_stats=1
done
