// The framework examples of web/README.md bundle against the real React and Vue packages
// and this library (esbuild, as an integrator's bundler would).
import { test } from "node:test";
import assert from "node:assert/strict";
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const web = fileURLToPath(new URL("..", import.meta.url));

async function bundle(entry) {
  const result = await build({
    entryPoints: [`${web}/examples/${entry}`],
    bundle: true,
    write: false,
    format: "esm",
    jsx: "automatic",
    alias: { "liveness-capture": `${web}/src/index.js` },
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "silent",
  });
  assert.deepEqual(result.errors, []);
  return result.outputFiles[0].text;
}

test("the React example bundles with the element", async () => {
  const code = await bundle("react/main.jsx");
  assert.match(code, /customElements\.define\("liveness-capture"/);
  assert.match(code, /\/liveness-session/);
  assert.match(code, /createRoot/);
});

test("the Vue example bundles with the element", async () => {
  const code = await bundle("vue/main.js");
  assert.match(code, /customElements\.define\("liveness-capture"/);
  assert.match(code, /\/liveness-session/);
  assert.match(code, /createApp/);
});
