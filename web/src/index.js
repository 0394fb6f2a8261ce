export { buildPayload, sealPacket, SDK } from "./packet.js";
export { LivenessCapture, CaptureError } from "./element.js";
export { submitCapture } from "./submit.js";
import { LivenessCapture } from "./element.js";

if (typeof customElements !== "undefined" && !customElements.get("liveness-capture")) {
  customElements.define("liveness-capture", LivenessCapture);
}
