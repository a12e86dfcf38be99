"""Writes v2-signed.mote: v2.mote signed as FORMAT.md's SIGNATURE section says, with RFC 8032's
first test key and model version 1, by an implementation independent of Mote's (Python's
`cryptography` for Ed25519, `hashlib` for SHA-256). runtime/tests/signature.rs checks that
`mote_runtime::signature::sign` writes the same bytes and that the runtime verifies them.

    python3 sign_v2.py        (needs the `cryptography` package)
"""
import hashlib
import struct
import zlib
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
HERE = Path(__file__).parent


def pad(b: bytearray) -> None:
    b.extend(bytes(-len(b) % 16))


def main() -> None:
    src = (HERE / "v2.mote").read_bytes()
    count, = struct.unpack_from("<H", src, 6)
    sections = []
    for i in range(count):
        kind, flags, off, ln, _ = struct.unpack_from("<HHIII", src, 32 + 16 * i)
        if kind != 16:
            sections.append((kind, flags, src[off:off + ln]))
    sections.append((16, 0, bytes(112)))
    out = bytearray(32 + 16 * len(sections))
    pad(out)
    for i, (kind, flags, body) in enumerate(sections):
        struct.pack_into("<HHIII", out, 32 + 16 * i, kind, flags, len(out), len(body), 0)
        out.extend(body)
        pad(out)
    out[0:8] = b"MOTE" + struct.pack("<HH", 2, len(sections))
    struct.pack_into("<I", out, 8, len(out))
    sig_at = len(out) - 112
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    content = hashlib.sha256(bytes(out[:12]) + bytes(out[16:sig_at])).digest()
    signed = struct.pack("<HHI", 1, 0, 1) + hashlib.sha256(public).digest()[:8] + content
    out[sig_at:sig_at + 48] = signed
    out[sig_at + 48:] = key.sign(signed)
    crc = zlib.crc32(bytes(out[:12]) + bytes(out[16:]))
    struct.pack_into("<I", out, 12, crc)
    (HERE / "v2-signed.mote").write_bytes(bytes(out))


if __name__ == "__main__":
    main()
