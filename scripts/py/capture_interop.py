"""A second, independent implementation of the capture packet, written from
docs/capture-packet.md with pyhpke and cbor2. Used by the interop tests.

  capture_interop.py seal KEY_ID:PUBLIC_KEY NONCE OUT SELFIE_INDEX FRAME.jpg...
  capture_interop.py open KEY_ID=PRIVATE_KEY PACKET      (prints a JSON summary)
  capture_interop.py vectors docs/capture-packet-vectors.json
      reseals every vector from its inputs (ephemeral key from ikmE) and opens it with skRm;
      prints how many cases gave the same bytes and how many opened
"""
import base64
import hashlib
import json
import sys
import time

import cbor2
from PIL import Image
from pyhpke import AEADId, CipherSuite, KDFId, KEMId

INFO = b"liveness-capture-packet/v1"
SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES128_GCM)


def b64url_decode(text):
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def header(key_id, enc):
    kid = key_id.encode("ascii")
    return b"LVCP" + bytes([1, len(kid)]) + kid + enc


def seal(tagged_key, nonce, out, _selfie_index, *frame_paths):
    key_id, public = tagged_key.split(":", 1)
    pk = SUITE.kem.deserialize_public_key(b64url_decode(public))
    now = int(time.time() * 1000)
    frames = []
    start = now - 100 * len(frame_paths) - 50
    for i, path in enumerate(frame_paths):
        data = open(path, "rb").read()
        width, height = Image.open(path).size  # stored size, before any EXIF rotation
        frames.append(
            {
                "captured_at_ms": start + 100 * (i + 1),
                "width": width,
                "height": height,
                "sha256": hashlib.sha256(data).digest(),
                "jpeg": data,
            }
        )
    payload = {
        "format_version": 1,
        "sdk": {"name": "pyhpke-interop", "version": "1.0"},
        "platform": "web",
        "nonce": nonce,
        "capture_started_at_ms": start,
        "capture_ended_at_ms": now,
        "camera": {"label": "Integrated Webcam (0bda:58f4)", "device_id": "d41d8cd9"},
        "user_agent": "interop-test",
        "automation": {"webdriver": False},
        "frames": frames,
    }
    enc, ctx = SUITE.create_sender_context(pk, INFO)
    head = header(key_id, enc)
    with open(out, "wb") as f:
        f.write(head + ctx.seal(cbor2.dumps(payload), head))


def open_packet(entry, path):
    key_id, private = entry.split("=", 1)
    packet = open(path, "rb").read()
    assert packet[:4] == b"LVCP", "bad magic"
    assert packet[4] == 1, "bad version"
    k = packet[5]
    kid = packet[6 : 6 + k].decode("ascii")
    assert kid == key_id, f"sealed to {kid}, not {key_id}"
    head, ciphertext = packet[: 6 + k + 32], packet[6 + k + 32 :]
    sk = SUITE.kem.deserialize_private_key(b64url_decode(private))
    ctx = SUITE.create_recipient_context(head[6 + k :], sk, INFO)
    payload = cbor2.loads(ctx.open(ciphertext, head))
    for frame in payload["frames"]:
        assert hashlib.sha256(frame["jpeg"]).digest() == frame["sha256"], "frame digest mismatch"
    print(
        json.dumps(
            {
                "key_id": kid,
                "format_version": payload["format_version"],
                "nonce": payload["nonce"],
                "platform": payload["platform"],
                "camera": payload["camera"],
                "frames": [
                    {"width": f["width"], "height": f["height"], "sha256": f["sha256"].hex()}
                    for f in payload["frames"]
                ],
            }
        )
    )


def vectors(path):
    cases = json.load(open(path))["cases"]
    same = opened = 0
    for case in cases:
        field = lambda name: bytes.fromhex(case[name])
        eks = SUITE.kem.derive_key_pair(field("ikmE"))
        assert eks.public_key.to_public_bytes() == field("pkEm"), case["name"]
        pkr = SUITE.kem.deserialize_public_key(field("pkRm"))
        enc, ctx = SUITE.create_sender_context(pkr, INFO, eks=eks)
        head = header(case["key_id"], enc)
        if head + ctx.seal(field("payload_cbor"), head) == field("packet"):
            same += 1
        packet = field("packet")
        k = packet[5]
        head, ciphertext = packet[: 6 + k + 32], packet[6 + k + 32 :]
        skr = SUITE.kem.deserialize_private_key(field("skRm"))
        rctx = SUITE.create_recipient_context(head[6 + k :], skr, INFO)
        plain = rctx.open(ciphertext, head)
        payload = cbor2.loads(plain)
        digests_match = all(hashlib.sha256(f["jpeg"]).digest() == f["sha256"] for f in payload["frames"])
        if plain == field("payload_cbor") and digests_match:
            opened += 1
    print(json.dumps({"cases": len(cases), "same_bytes": same, "opened": opened}))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"seal": seal, "open": open_packet, "vectors": vectors}[command](*args)
