#!/usr/bin/env python3
"""Writes the first N rows of array `x` of an .npz file (float32, 640 columns) as raw
little-endian f32: the recording the firmware's RecordedBus serves. Standard library only.

usage: extract_windows.py DATA.npz N OUT.bin
"""
import ast
import struct
import sys
import zipfile

WINDOW = 640

data, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
npy = zipfile.ZipFile(data).read("x.npy")
if npy[:6] != b"\x93NUMPY":
    sys.exit(f"{data}: x.npy is not a .npy array")
major = npy[6]
header_len_size = 2 if major == 1 else 4
header_len = int.from_bytes(npy[8 : 8 + header_len_size], "little")
start = 8 + header_len_size + header_len
header = ast.literal_eval(npy[8 + header_len_size : start].decode("latin1"))
if header["descr"] != "<f4" or header["fortran_order"] or header["shape"][-1] != WINDOW:
    sys.exit(f"{data}: x must be C-ordered little-endian float32 rows of {WINDOW}, found {header}")
rows = header["shape"][0]
if not 0 < count <= rows:
    sys.exit(f"{data}: asked for {count} windows, x has {rows}")
with open(out, "wb") as f:
    f.write(npy[start : start + count * WINDOW * 4])
print(f"{out}: {count} windows of {WINDOW} f32")
