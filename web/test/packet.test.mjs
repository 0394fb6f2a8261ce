// The packet as the browser seals it, opened by the server's own code (`liveness assess`).
// usage: LIVENESS_BIN=target/release/liveness node --test test/packet.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildPayload, sealPacket } from "../src/packet.js";

const bin = process.env.LIVENESS_BIN;

test("a packet sealed here opens and passes on the server", { skip: !bin && "set LIVENESS_BIN" }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "lvweb-"));
  // KEY_ID:BASE64URL, as `liveness keygen` prints the public half.
  const publicKey = execFileSync(bin, ["keygen", "--key-id", "web-test", "--dir", dir])
    .toString().trim().split(":")[1];
  const jpegs = execFileSync(bin, ["burst", "--count", "3", "--out-dir", dir, process.env.FACE_JPEG])
    .toString().trim().split("\n");
  const now = Date.now();
  // The burst is the photo upright (its EXIF orientation applied): portrait 480 x 640.
  const frames = jpegs.map((path, i) => ({
    jpeg: new Uint8Array(readFileSync(path)), width: 480, height: 640, capturedAtMs: now - 300 + 100 * i,
  }));
  const payload = await buildPayload({
    nonce: "nonce-1", frames, cameraLabel: "Integrated Camera", deviceId: "abc",
    userAgent: "node", automation: { webdriver: false }, startedAtMs: now - 350, endedAtMs: now,
  });
  const packet = await sealPacket(payload, { key_id: "web-test", public_key: publicKey });
  writeFileSync(join(dir, "p.lvcp"), packet);
  const out = JSON.parse(execFileSync(bin, ["assess", "--key-dir", dir, "--issued-nonce", "nonce-1", join(dir, "p.lvcp")]));
  assert.equal(out.capture_liveness.probability, 1, JSON.stringify(out));
  assert.ok(out.signals.every((s) => s.passed));
});
