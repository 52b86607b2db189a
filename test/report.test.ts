import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { posteriorWindow } from "../src/charts/index.js";
import { encodePng, imageGridPng } from "../src/node/png.js";
import { renderReport, writeReport, type ReportData } from "../src/node/report.js";

function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const SIDE = 8;

function synthetic(points = 500): ReportData {
  const r = rng(1);
  const images = (k: number) => Float32Array.from({ length: k * SIDE * SIDE }, r);
  return {
    title: "test <report> & co",
    metrics: [1, 2, 3].map((epoch) => ({ epoch, trainElbo: -200 + 10 * epoch, testElbo: -205 + 9 * epoch, seconds: 12.5 })),
    latent: { means: Float64Array.from({ length: 2 * points }, () => 6 * r() - 3), labels: Uint8Array.from({ length: points }, (_, i) => i % 10) },
    manifold: { images: images(9), grid: 3, side: SIDE },
    reconstructions: { originals: images(4), recon: images(4), count: 4, side: SIDE },
    samples: { images: images(4), count: 4, side: SIDE },
    part3: { elbo: -123.456, stderr: 0.789, logPrior: -3.2109, logLikelihood: -119.87, negLogQ: -0.3761, encoderMean: [0.12345, -0.5], samples: 1000, index: 7 },
    final: { testElbo: -150.104, iwae: -145.2, iwaeK: 5000, iwaeImages: 1000 },
    config: { hidden: 500, seed: 42, lr: 0.001, note: "<b>bold</b>" },
  };
}

const pngs = (html: string) => [...html.matchAll(/data:image\/png;base64,([A-Za-z0-9+/=]+)/g)].map((m) => PNG.sync.read(Buffer.from(m[1]!, "base64")));
const svgs = (html: string) => html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
const scatterPoints = (html: string) => {
  const svg = svgs(html).at(-1)!;
  const start = svg.indexOf('class="mark-symbol role-mark');
  return svg.slice(start, svg.indexOf("</g>", start)).split("<path").length - 1;
};

describe("imageGridPng", () => {
  it("draws ink black, paper white and gaps gray, scaled by nearest neighbour", () => {
    const images = new Float32Array(2 * 4).fill(1).fill(0, 4); // two 2×2 images: all ink, all paper
    const png = PNG.sync.read(Buffer.from(imageGridPng(images, 2, 2, { side: 2, pad: 1, scale: 3 })));
    expect([png.width, png.height]).toEqual([(2 * 3 + 1) * 3, (3 + 1) * 3]);
    const at = (x: number, y: number) => [...png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 4)];
    expect(at(3, 3)).toEqual([0, 0, 0, 255]);
    expect(at(8, 8)).toEqual([0, 0, 0, 255]);
    expect(at(12, 3)).toEqual([255, 255, 255, 255]);
    expect(at(0, 0)).toEqual([200, 200, 200, 255]);
    expect(at(9, 3)).toEqual([200, 200, 200, 255]);
  });

  it("maps intermediate values to gray and clamps out-of-range ones", () => {
    const png = PNG.sync.read(Buffer.from(imageGridPng(Float64Array.of(0.5, -1, 2, Number.NaN), 1, 1, { side: 2, pad: 0, scale: 1 })));
    expect([...png.data].filter((_, i) => i % 4 === 0)).toEqual([128, 255, 0, 255]);
  });

  it("encodePng writes a PNG that pngjs decodes to the same pixels (random RGBA, odd sizes)", () => {
    const r = rng(7);
    for (const [w, h] of [[7, 5], [1, 1], [300, 2]] as const) {
      const rgba = Uint8Array.from({ length: w * h * 4 }, () => Math.floor(256 * r()));
      const png = PNG.sync.read(Buffer.from(encodePng(w, h, rgba))); // pngjs checks the chunks' CRCs
      expect([png.width, png.height]).toEqual([w, h]);
      expect(Buffer.compare(png.data, Buffer.from(rgba))).toBe(0);
    }
  });

  it("rejects too little data", () => {
    expect(() => imageGridPng(new Float32Array(10), 1, 1, { side: 4 })).toThrow(/need 16 values/);
    expect(() => encodePng(2, 2, new Uint8Array(15))).toThrow(/needs 16 bytes/);
  });
});

