// `npm run build`: the installable package in dist/.
//   dist/**/*.js + *.d.ts   tsc -p tsconfig.build.json: the core (dist/index.js) and the Node entry (dist/node/index.js)
//   dist/browser/tsgrad.js  esbuild: the core as one ESM file for browsers (no Node import may reach it)
import { spawnSync } from "node:child_process";
import { existsSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");

export async function buildPackage(log: (line: string) => void = (line) => process.stdout.write(line + "\n")): Promise<void> {
  const t0 = performance.now();
  rmSync(dist, { recursive: true, force: true });

  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${r.status ?? r.signal})`);

  const outfile = join(dist, "browser", "tsgrad.js");
  await build({
    entryPoints: [join(root, "src", "index.ts")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    // A Node built-in reaching the core is a bug: fail the build rather than shim it.
    external: [],
    logLevel: "warning",
    legalComments: "none",
  });
  for (const entry of ["index.js", "index.d.ts", "node/index.js", "node/index.d.ts"]) {
    if (!existsSync(join(dist, entry))) throw new Error(`build: dist/${entry} is missing`);
  }
  const kb = (statSync(outfile).size / 1024).toFixed(0);
  log(`built dist/ (tsc) and ${relative(root, outfile)} (${kb} KiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildPackage().catch((e) => {
    process.stderr.write(`build: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
