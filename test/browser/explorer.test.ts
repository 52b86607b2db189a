// The latent explorer (`npm run explore`) in headless Chromium: the page computes with this library in the
// browser, and each number it shows is checked against the same computation in Node.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Random, Tensor, Trainer, VAE, binarize, elboByQuadrature, estimateElbo, evaluateElbo, laplaceAt, logMarginal, noGrad, trainLoop, type ElboEstimate } from "../../src/index.js";
import { posteriorWindow } from "../../src/charts/specs.js";
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
  drawn: { grey: number[]; pixels: number[]; encoderMean: number[]; qStd: [number, number]; elbo: ElboEstimate | null; exact: PageExact | null; seq: number } | null;
  plot: { renders: number; layers: string[]; posteriorSeq: number | null };
  zoom: { renders: number; seq: number | null; window: { z1: number[]; z2: number[] } | null; plot: { left: number; top: number; width: number; height: number } | null };
  training: { state: string; epochs: { epoch: number; trainElbo: number; testElbo: number; imagesPerSecond: number }[]; imagesPerSecond: number; error: string | null };
  latentToClient(z1: number, z2: number): { x: number; y: number };
}
interface PageExact {
  logMarginal: number;
  error: number;
  converged: boolean;
  box: { z1: [number, number]; z2: [number, number] };
  points: number;
  logPosterior: number[];
  mode: [number, number];
  elbo: number;
  gap: number;
  laplace?: number;
  laplaceCovariance?: [number, number, number, number];
  qStd: [number, number];
  shown: Record<string, string>;
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

