#!/usr/bin/env bash
# Proves that no firmware build pulls in a host-only crate. For every firmware crate under
# examples/ (a crate that depends on cortex-m-rt or riscv-rt), on its embedded target — each board
# feature of examples/hil-firmware with that board's rustc target, else the target of the crate's
# .cargo/config.toml — it resolves the dependency graph with `cargo tree` and fails when
#   - a crate of DENY is in it, linked or built for the host on its behalf (build scripts,
#     proc macros): the converter, the HIL runner, tract, GPU, HTTP, async and binding crates;
#   - mote-runtime is linked with its `std` feature. Build scripts may use it (the writer, to
#     embed a model), since they run on the host: features of build dependencies are resolved
#     apart from the firmware's (resolver 2).
# Each failure names the crate and the path to it (`cargo tree -i`). Usage: bash scripts/check-firmware-deps.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Shell patterns; the mote-* names are crates that do not exist yet but must stay off firmware.
DENY=(mote-converter mote-hil mote-cloud mote-ffi mote-mobile mote-wgpu 'tract-*' 'wgpu*' 'uniffi*'
  ureq reqwest hyper tokio async-std)

failed=0

# check DIR TARGET [FEATURE]
check() {
  local dir=$1 target=$2 feature=${3:-}
  local args=(--locked --target "$target")
  [ -z "$feature" ] || args+=(--features "$feature")
  local what="$dir ($target${feature:+, --features $feature})"
  local tree linked name version pat how bad=() features
  tree=$(cd "$dir" && cargo tree "${args[@]}" -e normal,build --prefix none -f '{p}' | sed 's/ (\*)$//' | sort -u)
  while read -r name version _; do
    for pat in "${DENY[@]}"; do
      # shellcheck disable=SC2053 # pat is a glob on purpose
      if [[ $name == $pat ]]; then bad+=("$name@${version#v}"); fi
    done
  done <<<"$tree"
  linked=$(cd "$dir" && cargo tree "${args[@]}" -e normal,no-proc-macro --prefix none -f '{p}' | sed 's/ (\*)$//' | sort -u)
  for pat in "${bad[@]}"; do
    how="built for the host on its behalf"
    if grep -q "^${pat%@*} v${pat#*@}\b" <<<"$linked"; then how="linked into the firmware"; fi
    echo "FAIL  $what pulls in the host-only crate ${pat%@*} ($how): $(cd "$dir" && cargo tree "${args[@]}" -e normal,build -i "$pat" --no-dedupe --prefix depth | path_to 0)"
    failed=1
  done
  features=$(cd "$dir" && cargo tree "${args[@]}" -e normal,no-proc-macro --prefix none -f '{p}|{f}' | sed -n 's/ (\*)$//; s/^mote-runtime v[^|]*|//p' | sort -u)
  if [[ ",$features," == *,std,* ]]; then
    echo "FAIL  $what links mote-runtime with its std feature: $(cd "$dir" && cargo tree "${args[@]}" -e normal,features,no-proc-macro -i mote-runtime --no-dedupe --prefix depth | path_to '"std"$')"
    failed=1
    bad+=(mote-runtime/std)
  fi
  if ((${#bad[@]} == 0)); then
    printf 'ok    %s: %d crates, none host-only; mote-runtime features [%s]\n' "$what" "$(wc -l <<<"$tree")" "$features"
  fi
}

# Reads an inverted `cargo tree --prefix depth` and prints one path from the root to the node on
# the first line matching $1 ("0": the top), as "root → … → node".
path_to() {
  awk -v start="$1" '
    { match($0, /^[0-9]+/); d = substr($0, 1, RLENGTH) + 0; $0 = substr($0, RLENGTH + 1); sub(/ \(.*$/, "") }
    !on && $0 ~ start || !on && start == "0" { on = 1; path = $0; prev = d; next }
    on && d == prev + 1 { path = $0 " → " path; prev = d; next }
    on { exit }
    END { print path }'
}

# The rustc target of a board, from targets/boards/<board>.toml.
board_target() {
  sed -n 's/^rustc_target *= *"\(.*\)"/\1/p' "targets/boards/$1.toml"
}

echo "host-only crates denied on firmware: ${DENY[*]}, and mote-runtime/std linked"
for manifest in examples/*/Cargo.toml; do
  dir=$(dirname "$manifest")
  grep -Eq '^(cortex-m-rt|riscv-rt) *=' "$manifest" || continue
  boards=()
  for b in $(sed -n '/^\[features\]/,/^\[/s/^\([a-z0-9-]*\) *= *\[\].*/\1/p' "$manifest"); do
    [ -f "targets/boards/$b.toml" ] && boards+=("$b")
  done
  if ((${#boards[@]})); then
    for b in "${boards[@]}"; do check "$dir" "$(board_target "$b")" "$b"; done
  else
    target=$(sed -n 's/^target *= *"\(.*\)".*/\1/p' "$dir/.cargo/config.toml" 2>/dev/null | head -1)
    if [ -z "$target" ]; then
      echo "FAIL  $dir: a firmware crate without a board feature or a build target in .cargo/config.toml"
      failed=1
      continue
    fi
    check "$dir" "$target"
  fi
done
exit "$failed"
