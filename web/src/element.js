// <liveness-capture>: camera preview with a face oval and guidance, a burst of frames sealed
// into a capture packet, and a `capture` event whose detail[0] is { photo, encryptedFile }
// (the shape the Liveness Plus web component fires, so existing submit code keeps working),
// plus the capture token to submit it with.
//
// The element never sees client credentials: the integrator's back end creates a capture
// session with its tenant token and hands the page only the session's short-lived capture
// token, which can read the keys and submit that one capture and nothing else.
import { buildPayload, sealPacket } from "./packet.js";

/** A failure the page can show or handle: `code` is stable, `message` is for people. */
export class CaptureError extends Error {
  constructor(code, message, cause) {
    super(message);
    this.code = code;
    this.cause = cause;
  }
}

const GUIDANCE_MS = 250;
const TEMPLATE = `
<style>
  :host { display: inline-block; position: relative; width: 480px; max-width: 100%;
          font-family: system-ui, sans-serif; }
  .stage { position: relative; aspect-ratio: 4 / 3; background: #111; overflow: hidden; border-radius: 8px; }
  video { width: 100%; height: 100%; object-fit: cover; transform: scaleX(-1); }
  svg { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; }
  .guide { margin: 8px 0; min-height: 1.4em; font-weight: 600; }
  .error { color: #b00020; }
  button { font-size: 1rem; padding: 8px 16px; }
</style>
<div class="stage" part="stage">
  <video playsinline muted></video>
  <svg viewBox="0 0 100 75" aria-hidden="true">
    <defs><mask id="m"><rect width="100" height="75" fill="white"/>
      <ellipse cx="50" cy="37.5" rx="17" ry="24" fill="black"/></mask></defs>
    <rect width="100" height="75" fill="rgba(0,0,0,0.45)" mask="url(#m)"/>
    <ellipse cx="50" cy="37.5" rx="17" ry="24" fill="none" stroke="white" stroke-width="0.6"/>
  </svg>
</div>
<div class="guide" part="guidance" role="status" aria-live="polite"></div>
<button part="button" type="button">Capture</button>
`;

function supported() {
  return Boolean(
    globalThis.navigator?.mediaDevices?.getUserMedia &&
      globalThis.crypto?.subtle &&
      globalThis.HTMLCanvasElement?.prototype.toBlob,
  );
}

function cameraError(e) {
  if (e?.name === "NotAllowedError" || e?.name === "SecurityError") {
    return new CaptureError("camera_permission_denied", "Camera access was denied. Allow the camera and try again.", e);
  }
  if (["NotFoundError", "OverconstrainedError", "NotReadableError"].includes(e?.name)) {
    return new CaptureError("no_camera", `No usable camera was found (${e.name}: ${e.message}).`, e);
  }
  return new CaptureError("camera_error", `The camera could not start: ${e?.message ?? e}`, e);
}

export class LivenessCapture extends HTMLElement {
  static observedAttributes = ["api-base", "capture-token"];

  constructor() {
    super();
    this.attachShadow({ mode: "open" }).innerHTML = TEMPLATE;
    this.video = this.shadowRoot.querySelector("video");
    this.guide = this.shadowRoot.querySelector(".guide");
    this.button = this.shadowRoot.querySelector("button");
    this.button.addEventListener("click", () => this.capture().catch(() => {}));
    /**
     * async () => the capture session from your back end: the JSON of
     * POST /api/v3/biometrics/liveness/sessions (at least `capture_token`), or the capture
     * token alone. Called once per capture. Defaults to the `capture-token` attribute.
     */
    this.sessionProvider = async () => this.getAttribute("capture-token");
    this.stream = null;
    this.previous = null;
  }

  get apiBase() {
    return (this.getAttribute("api-base") ?? "").replace(/\/$/, "");
  }

  get frameCount() {
    return Math.min(8, Math.max(1, Number(this.getAttribute("frames") ?? 3)));
  }

  get intervalMs() {
    return Math.max(40, Number(this.getAttribute("interval-ms") ?? 120));
  }

  connectedCallback() {
    if (!this.hasAttribute("manual")) this.start().catch(() => {});
  }

  disconnectedCallback() {
    this.stop();
  }

  fail(error) {
    this.guide.textContent = error.message;
    this.guide.classList.add("error");
    this.dispatchEvent(new CustomEvent("error", { detail: { code: error.code, message: error.message } }));
    throw error;
  }

  say(text) {
    this.guide.classList.remove("error");
    this.guide.textContent = text;
  }

