// The plain-HTML integration of web/README.md from an origin other than the API's, in
// headless Chromium with a fake camera. A small server plays the integrator's site: it
// serves examples/plain/index.html (its api-base pointed at the API under test) and the
// bundle, and, as the integrator's back end, answers POST /liveness-session by creating a
// capture session with the tenant token, which never reaches the page.
// usage: node test/cross-origin.mjs API_BASE TENANT_TOKEN PORT FACE.y4m SCREENSHOT.png
// Prints { state, text, cors_errors }: the page's verdict or error, and the console's CORS
// complaints (a blocked request is visible there, not to the page).
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { fakeCamera, launchChromium } from "./chromium.mjs";

const [api, tenantToken, port, video, screenshot] = process.argv.slice(2);
const web = new URL("..", import.meta.url).pathname;

const site = createServer(async (req, res) => {
  try {
    if (req.method === "POST" && req.url === "/liveness-session") {
      const session = await fetch(`${api}/api/v3/biometrics/liveness/sessions`, {
        method: "POST",
        headers: { Authorization: `Bearer ${tenantToken}` },
      });
      res.writeHead(session.status, { "content-type": "application/json" });
      res.end(await session.text());
    } else if (req.url === "/liveness-capture.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      res.end(await readFile(`${web}/dist/liveness-capture.js`));
    } else if (req.url === "/") {
      const page = await readFile(`${web}/examples/plain/index.html`, "utf8");
      res.writeHead(200, { "content-type": "text/html" });
      res.end(page.replace("https://liveness.shop.example", api));
    } else {
      res.writeHead(404).end();
    }
  } catch (e) {
    res.writeHead(500).end(String(e));
  }
});
await new Promise((resolve) => site.listen(Number(port), "127.0.0.1", resolve));

const browser = await launchChromium(fakeCamera(video));
const corsErrors = [];
try {
  const page = await browser.newPage({ viewport: { width: 800, height: 900 } });
  page.on("console", (m) => {
    if (/CORS/i.test(m.text())) corsErrors.push(m.text());
    console.error(`[page] ${m.text()}`);
  });
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => document.getElementById("capture")?.stream, null, { timeout: 30_000 });
  await page.waitForTimeout(1500);
  await page.evaluate(() => document.getElementById("capture").capture().catch(() => {}));
  await page.waitForSelector('#verdict[data-state="done"], #verdict[data-state="error"]', { timeout: 60_000 });
  await page.screenshot({ path: screenshot, fullPage: true });
  const state = await page.getAttribute("#verdict", "data-state");
  const text = await page.textContent("#verdict");
  process.stdout.write(JSON.stringify({ state, text, cors_errors: corsErrors }));
} finally {
  await browser.close();
  site.close();
}
