// `elbo --exact` and `eval --exact N`: the exact quantities of src/vae/marginal.ts on the command line, equal to
// the library's on the same images, with the text lines and the one-line errors.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/vae.js";
import { loadModel, saveModel } from "../src/node/checkpoint.js";
import { loadMnist } from "../src/node/mnist.js";
import { binarize } from "../src/vae/idx.js";
import { exactBounds, logMarginal } from "../src/vae/marginal.js";
import { VAE } from "../src/vae/model.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "vae-exact-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const checkpoint = path.join(tmp, "model.safetensors");

async function vae(argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s), isTTY: false });
  return { code, out, err };
}

beforeAll(async () => {
  // A model trained for 2 epochs on 300 images, so that the posterior is not the prior.
  const { code, err } = await vae(["train", "--hidden", "16", "--batch", "50", "--limit", "300", "--test-limit", "50", "--epochs", "2", "--lr", "3e-3", "--seed", "3", "--out", path.join(tmp, "run")]);
  if (code !== 0) throw new Error(err);
  saveModel(checkpoint, loadModel(path.join(tmp, "run", "model.safetensors")).model);
}, 60_000);

describe("vae elbo --exact", () => {
  it("node --import tsx src/cli/vae.ts elbo --exact --json adds logMarginal, logMarginalError, laplace and iwae (K = 1 … 5000), equal to the library's on the same image", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/vae.ts", "elbo", "--checkpoint", checkpoint, "--split", "test", "--index", "3", "--exact", "--json"], { cwd: root, encoding: "utf8", timeout: 120_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    for (const key of ["elbo", "stderr", "logMarginal", "logMarginalError", "laplace", "iwae", "gap"]) expect(j).toHaveProperty(key);
    expect(Object.keys(j.iwae)).toEqual(["1", "10", "100", "1000", "5000"]);
    const model = loadModel(checkpoint).model;
    const x = binarize(loadMnist("test", { limit: 4 }).images).subarray(3 * 784, 4 * 784);
    const [m] = logMarginal(model, x);
    expect(j.logMarginal).toBeCloseTo(m.logMarginal, 6);
    expect(j.logMarginalError).toBeLessThan(0.01);
    expect(j.elboQuadrature).toBeLessThan(j.logMarginal);
    expect(j.gap).toBeCloseTo(j.logMarginal - j.elboQuadrature, 9);
    expect(Math.abs(j.elbo - j.elboQuadrature)).toBeLessThan(5 * j.stderr + 0.01); // the Monte Carlo ELBO agrees
    expect(j.iwae["5000"]).toBeLessThan(j.logMarginal + 0.1);
    expect(Math.abs(j.laplace - j.logMarginal)).toBeLessThan(1);
  }, 120_000);

  it("prints the same quantities as lines of the text output", async () => {
    const text = await vae(["elbo", "--checkpoint", checkpoint, "--split", "test", "--index", "3", "--exact"]);
    const json = JSON.parse((await vae(["elbo", "--checkpoint", checkpoint, "--split", "test", "--index", "3", "--exact", "--json"])).out);
    expect(text.code).toBe(0);
    const line = (label: string) => Number(new RegExp(`${label.replace(/[()=]/g, "\\$&")}\\s+(-?[\\d.]+)`).exec(text.out)?.[1]);
    // The rows of src/charts/exact-rows.ts, as the eval table and the report lay them out too.
    expect(line("log p(x) (quadrature)")).toBeCloseTo(json.logMarginal, 3);
    expect(line("ELBO (quadrature)")).toBeCloseTo(json.elboQuadrature, 3);
    expect(line("Laplace")).toBeCloseTo(json.laplace, 3);
    for (const k of ["1", "10", "100", "1000", "5000"]) expect(line(`IWAE K = ${k}`)).toBeCloseTo(json.iwae[k], 3);
    expect(line("gap log p(x) − ELBO")).toBeCloseTo(json.gap, 3);
    expect(text.out).toContain(`${json.grid}×${json.grid} grid`);
    expect(text.out).toContain("KL(q(z|x) ‖ p(z|x))");
  }, 60_000);

  it("refuses a model whose latent space is not 2-D, in one line", async () => {
    const file = path.join(tmp, "latent3.safetensors");
    saveModel(file, new VAE({ hidden: 8, latent: 3 }, { seed: 1 }));
    const r = await vae(["elbo", "--checkpoint", file, "--exact"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vae elbo: error: --exact integrates over a 2-D latent space; the model's has 3 dimensions\n$/);
  });
});

describe("vae eval --exact N", () => {
  it("--json gives the means over the first N test images of every quantity, all on those images, and the gap per image", async () => {
    const r = await vae(["eval", "--checkpoint", checkpoint, "--limit", "50", "--iwae", "0", "--exact", "6", "--json"]);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.out).exact;
    expect(e.images).toBe(6);
    const per = exactBounds(loadModel(checkpoint).model, binarize(loadMnist("test", { limit: 6 }).images));
    const mean = (f: (v: (typeof per)[number]) => number) => per.reduce((a, v) => a + f(v), 0) / per.length;
    expect(e.logMarginal).toBeCloseTo(mean((v) => v.logMarginal), 6);
    expect(e.elbo).toBeCloseTo(mean((v) => v.elbo), 6);
    expect(e.laplace).toBeCloseTo(mean((v) => v.laplace), 6);
    for (const k of [1, 10, 100, 1000, 5000]) expect(e.iwae[k]).toBeCloseTo(mean((v) => v.iwae[k]), 6);
    expect(e.gapPerImage).toHaveLength(6);
    e.gapPerImage.forEach((g: number, i: number) => {
      expect(g).toBeCloseTo(per[i].logMarginal - per[i].elbo, 6);
      expect(g).toBeGreaterThan(0);
    });
    expect(e.gap).toBeCloseTo(e.logMarginal - e.elbo, 9);
    expect(e.seconds).toBeGreaterThan(0);
    // Progress on stderr (not a terminal: a line per tenth of the work), ending at 100%.
    const lines = r.err.trim().split("\n");
    expect(lines[0]).toMatch(/^eval --exact 6: log p\(x\) by quadrature: 6\/6 images {2}65% {2}elapsed \d+s {2}ETA \d+s$/);
    expect(lines.at(-1)).toMatch(/^eval --exact 6: IWAE K = 5000: 6\/6 images {2}100% {2}elapsed \d+s$/);
  }, 60_000);

  it("prints the table, and rejects a bad N naming --exact", async () => {
    const r = await vae(["eval", "--checkpoint", checkpoint, "--limit", "20", "--iwae", "0", "--exact", "3"]);
    expect(r.code).toBe(0);
    for (const s of ["exact, on the first 3 test images", "ELBO (quadrature)", "IWAE K = 5000", "Laplace", "log p(x) (quadrature)", "gap log p(x) − ELBO"]) expect(r.out).toContain(s);
    const json = JSON.parse((await vae(["eval", "--checkpoint", checkpoint, "--limit", "20", "--iwae", "0", "--exact", "3", "--json"])).out).exact;
    const line = (label: string) => Number(new RegExp(`${label.replace(/[()=]/g, "\\$&")}\\s+(-?[\\d.]+)`).exec(r.out)?.[1]);
    expect(line("log p(x) (quadrature)")).toBeCloseTo(json.logMarginal, 3);
    expect(line("gap log p(x) − ELBO")).toBeCloseTo(json.gap, 3);
    expect(r.out).toContain(`largest ${json.gapMax.toFixed(4)}`);
    for (const bad of ["0", "-2", "x", "10001"]) {
      const e = await vae(["eval", "--checkpoint", checkpoint, "--exact", bad]);
      expect(e.code).toBe(2);
      expect(e.err).toMatch(/^vae eval: error: --exact must be an integer in 1\.\.10000, got .*\n$/);
    }
  }, 60_000);
});
