export { buildPayload, sealPacket, SDK } from "./packet.js";
export { LivenessCapture, CaptureError } from "./element.js";
import { LivenessCapture } from "./element.js";

if (typeof customElements !== "undefined" && !customElements.get("liveness-capture")) {
  customElements.define("liveness-capture", LivenessCapture);
}
