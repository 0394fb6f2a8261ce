"""Seed corpus for the capture fuzz targets: packets sealed (as docs/capture-packet.md says)
to the fuzz target's fixed key, and plain CBOR payloads. Small frames keep inputs short.
Usage: fuzz_seeds.py CORPUS_DIR IMAGE"""
import hashlib
import io
import sys

import cbor2
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from PIL import Image
from pyhpke import AEADId, CipherSuite, KDFId, KEMId

import capture_interop as packet

SEED_KEY = "aGVyZS1pcy1hLWZpeGVkLWZ1enotc2VlZC1rZXktMzI"  # fuzz/fuzz_targets/open_packet.rs
SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES128_GCM)


def small_jpeg(path, size, quality):
    buf = io.BytesIO()
    Image.open(path).convert("RGB").resize(size).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def main(corpus, image):
    secret = X25519PrivateKey.from_private_bytes(packet.b64url_decode(SEED_KEY))
    pk = SUITE.kem.deserialize_public_key(secret.public_key().public_bytes_raw())
    for i, (count, size) in enumerate([(1, (16, 12)), (2, (24, 32)), (3, (8, 8))]):
        frames = []
        for n in range(count):
            data = small_jpeg(image, size, 50 + 10 * n)
            frames.append({"captured_at_ms": 1000 + n, "width": size[0], "height": size[1],
                           "sha256": hashlib.sha256(data).digest(), "jpeg": data})
        payload = cbor2.dumps({
            "format_version": 1, "sdk": {"name": "seed", "version": "1"}, "platform": "web",
            "nonce": f"n{i}", "capture_started_at_ms": 1000, "capture_ended_at_ms": 2000,
            "camera": {"label": "cam"}, "automation": {"webdriver": False}, "frames": frames,
        })
        open(f"{corpus}/decode_payload/seed-{i}", "wb").write(payload)
        enc, ctx = SUITE.create_sender_context(pk, packet.INFO)
        head = packet.header("fuzz", enc)
        open(f"{corpus}/open_packet/seed-{i}", "wb").write(head + ctx.seal(payload, head))


if __name__ == "__main__":
    main(*sys.argv[1:])
