// The latent explorer (`npm run explore`) in headless Chromium: the page computes with this library in the
// browser, and each number it shows is checked against the same computation in Node.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Random, Tensor, Trainer, VAE, binarize, estimateElbo, evaluateElbo, noGrad, trainLoop, type ElboEstimate } from "../../src/index.js";
import { loadModel, saveModel } from "../../src/node/checkpoint.js";
import { loadMnist } from "../../src/node/mnist.js";
import { startExplorer, type Explorer } from "../../src/node/explore.js";
import { SEVEN, drawStroke, launchChromium, type Chromium } from "./chromium.js";

const POINTS = 1000;
const shots = join(tmpdir(), "tsgrad-vae-screenshots");

interface PageExplorer {
  ready: boolean;
  errors: string[];
  elboSamples: number;
  elboSeed: number;
  lim: number;
  hover: { z: [number, number]; seq: number } | null;
  drawn: { grey: number[]; pixels: number[]; encoderMean: number[]; elbo: ElboEstimate | null; seq: number } | null;
  training: { state: string; epochs: { epoch: number; trainElbo: number; testElbo: number; imagesPerSecond: number }[]; imagesPerSecond: number; error: string | null };
  latentToClient(z1: number, z2: number): { x: number; y: number };
}
declare global {
  interface Window {
    __explorer: PageExplorer;
  }
}