  /** Opens the camera and starts the preview and its guidance. */
  async start() {
    if (!supported()) {
      return this.fail(new CaptureError("unsupported_browser", "This browser cannot capture: it lacks camera access or WebCrypto."));
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 960 } },
        audio: false,
      });
    } catch (e) {
      return this.fail(cameraError(e));
    }
    this.video.srcObject = this.stream;
    await this.video.play();
    this.say("Center your face in the oval");
    this.timer = setInterval(() => this.updateGuidance(), GUIDANCE_MS);
    this.dispatchEvent(new CustomEvent("ready"));
  }

  stop() {
    clearInterval(this.timer);
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
  }

  // Brightness and motion inside the oval, from a small sample of the preview: enough to say
  // "more light" or "hold still" without a face model in the page.
  updateGuidance() {
    if (!this.video.videoWidth || this.busy) return;
    const w = 64, h = 48;
    const canvas = (this.sampler ??= new OffscreenCanvas(w, h));
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(this.video, 0, 0, w, h);
    const { data } = ctx.getImageData(w * 0.33, h * 0.18, w * 0.34, h * 0.64);
    let sum = 0;
    const luma = new Float32Array(data.length / 4);
    for (let i = 0; i < luma.length; i++) {
      luma[i] = 0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2];
      sum += luma[i];
    }
    const mean = sum / luma.length;
    let motion = 0;
    if (this.previous?.length === luma.length) {
      for (let i = 0; i < luma.length; i++) motion += Math.abs(luma[i] - this.previous[i]);
      motion /= luma.length;
    }
    this.previous = luma;
    if (mean < 50) this.say("More light, please");
    else if (mean > 220) this.say("Too bright: move away from the light");
    else if (motion > 18) this.say("Hold still");
    else this.say("Move closer and keep your face inside the oval, then capture");
  }

  async api(path, token, init = {}) {
    let response;
    try {
      response = await fetch(`${this.apiBase}${path}`, {
        ...init,
        headers: { ...(init.headers ?? {}), Authorization: `Bearer ${token}` },
      });
    } catch (e) {
      throw new CaptureError("network_error", "The liveness server cannot be reached. Check the connection and try again.", e);
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      const code = response.status === 401 ? "session_expired" : "server_error";
      throw new CaptureError(code, `The liveness server answered ${response.status}: ${body.message ?? response.statusText}`);
    }
    return response.json();
  }

  /** The session to seal for: { captureToken, nonce, keys } with the key to use first. */
  async session() {
    let given;
    try {
      given = await this.sessionProvider();
    } catch (e) {
      throw new CaptureError("session_unavailable", `No capture session could be started: ${e?.message ?? e}`, e);
    }
    const session = typeof given === "string" ? { capture_token: given } : given ?? {};
    const captureToken = session.capture_token;
    if (!captureToken) {
      throw new CaptureError("session_unavailable", "No capture session: set capture-token or sessionProvider.");
    }
    if (session.nonce && session.keys?.length) {
      return { captureToken, nonce: session.nonce, keys: session.keys };
    }
    const known = await this.api("/api/v3/biometrics/liveness/keys", captureToken);
    return { captureToken, nonce: known.nonce, keys: known.keys };
  }

  async grabFrame(canvas) {
    const ctx = canvas.getContext("2d");
    ctx.drawImage(this.video, 0, 0, canvas.width, canvas.height);
    const capturedAtMs = Date.now();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
    return { jpeg: new Uint8Array(await blob.arrayBuffer()), width: canvas.width, height: canvas.height, capturedAtMs };
  }

  /** Takes a burst, seals it and fires `capture`; also returns { photo, encryptedFile }. */
  async capture() {
    if (!this.stream) await this.start();
    this.busy = true;
    this.button.disabled = true;
    try {
      const session = await this.session();
      this.say("Hold still…");
      const canvas = document.createElement("canvas");
      canvas.width = this.video.videoWidth;
      canvas.height = this.video.videoHeight;
      const startedAtMs = Date.now();
      const frames = [];
      for (let i = 0; i < this.frameCount; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, this.intervalMs));
        frames.push(await this.grabFrame(canvas));
      }
      const track = this.stream.getVideoTracks()[0];
      const payload = await buildPayload({
        nonce: session.nonce,
        frames,
        cameraLabel: track.label,
        deviceId: track.getSettings().deviceId,
        userAgent: navigator.userAgent,
        automation: { webdriver: navigator.webdriver === true },
        startedAtMs,
        endedAtMs: Date.now(),
      });
      // The server lists the key to seal to first (the newest); older ones are retiring.
      const packet = await sealPacket(payload, session.keys[0]);
      const middle = frames[Math.floor(frames.length / 2)];
      const result = {
        photo: new Blob([middle.jpeg], { type: "image/jpeg" }),
        encryptedFile: new Blob([packet], { type: "application/octet-stream" }),
        captureToken: session.captureToken,
      };
      this.say("Captured");
      this.dispatchEvent(new CustomEvent("capture", { detail: [result] }));
      return result;
    } catch (e) {
      return this.fail(e instanceof CaptureError ? e : new CaptureError("capture_failed", `Capture failed: ${e?.message ?? e}`, e));
    } finally {
      this.busy = false;
      this.button.disabled = false;
    }
  }
}
