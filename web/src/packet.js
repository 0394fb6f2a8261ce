// The capture packet (docs/capture-packet.md): a CBOR payload sealed with HPKE base mode,
// DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM, the header being the AAD.
import {
  Aes128Gcm,
  CipherSuite,
  DhkemX25519HkdfSha256,
  HkdfSha256,
} from "@hpke/core";
import { encode } from "cborg";

export const SDK = { name: "liveness-capture-web", version: "0.1.0" };
const INFO = new TextEncoder().encode("liveness-capture-packet/v1");
const MAGIC = [0x4c, 0x56, 0x43, 0x50]; // "LVCP"
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes128Gcm(),
});

export function base64UrlDecode(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/**
 * The payload map. Times are BigInt so that CBOR gets unsigned integers, never floats.
 * frames: [{ jpeg: Uint8Array, width, height, capturedAtMs }]
 */
export async function buildPayload({
  nonce,
  frames,
  cameraLabel,
  deviceId,
  userAgent,
  automation,
  startedAtMs,
  endedAtMs,
}) {
  const sealedFrames = [];
  for (const f of frames) {
    sealedFrames.push({
      captured_at_ms: BigInt(f.capturedAtMs),
      width: f.width,
      height: f.height,
      sha256: await sha256(f.jpeg),
      jpeg: f.jpeg,
    });
  }
  const camera = { label: cameraLabel.slice(0, 256) };
  if (deviceId) camera.device_id = deviceId.slice(0, 256);
  const payload = {
    format_version: 1,
    sdk: SDK,
    platform: "web",
    nonce,
    capture_started_at_ms: BigInt(startedAtMs),
    capture_ended_at_ms: BigInt(endedAtMs),
    camera,
    automation,
    frames: sealedFrames,
  };
  if (userAgent) payload.user_agent = userAgent.slice(0, 1024);
  return payload;
}

/** Seals the CBOR of `payload` to the server key `{ key_id, public_key }`; the packet bytes. */
export async function sealPacket(payload, serverKey) {
  if (!KEY_ID.test(serverKey.key_id)) {
    throw new Error(`invalid key id ${JSON.stringify(serverKey.key_id)}`);
  }
  const recipientPublicKey = await suite.kem.importKey(
    "raw",
    base64UrlDecode(serverKey.public_key).buffer,
    true,
  );
  const sender = await suite.createSenderContext({ recipientPublicKey, info: INFO });
  const keyId = new TextEncoder().encode(serverKey.key_id);
  const enc = new Uint8Array(sender.enc);
  const header = new Uint8Array(6 + keyId.length + enc.length);
  header.set(MAGIC, 0);
  header[4] = 1;
  header[5] = keyId.length;
  header.set(keyId, 6);
  header.set(enc, 6 + keyId.length);
  const ciphertext = new Uint8Array(await sender.seal(encode(payload), header));
  const packet = new Uint8Array(header.length + ciphertext.length);
  packet.set(header, 0);
  packet.set(ciphertext, header.length);
  return packet;
}
