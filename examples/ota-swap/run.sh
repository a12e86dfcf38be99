#!/usr/bin/env bash
# cargo's runner for this example: boots the firmware ELF ($1) on QEMU's mps2-an386 with the
# remaining arguments as its semihosting command line. Files the firmware opens (the flash image,
# the update, the input) are relative to the current folder.
set -euo pipefail
elf=$1
shift
config=enable=on,target=native,arg=ota
for a in "$@"; do
  case $a in *,*) echo "run.sh: a comma in '$a' would split QEMU's option" >&2; exit 2 ;; esac
  config+=",arg=$a"
done
exec qemu-system-arm -M mps2-an386 -nographic -semihosting-config "$config" -kernel "$elf"
