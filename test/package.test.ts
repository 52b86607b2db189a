// The installable package: `npm run build && npm pack`, installed into a scratch project, where the README's
// gradient example runs unchanged from Node, the Node entry works, and an esbuild-bundled page runs the core in
// Chromium. Also: the README example runs in the repository, with the package name mapped to src/.
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, transformSync } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mnistPaths } from "../src/node/mnist.js";
import { launchChromium } from "./browser/chromium.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NAME = "tsgrad-vae";

/** The first ```ts block under "## Taking a gradient" in README.md. */
function readmeExample(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.split(/^## Taking a gradient\s*$/m)[1];
  const code = section && /^```ts\n([\s\S]*?)^```/m.exec(section.split(/^## /m)[0])?.[1];
  if (!code) throw new Error('README.md: no ```ts block under "## Taking a gradient"');
  return code;
}

/** What the example's comments say it prints: `console.log(x.grad); // <this>`. */
function expectedGradLine(code: string): string {
  const line = /console\.log\(x\.grad\);\s*\/\/\s*(.+)$/m.exec(code)?.[1]?.trim();
  if (!line) throw new Error("README example: no `console.log(x.grad); // …` line");
  return line;
}

function run(command: string, args: string[], options: SpawnSyncOptions = {}): string {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 180_000, ...options });
  if (r.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} (in ${options.cwd ?? process.cwd()}) failed with ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}${r.error ? `\n${r.error.message}` : ""}`);
  }
  return String(r.stdout);
}

const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

describe("README gradient example", () => {
  it("imports the package by name and runs in the repository (name mapped to src/)", () => {
    const code = readmeExample();
    expect(code).toContain(`from "${NAME}"`);
    const dir = mkdtempSync(join(tmpdir(), "tsgrad-readme-"));
    try {
      const file = join(dir, "readme.mts");
      writeFileSync(file, code.replaceAll(`from "${NAME}"`, `from ${JSON.stringify(pathToFileURL(join(root, "src", "index.ts")).href)}`));
      const out = run(process.execPath, ["--import", "tsx", file], { cwd: root });
      expect(out).toContain(expectedGradLine(code));
      expect(out).toMatch(/^gradcheck passed/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("the package, built, packed and installed", () => {
  let work: string;
  let scratch: string;
  let files: string[];

  beforeAll(() => {
    run(npm, ["run", "build"], { cwd: root });
    work = mkdtempSync(join(tmpdir(), "tsgrad-pack-"));
    const [packed] = JSON.parse(run(npm, ["pack", "--json", "--pack-destination", work], { cwd: root })) as { filename: string; files: { path: string }[] }[];
    files = packed.files.map((f) => f.path);
    scratch = join(work, "scratch");
    mkdirSync(scratch);
    writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "scratch", private: true, type: "module" }, null, 2));
    const tarball = join(work, packed.filename);
    const install = (mode: string) => run(npm, ["install", tarball, "--no-audit", "--no-fund", mode], { cwd: scratch });
    try {
      install("--offline"); // the dependencies are in npm's cache after `npm ci`
    } catch {
      install("--prefer-offline");
    }
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("ships dist/ only, with the entries its exports name", () => {
    const pkg = JSON.parse(readFileSync(join(scratch, "node_modules", NAME, "package.json"), "utf8"));
    expect(pkg.name).toBe(NAME);
    // "default" lets CommonJS code require() the core (Node ≥ 20.19); the Node entry is ESM-only (vega has top-level await).
    expect(pkg.exports["."]).toEqual({ types: "./dist/index.d.ts", import: "./dist/index.js", default: "./dist/index.js" });
    expect(pkg.exports["./node"]).toEqual({ types: "./dist/node/index.d.ts", import: "./dist/node/index.js" });
    expect(pkg.types).toBe("./dist/index.d.ts");
    for (const target of [pkg.exports["."].import, pkg.exports["."].types, pkg.exports["./node"].import, pkg.exports["./node"].types, pkg.exports["./browser"]]) {
      expect(files, target).toContain(target.replace(/^\.\//, ""));
    }
    const outside = files.filter((f) => !f.startsWith("dist/") && !["package.json", "README.md", "LICENSE"].includes(f));
    expect(outside).toEqual([]);
    expect(files.some((f) => f.startsWith("dist/browser/") && f !== "dist/browser/tsgrad.js")).toBe(false);
    expect(files.some((f) => /explore|cli\//.test(f))).toBe(false);
  });

  it("keeps the core free of Node imports", async () => {
    // Every import the core's modules make, as esbuild resolves them (code only: strings such as a worker's
    // source are not imports).
    const entry = join(scratch, "node_modules", NAME, "dist", "index.js");
    const { metafile } = await build({ entryPoints: [entry], bundle: true, write: false, metafile: true, platform: "neutral", format: "esm", logLevel: "silent" });
    const imports = Object.values(metafile.inputs).flatMap((input) => input.imports.map((i) => i.path));
    expect(Object.keys(metafile.inputs).length).toBeGreaterThan(20);
    expect(imports.filter((path) => !path.includes("tsgrad-vae/dist/") || path.includes("/dist/node/"))).toEqual([]);
  });

  it("runs the README example unchanged from Node, and it typechecks against the shipped declarations", () => {
    const code = readmeExample();
    writeFileSync(join(scratch, "readme.ts"), code);
    writeFileSync(join(scratch, "readme.mjs"), transformSync(code, { loader: "ts", format: "esm" }).code);
    const out = run(process.execPath, ["readme.mjs"], { cwd: scratch });
    expect(out).toContain(expectedGradLine(code));
    expect(out).toMatch(/^gradcheck passed/m);

    writeFileSync(
      join(scratch, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          lib: ["es2022", "dom"],
          noEmit: true,
          skipLibCheck: false,
          typeRoots: [join(root, "node_modules", "@types")],
          types: ["node"],
        },
        files: ["readme.ts", "node-entry.ts"],
      }),
    );
    writeFileSync(join(scratch, "node-entry.ts"), `import { loadMnist, loadModel, saveModel, writeFileAtomic, writeReport } from "${NAME}/node";\nimport { VAE } from "${NAME}";\nexport const used = [loadMnist, loadModel, saveModel, writeFileAtomic, writeReport, VAE];\n`);
    run(process.execPath, [tsc, "-p", "."], { cwd: scratch });
  }, 120_000);

  it("has a Node entry, tsgrad-vae/node, for files", () => {
    const { images, labels } = mnistPaths("test");
    writeFileSync(
      join(scratch, "node-entry.mjs"),
      `import { VAE } from "${NAME}";
import * as node from "${NAME}/node";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
const dir = mkdtempSync(join(tmpdir(), "tsgrad-node-entry-"));
node.saveModel(join(dir, "m.safetensors"), new VAE({ hidden: 8 }, { seed: 3 }), { epoch: 1 });
const { model, metadata } = node.loadModel(join(dir, "m.safetensors"));
const mnist = node.loadMnist("test", { imagesPath: ${JSON.stringify(images)}, labelsPath: ${JSON.stringify(labels)}, limit: 5 });
node.writeFileAtomic(join(dir, "x.txt"), "ok");
console.log(JSON.stringify({ exports: Object.keys(node).sort(), hidden: model.config.hidden, format: metadata.format, epoch: metadata.epoch, labels: Array.from(mnist.labels) }));
`,
    );
    const out = JSON.parse(run(process.execPath, ["node-entry.mjs"], { cwd: scratch }));
    expect(out.exports).toEqual(expect.arrayContaining(["loadMnist", "loadModel", "saveModel", "readTrainState", "saveTrainState", "writeReport", "writeFileAtomic"]));
    if (existsSync(join(root, "src", "node", "threads.ts"))) expect(out.exports).toContain("useWorkerThreads");
    expect(out).toMatchObject({ hidden: 8, format: "tsgrad-vae/1", epoch: "1", labels: [7, 2, 1, 0, 4] });
  }, 60_000);

  it("bundles with esbuild into a page that runs the core in Chromium", async () => {
    const web = join(scratch, "web");
    mkdirSync(web, { recursive: true });
    writeFileSync(
      join(scratch, "page.js"),
      `import { tensor, grad, gradcheck } from "${NAME}";
const f = (w) => w.mul(w).softplus().sum();
const g = grad(f)(tensor([[1, 2], [3, 4]]));
const check = gradcheck(f, [tensor([[0.5, -1], [2, 0.1]], { dtype: "float64" })], { raise: false });
window.__result = { grad: Array.from(g.data), ok: check.ok, message: check.message };
`,
    );
    await build({ absWorkingDir: scratch, entryPoints: ["page.js"], outfile: join(web, "page.js"), bundle: true, format: "esm", platform: "browser", logLevel: "silent" });
    writeFileSync(join(web, "index.html"), `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="./page.js"></script>`);
    // The prebuilt single-file bundle of the core, imported by a page as it is.
    writeFileSync(join(web, "tsgrad.js"), readFileSync(join(scratch, "node_modules", NAME, "dist", "browser", "tsgrad.js")));
    writeFileSync(join(web, "prebuilt.html"), `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module">import { tensor, grad } from "./tsgrad.js"; window.__result = { grad: Array.from(grad((w) => w.mul(w).softplus().sum())(tensor([[1, 2], [3, 4]])).data), ok: true };</script>`);

    const server: Server = createServer((req, res) => {
      const path = join(web, new URL(req.url ?? "/", "http://x").pathname.replace(/^\/$/, "/index.html"));
      if (!path.startsWith(web) || !existsSync(path)) return res.writeHead(404).end();
      res.writeHead(200, { "Content-Type": path.endsWith(".js") ? "text/javascript" : "text/html" }).end(readFileSync(path));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const chromium = await launchChromium({ width: 800, height: 600 });
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      for (const page of ["index.html", "prebuilt.html"]) {
        await chromium.page.goto(base + page);
        await chromium.page.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, null, { timeout: 30_000 });
        const result = await chromium.page.evaluate(() => (window as unknown as { __result: { grad: number[]; ok: boolean; message?: string } }).__result);
        expect(result.ok, result.message).toBe(true);
        // d/dx softplus(x²) = 2x σ(x²)
        const expected = [1, 2, 3, 4].map((x) => (2 * x) / (1 + Math.exp(-x * x)));
        result.grad.forEach((g, i) => expect(g, `${page}: gradient ${i}`).toBeCloseTo(expected[i], 5));
      }
      expect(chromium.errors).toEqual([]);
    } finally {
      await chromium.close();
      server.close();
    }
  }, 120_000);
});