describe("renderReport", () => {
  it("renders a self-contained page with both charts, decodable images and the summary numbers", async () => {
    const html = await renderReport(synthetic());
    expect(svgs(html)).toHaveLength(2);
    expect(html).toContain("ELBO (nats per image)");
    expect(html).toContain("z₁");
    expect(scatterPoints(html)).toBe(500);

    const sizes = pngs(html).map((p) => [p.width, p.height]);
    expect(sizes).toEqual([
      [3 * SIDE * 2, 3 * SIDE * 2], // manifold: 3×3, no padding, scale 2
      [(4 * (SIDE + 2) + 2) * 2, (2 * (SIDE + 2) + 2) * 2], // originals over reconstructions
      [(2 * (SIDE + 2) + 2) * 2, (2 * (SIDE + 2) + 2) * 2], // 2×2 samples
    ]);

    expect(html).not.toMatch(/<script|<link|@import|url\(\s*["']?(?!#)/i);
    expect(html).not.toMatch(/\b(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i);
    expect(html).not.toMatch(/<img[^>]+src="(?!data:image\/png;base64,)/);

    for (const s of ["-123.46 ± 0.79", "#7", "1000 draws", "-3.21", "-119.87", "-0.38", "(0.1235, -0.5000)", "-150.10", "-145.20", "K = 5000", "1000 test images", "0.001"]) {
      expect(html).toContain(s);
    }
    expect(html).toContain("test &#60;report&#62; &#38; co");
    expect(html).toContain("&#60;b&#62;bold&#60;/b&#62;");
    expect(html).not.toContain("<b>bold</b>");
  });

  it("copes with no epochs, no latent points and no optional parts", async () => {
    const { part3, final, config, ...rest } = synthetic();
    const latent = { means: new Float32Array(0), labels: new Uint8Array(0) };
    const html = await renderReport({ ...rest, metrics: [], latent, samples: { ...rest.samples, count: 0 } });
    expect(svgs(html)).toHaveLength(0);
    expect(html).toContain("no epochs yet");
    expect(html).toContain("no latent points");
    expect(pngs(html)).toHaveLength(2);
    expect(html).not.toMatch(/IWAE|Configuration/);
  });

  it("rejects latent means that do not match the labels", async () => {
    const data = synthetic();
    await expect(renderReport({ ...data, latent: { means: new Float32Array(3), labels: new Uint8Array(2) } })).rejects.toThrow(/2 labels need 4 means/);
  });

  it("draws every point of a 10,000-point scatter", async () => {
    const data = { ...synthetic(10_000), metrics: [] };
    const html = await renderReport(data);
    expect(scatterPoints(html)).toBe(10_000);
  }, 20_000);
});

describe("writeReport", () => {
  it("writes the page and leaves no temporary file", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "report-"));
    try {
      const file = path.join(dir, "report.html");
      await writeReport(file, synthetic());
      expect(fs.readFileSync(file, "utf8")).toMatch(/^<!DOCTYPE html>/);
      expect(fs.readdirSync(dir)).toEqual(["report.html"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("renderReport: the truth behind the bounds", () => {
  // A Gaussian posterior with covariance R(30°) diag(0.04, 0.01) R(30°)ᵀ around the mode (0.3, 0.6), on a 40×40 grid.
  const theta = Math.PI / 6;
  const [c, s] = [Math.cos(theta), Math.sin(theta)];
  const cov: [number, number, number, number] = [0.04 * c * c + 0.01 * s * s, (0.04 - 0.01) * c * s, (0.04 - 0.01) * c * s, 0.04 * s * s + 0.01 * c * c];
  const n = 40;
  const box = { z1: [-1, 1] as [number, number], z2: [-0.5, 1.5] as [number, number] };
  const logPosterior = new Float64Array(n * n);
  const det = cov[0] * cov[3] - cov[1] * cov[2];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const [d1, d2] = [-1 + (j + 0.5) * 0.05 - 0.3, -0.5 + (i + 0.5) * 0.05 - 0.6];
      logPosterior[i * n + j] = -0.5 * (cov[3] * d1 * d1 - 2 * cov[1] * d1 * d2 + cov[0] * d2 * d2) / det - Math.log(2 * Math.PI * Math.sqrt(det));
    }
  }
  const posterior = (which: string, index: number) => ({ which, index, label: 3, gap: 1.5, logMarginal: -100, elbo: -101.5, laplace: -100.01, box, points: n, logPosterior, encoderMean: [0, 0.2] as [number, number], qStd: [0.1, 0.1] as [number, number], mode: [0.3, 0.6] as [number, number], laplaceCovariance: cov });
  const data = (): ReportData => ({
    ...synthetic(),
    exact: {
      images: 20, elbo: -101.234, iwae: { 1: -101.3, 10: -100.9, 100: -100.5, 1000: -100.3, 5000: -100.25 }, laplace: -100.01, logMarginal: -100.123, logMarginalError: 1e-4, logMarginalMaxError: 3e-3,
      gap: 1.111, gapMin: 0.2, gapMedian: 1.0, gapMax: 4.5,
      posteriors: [posterior("smallest gap", 4), posterior("median gap", 9), posterior("largest gap", 17)],
    },
  });
  const attr = (el: string, name: string) => Number(new RegExp(`\\b${name}="(-?[\\d.]+)"`).exec(el)![1]);

  it("adds the bounds against K, the summary table on the same images and three posterior maps", async () => {
    const html = await renderReport(data());
    expect(html).toContain("The truth behind the bounds");
    expect(html).toContain("K, importance samples (log scale)");
    for (const v of ["-101.234", "-100.250", "-100.010", "-100.123", "1.111", "smallest 0.200", "largest 4.500", "same first 20 test images"]) expect(html).toContain(v);
    const maps = [...html.matchAll(/<div class="posterior-cell"[\s\S]*?<\/svg>/g)].map((m) => m[0]);
    expect(maps).toHaveLength(3);
    for (const which of ["smallest gap: test image 4 (a 3)", "median gap: test image 9", "largest gap: test image 17"]) expect(html).toContain(which);
  });

  it("draws each posterior with the shared chart (src/charts' posteriorSpec): heat map, q's and Laplace's 1σ and 2σ ellipses, g(x)'s × and the mode's +, the darkest cell under the +", async () => {
    const html = await renderReport(data());
    const map = /<div class="posterior-cell"[\s\S]*?<\/svg>/.exec(html)![0];
    const groups = (name: string) => [...map.matchAll(new RegExp(`<g class="mark-[a-z]+ role-mark ${name}_marks"[^>]*>([\\s\\S]*?)</g>`, "g"))].map((m) => m[1]);
    expect(groups("q_ellipses")).toHaveLength(2);
    expect(groups("laplace_ellipses")).toHaveLength(2);
    expect(groups("encoder_mean")).toHaveLength(1);
    const [mx, my] = /translate\((-?[\d.]+),(-?[\d.]+)\)/.exec(groups("mode")[0])!.slice(1).map(Number);
    const cells = [...groups("posterior_heat")[0].matchAll(/d="M(-?[\d.]+),(-?[\d.]+)h(-?[\d.]+)v(-?[\d.]+)[^"]*" fill="rgb\((\d+), (\d+), (\d+)\)"/g)].map((m) => m.slice(1).map(Number));
    const darkest = cells.reduce((a, b) => (b[4] + b[5] + b[6] < a[4] + a[5] + a[6] ? b : a));
    // Within one quadrature cell (0.05 of z) and one heat cell of the mode.
    const w = posteriorWindow(data().exact!.posteriors[0]);
    const pxPerZ = (Math.abs(darkest[2]) * 72) / (w.z1[1] - w.z1[0]); // 72 heat cells across the window
    expect(Math.abs(darkest[0] + darkest[2] / 2 - mx)).toBeLessThan(0.05 * pxPerZ + Math.abs(darkest[2]));
    expect(Math.abs(darkest[1] + darkest[3] / 2 - my)).toBeLessThan(0.05 * pxPerZ + Math.abs(darkest[3]));
  });
});
