// The element's failures in real Chromium: camera permission denied, no camera, an
// unsupported browser, and an unreachable server. Prints { case: error code } as JSON.
// usage: node test/errors.mjs BASE_URL FACE.y4m
import { launchChromium } from "./chromium.mjs";

const [base, video] = process.argv.slice(2);
const fakeCamera = ["--use-fake-device-for-media-stream", `--use-file-for-fake-video-capture=${video}`];

async function errorCode(args, setup, action) {
  const browser = await launchChromium(args);
  try {
    const page = await browser.newPage();
    await page.goto(`${base}/demo/`);
    await page.waitForFunction(() => customElements.get("liveness-capture"));
    if (setup) await page.evaluate(setup);
    return await page.evaluate(async (action) => {
      const el = document.createElement("liveness-capture");
      el.setAttribute("manual", "");
      el.setAttribute("api-base", "http://127.0.0.1:9");
      el.setAttribute("capture-token", "t");
      const shown = new Promise((resolve) => el.addEventListener("error", (e) => resolve(e.detail)));
      document.body.append(el);
      await (action === "capture" ? el.start().then(() => el.capture()) : el.start()).catch(() => {});
      const detail = await shown;
      const text = el.shadowRoot.querySelector(".guide").textContent;
      return { code: detail.code, shown: text === detail.message };
    }, action);
  } finally {
    await browser.close();
  }
}

const results = {
  // No --use-fake-ui-for-media-stream: headless Chromium denies the permission prompt.
  permission_denied: await errorCode(fakeCamera, null, "start"),
  no_camera: await errorCode(["--use-fake-ui-for-media-stream"], null, "start"),
  unsupported: await errorCode(fakeCamera, () => {
    Object.defineProperty(navigator, "mediaDevices", { value: undefined });
  }, "start"),
  network: await errorCode(["--use-fake-ui-for-media-stream", ...fakeCamera], null, "capture"),
};
process.stdout.write(JSON.stringify(results));
