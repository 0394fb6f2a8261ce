// Drives the demo page in headless Chromium with a fake camera fed from a y4m file:
// the page captures, seals and submits; prints the verdict JSON the page shows.
// usage: node test/e2e.mjs BASE_URL CAPTURE_TOKEN FACE.y4m SCREENSHOT.png
import { fakeCamera, launchChromium } from "./chromium.mjs";

const [base, token, video, screenshot] = process.argv.slice(2);
const browser = await launchChromium(fakeCamera(video));
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 1100 } });
  page.on("console", (m) => console.error(`[page] ${m.text()}`));
  await page.goto(`${base}/demo/#capture_token=${encodeURIComponent(token)}&autocapture=1`);
  await page.waitForSelector('#verdict[data-state="done"], #verdict[data-state="error"]', { timeout: 60_000 });
  await page.screenshot({ path: screenshot, fullPage: true });
  const state = await page.getAttribute("#verdict", "data-state");
  const text = await page.textContent("#verdict");
  if (state !== "done") {
    console.error(`the page reports: ${text}`);
    process.exitCode = 1;
  } else {
    process.stdout.write(text);
  }
} finally {
  await browser.close();
}
