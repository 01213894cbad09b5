// Bundles src/main.ts and src/style.css into dist/assets (names with a
// content hash) and writes dist/index.html pointing at them.
import { build } from "esbuild";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";

const dist = "dist";
// Keep the committed placeholder; drop the previous build.
await mkdir(dist, { recursive: true });
for (const entry of await readdir(dist)) {
  if (entry !== ".keep") await rm(path.join(dist, entry), { recursive: true, force: true });
}

const result = await build({
  entryPoints: { app: "src/main.ts", style: "src/style.css" },
  bundle: true,
  minify: true,
  sourcemap: false,
  target: ["es2022"],
  format: "esm",
  outdir: path.join(dist, "assets"),
  entryNames: "[name]-[hash]",
  metafile: true,
  logLevel: "warning",
  legalComments: "none",
});

const out = Object.keys(result.metafile.outputs).map((p) => "/" + path.relative(dist, p));
const js = out.find((p) => p.endsWith(".js"));
const css = out.find((p) => p.endsWith(".css"));
await writeFile(
  path.join(dist, "index.html"),
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>APIQ</title>
<link rel="stylesheet" href="${css}">
<script type="module" src="${js}"></script>
</head>
<body><div id="app"><p class="loading">Loading…</p></div></body>
</html>
`,
);
