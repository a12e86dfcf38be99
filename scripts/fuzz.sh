#!/usr/bin/env bash
# Bounded fuzz runs (libFuzzer through cargo-fuzz, AddressSanitizer by default) of fuzz/'s
# targets: `model` (Model::from_bytes + Interpreter::invoke), `signature` (the signature check),
# `onnx` (the converter's whole path on ONNX bytes, --float and int8) and `npz` (the converter's
# .npz reader). cargo-fuzz passes nightly-only flags; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain take them. fuzz/README.md explains the targets, the corpora and long runs.
#   bash scripts/fuzz.sh [SECONDS per target, default 60] [TARGET...] [-- LIBFUZZER_OPTION...]
#   default targets: model signature (the runtime's; onnx and npz build tract under the
#   sanitizer, several minutes more)
#   MOTE_FUZZ_JOBS=N        N fuzzing processes per target (-jobs=N -workers=N), sharing the corpus
#   MOTE_FUZZ_SANITIZER=none  no sanitizer (cargo fuzz -s none, built in fuzz/target/sanitizer-none
#                           beside the ASan build): more executions a second, but an out-of-bounds
#                           access that does not panic goes unseen
# Seeds: fuzz/seeds/<target> (committed) and, when ../shared/bench is there, the KWS and AD
# models converted to int8 (and signed with the HIL test key), their ONNX files, into
# target/fuzz-seeds/. The corpus grows in fuzz/corpus/<target>, crashes land in
# fuzz/artifacts/<target>/ (both ignored by git; commit a crash, minimized, to
# fuzz/regressions/<target>/). Each target's last lines (libFuzzer's final stats, with
# stat::number_of_executed_units) go to target/fuzz-logs/<target>.log. Exits non-zero on a
# crash, a leak, an out-of-memory or a timeout (an input running over 10 s, 60 s for onnx).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do targets+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
extra=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(model signature)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

seeds=$PWD/target/fuzz-seeds
logs=$PWD/target/fuzz-logs
mkdir -p "$seeds/model" "$seeds/signature" "$seeds/onnx" "$seeds/npz" "$logs"
if [ -d ../shared/bench/models ]; then
  cargo build --release --locked -q -p mote-converter
  for pair in kws_dscnn:kws_mfcc ad_fc_autoencoder:ad_toycar; do
    m=${pair%%:*} d=${pair##*:}
    [ -f "$seeds/model/$m.mote" ] || target/release/mote convert "../shared/bench/models/$m.onnx" \
      --calib "../shared/bench/data/$d.npz" -o "$seeds/model/$m.mote" >/dev/null
    [ -f "$seeds/signature/$m.mote" ] || target/release/mote sign "$seeds/model/$m.mote" \
      --key examples/hil-firmware/test-key --version 2 -o "$seeds/signature/$m.mote" >/dev/null
    cp -f "../shared/bench/models/$m.onnx" "$seeds/onnx/"
  done
fi

sanitizer=()
[ -n "${MOTE_FUZZ_SANITIZER:-}" ] && sanitizer=(-s "$MOTE_FUZZ_SANITIZER" --target-dir "target/sanitizer-$MOTE_FUZZ_SANITIZER")
jobs=()
[ -n "${MOTE_FUZZ_JOBS:-}" ] && jobs=(-jobs="$MOTE_FUZZ_JOBS" -workers="$MOTE_FUZZ_JOBS")

cd fuzz
for t in "${targets[@]}"; do
  case $t in
    model | signature) features=() limits=(-max_len=400000 -timeout=10) ;;
    onnx | npz) features=(--features converter) limits=(-timeout=60) ;;
    *) echo "unknown fuzz target $t (model, signature, onnx, npz)" >&2; exit 2 ;;
  esac
  mkdir -p "corpus/$t"
  echo "fuzz: $t for $seconds s"
  set +e
  RUSTC_BOOTSTRAP=1 cargo fuzz run "${sanitizer[@]}" "${features[@]}" "$t" "corpus/$t" "seeds/$t" "$seeds/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 "${limits[@]}" "${jobs[@]}" "${extra[@]}" \
    2>&1 | tee "$logs/$t.full.log" | grep -E '^(stat::|#[0-9]+ +DONE|==[0-9]+==|SUMMARY|.*panicked|Done )' | tee "$logs/$t.log"
  status=${PIPESTATUS[0]}
  set -e
  [ "$status" -eq 0 ] || { tail -40 "$logs/$t.full.log"; exit "$status"; }
done
