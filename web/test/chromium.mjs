// Headless Debian Chromium for the page tests, and the flags of a fake camera that plays a
// y4m file (the permission prompt auto-accepted).
import { chromium } from "playwright-core";

export function launchChromium(args = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", ...args],
  });
}

export function fakeCamera(video) {
  return [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-video-capture=${video}`,
  ];
}
