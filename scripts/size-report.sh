#!/usr/bin/env bash
# Prints the flash (.text + .rodata + .data) and RAM of the Cortex-M4 size probe, a firmware that
# runs a model from flash and links nothing else: the runtime's flash, model excluded. One build
# with every op family (`all-ops`), then one per benchmark model with exactly the features it
# needs (`kws`, `vww`, `ic`, `ad`: the lists `mote inspect` prints, see the probe's Cargo.toml).
# Fails when a build's flash grows by more than 2 % over its figure in
# examples/size-probe/budget.toml (as hil-tests/budgets.toml does for the HIL matrix).
#   MOTE_BLESS=1 bash scripts/size-report.sh      rewrites the budget with the measured figures.
#   MOTE_SIZE_FAMILIES=1 bash scripts/size-report.sh   also prints what each op family's int8
#                                                 and f32 feature add on their own (one build
#                                                 each; slow).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=examples/size-probe
elf=$dir/target/thumbv7em-none-eabihf/release/mote-size-probe
budget=$dir/budget.toml
[ -z "${MOTE_BLESS:-}" ] || : >"$budget.new"

# measure NAME: prints the figures of the probe just built and checks (or blesses) budget NAME.
measure() {
  python3 - "$elf" "$budget" "$1" "${MOTE_BLESS:-}" <<'PY'
import re, struct, sys
elf, budget_path, key, bless = sys.argv[1:]
data = open(elf, 'rb').read()
# ELF32 little-endian section headers.
shoff, = struct.unpack_from('<I', data, 0x20)
shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x2E)
secs = [struct.unpack_from('<IIIIIIIIII', data, shoff + i * shentsize) for i in range(shnum)]
strtab = secs[shstrndx]
name = lambda s: data[strtab[4] + s[0]:].split(b'\0', 1)[0].decode()
size = {name(s): s[5] for s in secs}
text, rodata, data_, bss = (size.get(k, 0) for k in ('.text', '.rodata', '.data', '.bss'))
vt = size.get('.vector_table', 0)
flash = text + rodata + data_
print(f"  .vector_table {vt:7} B")
print(f"  .text         {text:7} B")
print(f"  .rodata       {rodata:7} B")
print(f"  .data         {data_:7} B")
print(f"  .bss          {bss:7} B  (includes the 4096 B arena)")
print(f"  flash = .text + .rodata + .data = {flash} B")

# Code by the module its function symbols belong to (after LTO inlining, so what a caller inlined
# counts as the caller's).
index = {name(s): i for i, s in enumerate(secs)}
groups = {b'12mote_runtime7kernels': 'mote_runtime::kernels', b'12mote_runtime6format': 'mote_runtime::format',
          b'12mote_runtime3ops': 'mote_runtime::ops', b'12mote_runtime11interpreter': 'mote_runtime::interpreter'}
code = dict.fromkeys(list(groups.values()) + ['everything else'], 0)
symtab = next((s for s in secs if s[1] == 2), None)
if symtab is not None:
    names = secs[symtab[6]]
    for off in range(symtab[4], symtab[4] + symtab[5], 16):
        st_name, _, st_size, st_info, _, st_shndx = struct.unpack_from('<IIIBBH', data, off)
        if st_info & 0xf != 2 or st_shndx != index.get('.text'):
            continue
        sym = data[names[4] + st_name:].split(b'\0', 1)[0]
        code[next((g for k, g in groups.items() if k in sym), 'everything else')] += st_size
    print("  code by symbol (functions in .text; what LTO inlined counts as its caller's):")
    for g, n in code.items():
        if n:
            print(f"    {g:27} {n:7} B")

if key == '-':
    sys.exit(0)
if bless:
    open(budget_path + '.new', 'a').write(f"{key} = {flash}\n")
    print(f"  budget: {key} blessed at {flash} B")
    sys.exit(0)
try:
    m = re.search(rf'^{re.escape(key)}\s*=\s*(\d+)\s*$', open(budget_path).read(), re.M)
except FileNotFoundError:
    m = None
if m is None:
    sys.exit(f"  budget: {budget_path} has no `{key} = N` line (bless with MOTE_BLESS=1)")
was = int(m.group(1))
change = (flash - was) / max(was, 1)
if change > 0.02:
    sys.exit(f"  budget: FAILED, {key} flash {was} -> {flash} B (+{change * 100:.1f} %, over the 2 % budget of {budget_path})")
note = f"; {was - flash} B under it, MOTE_BLESS=1 locks the gain in" if flash < was else ""
print(f"  budget: {key} {was} B + 2 %, ok ({change * 100:+.1f} %{note})")
PY
}

# probe NAME CARGO_FEATURE_ARGS...: builds the probe with those features and measures it.
probe() {
  local key=$1
  shift
  echo "size-probe, $key (thumbv7em-none-eabihf, opt-level s, LTO; cargo build $*):"
  (cd "$dir" && cargo build --release --locked -q "$@")
  measure "$key"
}

probe all-ops
for model in kws vww ic ad; do
  probe "$model" --no-default-features --features "$model"
done

# Signature verification (feature `verify`, `Model::from_signed_bytes`) on top of the KWS build:
# reported, not budgeted (firmware that does not verify does not link it).
(cd "$dir" && cargo build --release --locked -q --no-default-features --features kws)
kws_flash=$(MOTE_BLESS= measure - | sed -n 's/.*flash = .* = \([0-9]*\) B/\1/p')
(cd "$dir" && cargo build --release --locked -q --no-default-features --features kws,verify)
verify_flash=$(MOTE_BLESS= measure - | sed -n 's/.*flash = .* = \([0-9]*\) B/\1/p')
echo "size-probe, kws + verify: $verify_flash B (the verifier adds $((verify_flash - kws_flash)) B)"

if [ -n "${MOTE_BLESS:-}" ]; then
  {
    echo "# Flash of the Cortex-M4 size probe (.text + .rodata + .data, bytes; opt-level s, LTO) per"
    echo "# build, as scripts/size-report.sh measures it: all-ops links every op family, each model"
    echo "# exactly the features it needs. The script fails when one grows by more than 2 % over its"
    echo "# figure. Regenerate after an intended change with"
    echo "#   MOTE_BLESS=1 bash scripts/size-report.sh"
    cat "$budget.new"
  } >"$budget"
  rm "$budget.new"
fi

if [ -n "${MOTE_SIZE_FAMILIES:-}" ]; then
  echo "what each op family adds to the probe on its own (flash over the build with no family):"
  (cd "$dir" && cargo build --release --locked -q --no-default-features)
  base=$(MOTE_BLESS= measure - | sed -n 's/.*flash = .* = \([0-9]*\) B/\1/p')
  echo "  no family: $base B"
  for f in conv fully_connected binary pool unary softmax shape resize quantize \
    conv_f32 fully_connected_f32 binary_f32 pool_f32 unary_f32 softmax_f32 shape_f32 resize_f32; do
    (cd "$dir" && cargo build --release --locked -q --no-default-features --features "mote-runtime/$f")
    n=$(MOTE_BLESS= measure - | sed -n 's/.*flash = .* = \([0-9]*\) B/\1/p')
    echo "  $f: +$((n - base)) B"
  done
fi