  it("maps latent points to the pixels where the chart (vega) draws them: the manifold's dashed square at ±Φ⁻¹(0.95)", async () => {
    // The overlay (hover, ◆) and latentToClient use the chart's scales: the dashed edges vega drew must lie under them.
    const offsets = await browser.page.evaluate(() => {
      const canvas = document.querySelector("#scatter canvas") as HTMLCanvasElement;
      const r = canvas.getBoundingClientRect();
      const ctx = canvas.getContext("2d")!;
      const edge = 1.6448536269514722;
      return ([[edge, 0.3, true], [-edge, -0.2, true], [0.2, edge, false], [-0.3, -edge, false]] as const).map(([z1, z2, vertical]) => {
        const { x, y } = window.__explorer.latentToClient(z1, z2);
        const [px, py] = [Math.round(((x - r.left) * canvas.width) / r.width), Math.round(((y - r.top) * canvas.height) / r.height)];
        // The darkest column (row) within ±10 px, over 80 px along the edge (the dashes' gaps included).
        const ink = Array.from({ length: 21 }, (_, k) => {
          let sum = 0;
          for (let t = -40; t <= 40; t++) {
            const d = vertical ? ctx.getImageData(px + k - 10, py + t, 1, 1).data : ctx.getImageData(px + t, py + k - 10, 1, 1).data;
            sum += 255 - d[0];
          }
          return sum;
        });
        return ink.indexOf(Math.max(...ink)) - 10;
      });
    });
    for (const o of offsets) expect(Math.abs(o), `offsets ${offsets}`).toBeLessThanOrEqual(1);
  }, 30_000);

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
  }, 60_000);

  it("computes the drawn digit's log p(x) and posterior grid in the page as Node's logMarginal does, and shows the gap log p(x) − ELBO", async () => {
    const { page } = browser;
    // The worker's answer, then the latent plot redrawn with it.
    await page.waitForFunction(() => window.__explorer.drawn?.exact != null && window.__explorer.plot.posteriorSeq === window.__explorer.drawn.seq, null, { timeout: 60_000 });
    const drawn = (await page.evaluate(() => window.__explorer.drawn))!;
    const exact = drawn.exact!;
    const x = Float32Array.from(drawn.pixels);
    const [m] = logMarginal(model, x);
    const [elbo] = elboByQuadrature(model, x);
    const lap = laplaceAt(m.mode);
    // The same grid: the box comes from the Newton mode, so it agrees to the mode's float32 round-off.
    expect(exact.points).toBe(m.points);
    expect(exact.converged).toBe(m.converged);
    for (const k of [0, 1] as const) {
      expect(Math.abs(exact.box.z1[k] - m.box.z1[k])).toBeLessThan(1e-5);
      expect(Math.abs(exact.box.z2[k] - m.box.z2[k])).toBeLessThan(1e-5);
      expect(Math.abs(exact.mode[k] - m.mode.mode[k])).toBeLessThan(1e-5);
    }
    // Float rounding only (here the two agree to the bit): the page's WebAssembly kernels and Node's are the same code, but where one engine uses relaxed SIMD's FMA and the other does not, the decoder's float32
    // logits summed over 784 pixels move log p(x, z) by ~1e-5 nats when z moves by the mode's round-off.
    const tol = 1e-4;
    expect(Math.abs(exact.logMarginal - m.logMarginal), `log p(x): page ${exact.logMarginal}, Node ${m.logMarginal}`).toBeLessThan(tol);
    expect(Math.abs(exact.error - m.error)).toBeLessThan(tol);
    expect(exact.logPosterior).toHaveLength(m.points * m.points);
    const worst = exact.logPosterior.reduce((w, v, i) => Math.max(w, Math.abs(v - m.logPosterior![i])), 0);
    expect(worst, "largest |Δ log p(z|x)| over the grid").toBeLessThan(tol);
    expect(Math.abs(exact.elbo - elbo)).toBeLessThan(tol);
    expect(Math.abs(exact.laplace! - lap.logMarginal)).toBeLessThan(tol);
    exact.laplaceCovariance!.forEach((v, i) => expect(Math.abs(v - lap.covariance[i])).toBeLessThan(1e-4 * Math.abs(lap.covariance[0])));
    // The gap is log p(x) − ELBO, in the numbers and in the table the page shows.
    expect(exact.gap).toBe(exact.logMarginal - exact.elbo);
    expect(exact.gap).toBeGreaterThan(0);
    const shown = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll("#exact-rows tr")].map((tr) => [(tr as HTMLElement).dataset.key, tr.lastElementChild!.textContent])));
    expect(shown).toEqual(exact.shown);
    expect(Number(shown.logMarginal)).toBeCloseTo(m.logMarginal, 3);
    expect(Number(shown.elbo)).toBeCloseTo(elbo, 3);
    expect(Math.abs(Number(shown.gap) - (Number(shown.logMarginal) - Number(shown.elbo)))).toBeLessThanOrEqual(1.01e-4); // each shown to 4 decimals
    // On the latent plot: the posterior's heat map, q's and Laplace's ellipses, g(x) and the mode.
    expect(await page.evaluate(() => window.__explorer.plot.layers)).toEqual(["points", "manifold_box", "posterior_window", "posterior_heat", "q_ellipses", "laplace_ellipses", "encoder_mean", "mode"]);
    await page.screenshot({ path: join(shots, "explorer-drawn.png"), fullPage: true });
  }, 90_000);

  it("draws the drawn digit's posterior zoomed in the draw panel: Node's window on its axes, Node's mode under its +; Clear removes it", async () => {
    const { page } = browser;
    await page.waitForFunction(() => window.__explorer.drawn != null && window.__explorer.zoom.seq === window.__explorer.drawn.seq, null, { timeout: 60_000 });
    const drawn = (await page.evaluate(() => window.__explorer.drawn))!;
    const zoom = (await page.evaluate(() => window.__explorer.zoom))!;
    // Node's posterior of the same pixels, and the window the report's posteriorSpec gives it.
    const x = Float32Array.from(drawn.pixels);
    const [m] = logMarginal(model, x);
    const q = noGrad(() => model.encode(new Tensor(x, [1, 784])));
    const variance = typeof q.variance === "number" ? [q.variance, q.variance] : Array.from(q.variance.contiguous().data, Math.exp);
    const mode = m.mode.mode;
    const w = posteriorWindow({ box: m.box, points: m.points, logPosterior: m.logPosterior!, encoderMean: [q.mean.data[0], q.mean.data[1]], qStd: [Math.sqrt(variance[0]), Math.sqrt(variance[1])], mode, laplaceCovariance: laplaceAt(m.mode).covariance });
    const span = w.z1[1] - w.z1[0];
    for (const k of ["z1", "z2"] as const) for (const i of [0, 1]) expect(Math.abs(zoom.window![k][i] - w[k][i]), `window ${k}[${i}]: page ${zoom.window![k]}, Node ${w[k]}`).toBeLessThan(1e-4 * span);
    // In the chart's pixels: the black + (the mode) is where Node's mode falls in Node's window, and the heat map is there.
    const { black, blue } = await page.evaluate((plot) => {
      const canvas = document.querySelector("#zoom-chart canvas") as HTMLCanvasElement;
      const sx = canvas.width / canvas.getBoundingClientRect().width;
      const d = canvas.getContext("2d")!.getImageData(Math.round(plot.left * sx), Math.round(plot.top * sx), Math.round(plot.width * sx), Math.round(plot.height * sx));
      let [n, sumX, sumY, blue] = [0, 0, 0, 0];
      for (let i = 0; i < d.width * d.height; i++) {
        const [r, g, b] = [d.data[4 * i], d.data[4 * i + 1], d.data[4 * i + 2]];
        if (Math.max(r, g, b) < 80) [n, sumX, sumY] = [n + 1, sumX + (i % d.width) + 0.5, sumY + Math.floor(i / d.width) + 0.5];
        else if (b > r + 40) blue++;
      }
      return { black: { n, x: sumX / n / sx, y: sumY / n / sx }, blue: blue / (sx * sx) };
    }, zoom.plot!);
    const plot = zoom.plot!;
    expect(plot.width).toBe(230);
    const expected = [((mode[0] - w.z1[0]) / span) * plot.width, ((w.z2[1] - mode[1]) / (w.z2[1] - w.z2[0])) * plot.height];
    expect(black.n, "pixels of the mode's +").toBeGreaterThan(10);
    expect(Math.abs(black.x - expected[0]), `+ at x ${black.x}, Node's mode at ${expected[0]}`).toBeLessThanOrEqual(1);
    expect(Math.abs(black.y - expected[1]), `+ at y ${black.y}, Node's mode at ${expected[1]}`).toBeLessThanOrEqual(1);
    expect(blue, "blue pixels of the heat map").toBeGreaterThan(200);
    expect(await page.locator("#zoom-caption").isVisible()).toBe(true);
    await page.locator("#draw-panel").screenshot({ path: join(shots, "explorer-zoom.png") });

    await page.click("#clear");
    await page.waitForFunction(() => window.__explorer.zoom.seq === null && window.__explorer.plot.posteriorSeq === null, null, { timeout: 30_000 });
    expect(await page.locator("#zoom-chart canvas").count()).toBe(0);
    expect(await page.locator("#exact-rows tr").count()).toBe(0);
    expect(await page.locator("#zoom-caption").isVisible()).toBe(false);
  }, 90_000);

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
