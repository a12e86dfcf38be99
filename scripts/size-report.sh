#!/usr/bin/env bash
# Prints flash (.text + .rodata + .data) and RAM figures of the Cortex-M4 size probe.
set -euo pipefail
cd "$(dirname "$0")/.."
elf=examples/size-probe/target/thumbv7em-none-eabihf/release/mote-size-probe
[ -f "$elf" ] || (cd examples/size-probe && cargo build --release)
python3 - "$elf" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
# ELF32 little-endian section headers.
shoff, = struct.unpack_from('<I', data, 0x20)
shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x2E)
secs = [struct.unpack_from('<IIIIIIIIII', data, shoff + i * shentsize) for i in range(shnum)]
strtab = secs[shstrndx]
name = lambda s: data[strtab[4] + s[0]:].split(b'\0', 1)[0].decode()
size = {name(s): s[5] for s in secs}
text, rodata, data_, bss = (size.get(k, 0) for k in ('.text', '.rodata', '.data', '.bss'))
vt = size.get('.vector_table', 0)
print(f"size-probe (thumbv7em-none-eabihf, opt-level s, lto):")
print(f"  .vector_table {vt:7} B")
print(f"  .text         {text:7} B")
print(f"  .rodata       {rodata:7} B  (includes the embedded probe model)")
print(f"  .data         {data_:7} B")
print(f"  .bss          {bss:7} B  (includes the 4096 B arena)")
print(f"  flash = .text + .rodata + .data = {text + rodata + data_} B")
PY
