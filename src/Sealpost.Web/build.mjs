// Builds the page into dist/ (served at / by the users service): one bundled, minified script, one stylesheet,
// index.html. `node build.mjs --tests` bundles test/*.test.ts into dist-test/ for `node --test`.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";

const here = new URL(".", import.meta.url).pathname;

if (process.argv.includes("--tests")) {
  rmSync(`${here}dist-test`, { recursive: true, force: true });
  await build({
    entryPoints: readdirSync(`${here}test`).filter((f) => f.endsWith(".test.ts")).map((f) => `${here}test/${f}`),
    outdir: `${here}dist-test`, bundle: true, platform: "node", format: "esm", target: "node20", outExtension: { ".js": ".mjs" },
    logLevel: "warning",
  });
  process.exit(0);
}

rmSync(`${here}dist`, { recursive: true, force: true });
mkdirSync(`${here}dist/web`, { recursive: true });
await build({
  entryPoints: [`${here}src/main.ts`],
  outfile: `${here}dist/web/app.js`,
  bundle: true, minify: true, format: "esm", target: "chrome120", sourcemap: false, legalComments: "none",
  logLevel: "warning",
});
copyFileSync(`${here}static/app.css`, `${here}dist/web/app.css`);
copyFileSync(`${here}static/icon.svg`, `${here}dist/web/icon.svg`);
// Subresource integrity on the page's own script and stylesheet: a swapped asset (a cache, a CDN in front) is refused.
const sri = (file) => "sha384-" + createHash("sha384").update(readFileSync(`${here}dist/web/${file}`)).digest("base64");
const html = readFileSync(`${here}static/index.html`, "utf8").replace("%APP_JS_SRI%", sri("app.js")).replace("%APP_CSS_SRI%", sri("app.css"));
writeFileSync(`${here}dist/index.html`, html);
let total = 0;
for (const f of ["index.html", "web/app.js", "web/app.css", "web/icon.svg"]) total += statSync(`${here}dist/${f}`).size;
console.log(`built dist/: ${total} bytes (index.html, web/app.js, web/app.css, web/icon.svg)`);
