// Screenshots of the latent explorer for docs/screenshots/, taken in headless Chromium (see test/browser/chromium.ts):
//   node --import tsx scripts/screenshots.ts [--checkpoint FILE] [--out DIR]
// With no --checkpoint it uses runs/walkthrough/model.safetensors (from `npm run vae`) if it exists, else it trains a
// small model first. It also trains in the page (5000 images, hidden 200) and, for comparison, the same model on the
// same slice in Node, and prints both speeds.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Trainer, VAE, binarize, trainLoop } from "../src/index.js";
import { saveModel } from "../src/node/checkpoint.js";
import { loadMnist } from "../src/node/mnist.js";
import { DEFAULT_CHECKPOINT, startExplorer } from "../src/node/explore.js";
import { SEVEN, THREE, drawStroke, launchChromium } from "../test/browser/chromium.js";

const { values } = parseArgs({ options: { checkpoint: { type: "string" }, out: { type: "string" } } });
const out = resolve(values.out ?? "docs/screenshots");
mkdirSync(out, { recursive: true });
const TRAIN = { images: 5000, hidden: 200, epochs: 5, batch: 100, lr: 1e-3, seed: 0 };

async function trainInNode(images: number, hidden: number, epochs: number): Promise<{ model: VAE; imagesPerSecond: number; steps: number }> {
  const data = binarize(loadMnist("train", { limit: images }).images);
  const model = new VAE({ hidden }, { seed: TRAIN.seed });
  const trainer = new Trainer(model, data, { batchSize: TRAIN.batch, lr: TRAIN.lr, seed: TRAIN.seed });
  let seconds = 0;
  let seen = 0;
  let t = performance.now();
  await trainLoop(trainer, {
    epochs,
    yieldEvery: 1,
    pause: () => new Promise((r) => setImmediate(r)),
    onStep: (s) => {
      const now = performance.now();
      seconds += (now - t) / 1000;
      seen += s.size;
      t = now;
    },
  });
  return { model, imagesPerSecond: seen / seconds, steps: trainer.optimizer.t };
}

const scratch = mkdtempSync(join(tmpdir(), "tsgrad-screenshots-"));
let checkpoint = values.checkpoint;
if (checkpoint === undefined) {
  if (existsSync(DEFAULT_CHECKPOINT)) checkpoint = DEFAULT_CHECKPOINT;
  else {
    console.log(`no ${DEFAULT_CHECKPOINT}: training a small model first (hidden 200, 10000 images, 3 epochs)`);
    const { model, steps } = await trainInNode(10000, 200, 3);
    checkpoint = join(scratch, "model.safetensors");
    saveModel(checkpoint, model, { epoch: 3, step: steps, hyper: { hidden: 200, batch: TRAIN.batch, lr: TRAIN.lr, seed: TRAIN.seed, limit: 10000 } });
  }
}

const explorer = await startExplorer({ checkpoint, port: 0 });
const untrained = await startExplorer({ port: 0, cwd: scratch });
const chromium = await launchChromium({ width: 1240, height: 1500 });
const { page } = chromium;
type W = { __explorer: { ready: boolean; errors: string[]; drawn: { elbo: unknown; exact: unknown; seq: number } | null; plot: { posteriorSeq: number | null }; training: { state: string; imagesPerSecond: number }; latentToClient(a: number, b: number): { x: number; y: number } } };
const ready = () => page.waitForFunction(() => (window as unknown as W).__explorer?.ready || (window as unknown as W).__explorer?.errors.length > 0, null, { timeout: 120_000 });
const shot = async (name: string, selector?: string) => {
  const path = join(out, name);
  if (selector) await page.locator(selector).screenshot({ path });
  else await page.screenshot({ path, fullPage: true });
  console.log(`wrote ${path}`);
};
const drawn = async (strokes: [number, number][][]) => {
  await page.click("#clear");
  for (const s of strokes) await drawStroke(page, "#pad", s);
  await page.waitForFunction(() => (window as unknown as W).__explorer.drawn?.elbo != null && !/computing|…/.test(document.getElementById("t-elbo")!.textContent ?? ""), null, { timeout: 60_000 });
  // Then its log p(x) from the worker, and the latent plot redrawn with its posterior.
  await page.waitForFunction(() => { const e = (window as unknown as W).__explorer; return e.drawn?.exact != null && e.plot.posteriorSeq === e.drawn.seq; }, null, { timeout: 120_000 });
};

try {
  // 1. No checkpoint: the page says how to get one.
  await page.goto(untrained.url);
  await ready();
  await page.screenshot({ path: join(out, "untrained.png"), clip: { x: 0, y: 0, width: 1240, height: 720 } });
  console.log(`wrote ${join(out, "untrained.png")}`);

  // 2. A trained model: the pointer on the scatter, a drawn digit.
  await page.goto(explorer.url);
  await ready();
  await drawn(THREE);
  const p = await page.evaluate(() => (window as unknown as W).__explorer.latentToClient(-0.9, 0.4));
  await page.mouse.move(p.x, p.y);
  await page.waitForTimeout(100); // one animation frame for the decoded image
  await shot("explorer.png");
  await shot("latent.png", "#latent-panel");
  await shot("manifold.png", "#manifold-panel");
  await drawn(SEVEN);
  await shot("draw.png", "#draw-panel");

  // 3. Training in the page.
  await page.fill("#opt-images", String(TRAIN.images));
  await page.fill("#opt-hidden", String(TRAIN.hidden));
  await page.fill("#opt-epochs", String(TRAIN.epochs));
  await page.click("#train");
  await page.waitForFunction(() => ["done", "error"].includes((window as unknown as W).__explorer.training.state), null, { timeout: 600_000, polling: 500 });
  const browserRate = await page.evaluate(() => (window as unknown as W).__explorer.training.imagesPerSecond);
  await shot("train.png", "#train-panel");
  await shot("explorer-trained.png");
  const errors = [...chromium.errors, ...(await page.evaluate(() => (window as unknown as W).__explorer.errors))];
  if (errors.length) console.log(`page errors:\n  ${errors.join("\n  ")}`);

  const node = await trainInNode(TRAIN.images, TRAIN.hidden, TRAIN.epochs);
  console.log(`training speed, hidden ${TRAIN.hidden}, ${TRAIN.images} images, batch ${TRAIN.batch}, ${TRAIN.epochs} epochs: ` +
    `browser worker ${browserRate.toFixed(0)} images/s, Node ${node.imagesPerSecond.toFixed(0)} images/s`);
} finally {
  await chromium.close();
  await explorer.close();
  await untrained.close();
  rmSync(scratch, { recursive: true, force: true });
}