describe("latent explorer in Chromium", () => {
  let dir: string;
  let checkpoint: string;
  let model: VAE;
  let explorer: Explorer;
  let browser: Chromium;
  const requests: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tsgrad-explore-test-"));
    mkdirSync(shots, { recursive: true });
    // A small model, trained for a second so that the plots have some structure.
    checkpoint = join(dir, "model.safetensors");
    const trainModel = new VAE({ hidden: 64 }, { seed: 0 });
    const trainer = new Trainer(trainModel, binarize(loadMnist("train", { limit: 2000 }).images), { batchSize: 100, lr: 3e-3, seed: 0 });
    await trainLoop(trainer, { epochs: 2 });
    saveModel(checkpoint, trainModel, { epoch: 2, step: trainer.optimizer.t, hyper: { hidden: 64, batch: 100, lr: 3e-3, seed: 0, limit: 2000 } });
    model = loadModel(checkpoint).model;

    explorer = await startExplorer({ checkpoint, port: 0, points: POINTS });
    browser = await launchChromium();
    browser.page.on("request", (r) => requests.push(r.url()));
    await browser.page.goto(explorer.url);
    await browser.page.waitForFunction(() => window.__explorer?.ready || (window.__explorer?.errors.length ?? 0) > 0, null, { timeout: 90_000 });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await explorer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("serves a cross-origin-isolated page that loads without console errors", async () => {
    const { page, errors } = browser;
    expect(await page.evaluate(() => window.__explorer.errors)).toEqual([]);
    expect(errors).toEqual([]);
    expect(await page.evaluate(() => window.crossOriginIsolated)).toBe(true);
    // Offline: the page asks its own server only.
    expect(requests.length).toBeGreaterThan(3);
    expect(requests.filter((url) => !url.startsWith(explorer.url) && !/^(data|blob):/.test(url))).toEqual([]);
    for (const path of ["/", "/main.js", "/worker.js", "/api/info", "/model.safetensors", "/data/test-labels?n=10"]) {
      const res = await fetch(new URL(path, explorer.url));
      expect(res.status, path).toBe(200);
      expect(res.headers.get("cross-origin-opener-policy"), path).toBe("same-origin");
      expect(res.headers.get("cross-origin-embedder-policy"), path).toBe("require-corp");
    }
    expect((await fetch(new URL("/data/test-labels?n=10", explorer.url)).then((r) => r.arrayBuffer())).byteLength).toBe(10);
    expect(await page.locator("#source").textContent()).toContain("hidden 64");
    expect(await page.locator("#banner").isHidden()).toBe(true);
    await page.screenshot({ path: join(shots, "explorer-loaded.png"), fullPage: true });
  }, 60_000);

  it("shows under the pointer the image that Node's decoder gives for that latent point", async () => {
    const { page } = browser;
    for (const target of [[0.5, -0.8], [-1.3, 1.1], [0.05, 0.02]] as const) {
      const before = await page.evaluate(() => window.__explorer.hover?.seq ?? 0);
      const { x, y } = await page.evaluate(([a, b]) => window.__explorer.latentToClient(a, b), target);
      await page.mouse.move(x, y);
      await page.waitForFunction((seq) => (window.__explorer.hover?.seq ?? 0) > seq, before, { timeout: 30_000 });
      const { z, pixels } = await page.evaluate(() => {
        const data = (document.getElementById("decoded") as HTMLCanvasElement).getContext("2d")!.getImageData(0, 0, 28, 28).data;
        return { z: window.__explorer.hover!.z, pixels: Array.from({ length: 784 }, (_, i) => data[4 * i]) };
      });
      // The pointer lands on a whole pixel: within one pixel of the plot's 480 for 2·lim.
      const pixel = (2 * (await page.evaluate(() => window.__explorer.lim))) / 480;
      expect(Math.abs(z[0] - target[0]), `z₁ for ${target}`).toBeLessThanOrEqual(1.5 * pixel);
      expect(Math.abs(z[1] - target[1]), `z₂ for ${target}`).toBeLessThanOrEqual(1.5 * pixel);
      const p = model.decode(new Tensor(Float32Array.from(z), [1, 2])).data;
      const worst = Math.max(...pixels.map((v, i) => Math.abs(v - Math.round(255 * (1 - p[i])))));
      expect(worst, `largest pixel difference at z = (${z})`).toBeLessThanOrEqual(2);
    }
    await page.screenshot({ path: join(shots, "explorer-hover.png"), fullPage: true });
  }, 60_000);

  it("gives a drawn digit Node's encoder mean and ELBO for the same binarized pixels", async () => {
    const { page } = browser;
    for (const stroke of SEVEN) await drawStroke(page, "#pad", stroke);
    await page.waitForFunction(() => window.__explorer.drawn?.elbo != null, null, { timeout: 30_000 });
    // The ELBO is computed after the last stroke ended: wait until the table shows it.
    await page.waitForFunction(() => !/computing|…/.test(document.getElementById("t-elbo")!.textContent ?? ""), null, { timeout: 30_000 });
    const drawn = (await page.evaluate(() => window.__explorer.drawn))!;
    const { elboSamples, elboSeed } = await page.evaluate(() => ({ elboSamples: window.__explorer.elboSamples, elboSeed: window.__explorer.elboSeed }));
    expect(elboSamples).toBe(1000);
    expect(drawn.pixels).toEqual(drawn.grey.map((g) => (g > 127 ? 1 : 0)));
    const ink = drawn.pixels.reduce((a, v) => a + v, 0);
    expect(ink, "ink pixels of the drawn 7").toBeGreaterThan(25);
    expect(ink).toBeLessThan(250);

    const x = new Tensor(Float32Array.from(drawn.pixels), [1, 784]);
    const g = noGrad(() => model.encode(x).mean.data);
    for (let i = 0; i < 2; i++) expect(drawn.encoderMean[i]).toBeCloseTo(g[i], 5);
    const e = estimateElbo(model, x, elboSamples, new Random(elboSeed));
    const page_ = drawn.elbo!;
    for (const key of ["elbo", "stderr", "logPrior", "logLikelihood", "negLogQ"] as const) {
      expect(Math.abs(page_[key] - e[key]), `${key}: page ${page_[key]}, Node ${e[key]}`).toBeLessThan(1e-3 + 1e-5 * Math.abs(e[key]));
    }
    expect(page_.samples).toBe(1000);
    await page.screenshot({ path: join(shots, "explorer-drawn.png"), fullPage: true });
  }, 60_000);

  it("trains in a Web Worker, raising the ELBO, and downloads weights in the CLI's format", async () => {
    const { page, errors } = browser;
    await page.fill("#opt-images", "500");
    await page.fill("#opt-hidden", "50");
    await page.fill("#opt-epochs", "4");
    await page.click("#train");
    await page.waitForFunction(() => ["done", "stopped", "error"].includes(window.__explorer.training.state), null, { timeout: 150_000, polling: 250 });
    const training = await page.evaluate(() => window.__explorer.training);
    expect(training.error).toBeNull();
    expect(training.state).toBe("done");
    expect(training.epochs.map((e) => e.epoch)).toEqual([0, 1, 2, 3, 4]);
    const [first, second, last] = [training.epochs[0], training.epochs[1], training.epochs[4]];
    expect(last.testElbo, "test ELBO after 4 epochs vs. at initialization").toBeGreaterThan(first.testElbo + 50);
    expect(last.trainElbo, "train ELBO of epoch 4 vs. epoch 1").toBeGreaterThan(second.trainElbo);
    expect(training.imagesPerSecond).toBeGreaterThan(0);
    expect(await page.locator("#source").textContent()).toContain("trained here");
    await page.screenshot({ path: join(shots, "explorer-trained.png"), fullPage: true });

    const [download] = await Promise.all([page.waitForEvent("download", { timeout: 30_000 }), page.click("#download")]);
    const file = join(dir, "downloaded.safetensors");
    await download.saveAs(file);
    const { model: trained, metadata } = loadModel(file);
    expect(trained.config).toEqual({ ...model.config, hidden: 50 });
    // The same metadata keys as a model file of `npm run vae -- train`, in the same encoding.
    const cli = join(dir, "cli.safetensors");
    saveModel(cli, trained, { epoch: 4, step: 20, hyper: JSON.parse(metadata.hyper) });
    expect(Object.keys(metadata).sort()).toEqual(Object.keys(loadModel(cli).metadata).sort());
    expect(metadata.format).toBe("tsgrad-vae/1");
    expect(metadata.epoch).toBe("4");
    expect(metadata.step).toBe("20");
    expect(JSON.parse(metadata.hyper)).toMatchObject({ hidden: 50, batch: 100, lr: 0.001, seed: 0, limit: 500 });
    expect(readFileSync(file).equals(readFileSync(cli))).toBe(true);
    // The downloaded weights are the page's model: Node gets the page's test ELBO from them.
    const test = binarize(loadMnist("test", { limit: 1000 }).images);
    expect(evaluateElbo(trained, test)).toBeCloseTo(last.testElbo, 2);
    expect(errors).toEqual([]);
  }, 180_000);
});
