#!/usr/bin/env bash
# Prints flash (.text + .rodata + .data) and RAM figures of the Cortex-M4 size probe, and fails
# when its flash grows by more than 2 % over the figure committed in examples/size-probe/budget.toml
# (as hil-tests/budgets.toml does for the HIL matrix). After an intended change:
#   MOTE_BLESS=1 bash scripts/size-report.sh     rewrites the budget with the measured figure.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd examples/size-probe && cargo build --release --locked -q)
elf=examples/size-probe/target/thumbv7em-none-eabihf/release/mote-size-probe
python3 - "$elf" examples/size-probe/budget.toml "${MOTE_BLESS:-}" <<'PY'
import re, struct, sys
elf, budget_path, bless = sys.argv[1:]
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
print(f"size-probe (thumbv7em-none-eabihf, opt-level s, lto):")
print(f"  .vector_table {vt:7} B")
print(f"  .text         {text:7} B")
print(f"  .rodata       {rodata:7} B  (includes the embedded probe model)")
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

HEADER = """\
# Flash of the Cortex-M4 size probe (.text + .rodata + .data, bytes; opt-level s, LTO), as
# scripts/size-report.sh measures it. The script fails when the flash grows by more than 2 % over
# this figure. Regenerate after an intended change with
#   MOTE_BLESS=1 bash scripts/size-report.sh
"""
if bless:
    open(budget_path, 'w').write(f"{HEADER}flash = {flash}\n")
    print(f"  budget: {budget_path} blessed at {flash} B")
    sys.exit(0)
try:
    m = re.search(r'^flash\s*=\s*(\d+)\s*$', open(budget_path).read(), re.M)
except FileNotFoundError:
    m = None
if m is None:
    sys.exit(f"  budget: {budget_path} has no `flash = N` line (bless with MOTE_BLESS=1)")
was = int(m.group(1))
change = (flash - was) / max(was, 1)
if change > 0.02:
    sys.exit(f"  budget: FAILED, flash {was} -> {flash} B (+{change * 100:.1f} %, over the 2 % budget of {budget_path})")
note = f"; {was - flash} B under it, MOTE_BLESS=1 locks the gain in" if flash < was else ""
print(f"  budget: {was} B + 2 %, ok ({change * 100:+.1f} %{note})")
PY
