// The shared charts (src/charts): the specifications carry the data they are given (checked against closed
// forms computed here: a Gaussian posterior of known axes, ellipses as level sets of its quadratic form), and
// vega renders them in Node to SVG with the expected marks where they belong.
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { HEAT_FLOOR, boundsSpec, chartSvg, elboCurveSpec, ellipsePoints, exactRows, exactRowsText, latentLimit, latentSpec, lineChartSpec, posteriorSpec, posteriorWindow, type PosteriorGrid } from "../src/charts/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// A Gaussian posterior N(mode, Σ) with Σ = R(30°) diag(0.04, 0.01) R(30°)ᵀ: its axes are known without any
// eigen-solver, v₁ = (cos 30°, sin 30°) with variance 0.04 and v₂ = (−sin 30°, cos 30°) with 0.01.
const theta = Math.PI / 6;
const [c, s] = [Math.cos(theta), Math.sin(theta)];
const [l1, l2] = [0.04, 0.01];
const v1 = [c, s];
const v2 = [-s, c];
const cov: [number, number, number, number] = [l1 * c * c + l2 * s * s, (l1 - l2) * c * s, (l1 - l2) * c * s, l1 * s * s + l2 * c * c];
/** dᵀ Σ⁻¹ d with Σ⁻¹ = R diag(1/λ) Rᵀ. */
const quad = (d1: number, d2: number) => (d1 * v1[0] + d2 * v1[1]) ** 2 / l1 + (d1 * v2[0] + d2 * v2[1]) ** 2 / l2;
const mode: [number, number] = [0.3, 0.6];

function gaussianPosterior(n: number, qStd: [number, number] = [0.1, 0.1]): PosteriorGrid {
  const box = { z1: [-1, 1] as [number, number], z2: [-0.5, 1.5] as [number, number] };
  const h = 2 / n;
  const logPosterior = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) logPosterior[i * n + j] = -0.5 * quad(box.z1[0] + (j + 0.5) * h - mode[0], box.z2[0] + (i + 0.5) * h - mode[1]) - Math.log(2 * Math.PI * Math.sqrt(l1 * l2));
  return { box, points: n, logPosterior, encoderMean: [0, 0.2], qStd, mode, laplaceCovariance: cov };
}

type Layer = { name?: string; data: { values: Record<string, number | string | null>[] }; encoding?: Record<string, any>; mark: any };
const layers = (spec: object) => (spec as { layer: Layer[] }).layer;
const layer = (spec: object, name: string) => {
  const found = layers(spec).find((l) => l.name === name);
  if (!found) throw new Error(`no layer ${name}`);
  return found;
};
const ring = (l: Layer, k: string) => l.data.values.filter((v) => v.ring === k) as { z1: number; z2: number; i: number }[];

describe("posteriorSpec", () => {
  it("draws q(z|x)'s ellipses at k·qStd around the encoder mean, on each axis", () => {
    const p = gaussianPosterior(40, [0.1, 0.25]);
    const q = layer(posteriorSpec(p), "q_ellipses");
    for (const [k, label] of [[1, "1σ"], [2, "2σ"]] as const) {
      const pts = ring(q, label);
      expect(pts.length).toBeGreaterThan(60);
      for (const { z1, z2 } of pts) expect(Math.hypot((z1 - 0) / 0.1, (z2 - 0.2) / 0.25)).toBeCloseTo(k, 9);
      expect(Math.max(...pts.map((pt) => Math.abs(pt.z1)))).toBeCloseTo(k * 0.1, 9);
      expect(Math.max(...pts.map((pt) => Math.abs(pt.z2 - 0.2)))).toBeCloseTo(k * 0.25, 9);
      expect(pts[0]).toMatchObject({ z1: pts.at(-1)!.z1, z2: pts.at(-1)!.z2 }); // closed
    }
  });

  it("draws the Laplace ellipses along the covariance's eigenvectors, with half-axes k·√λ", () => {
    const lap = layer(posteriorSpec(gaussianPosterior(40)), "laplace_ellipses");
    for (const [k, label] of [[1, "1σ"], [2, "2σ"]] as const) {
      const pts = ring(lap, label);
      for (const { z1, z2 } of pts) expect(quad(z1 - mode[0], z2 - mode[1])).toBeCloseTo(k * k, 9);
      const along = (v: number[]) => Math.max(...pts.map(({ z1, z2 }) => Math.abs((z1 - mode[0]) * v[0] + (z2 - mode[1]) * v[1])));
      expect(along(v1)).toBeCloseTo(k * Math.sqrt(l1), 9);
      expect(along(v2)).toBeCloseTo(k * Math.sqrt(l2), 9);
    }
  });

  it("puts g(x)'s × and the mode's + where they are, and a heat map of p(z|x) / its peak over a square window", () => {
    const p = gaussianPosterior(200);
    const spec = posteriorSpec(p);
    expect(layer(spec, "encoder_mean").data.values).toEqual([{ z1: 0, z2: 0.2 }]);
    expect(layer(spec, "mode").data.values).toEqual([{ z1: 0.3, z2: 0.6 }]);
    const w = posteriorWindow(p);
    expect(w.z1[1] - w.z1[0]).toBeCloseTo(w.z2[1] - w.z2[0], 12);
    // The window holds q's 2σ circle and the posterior's mass out to e⁻¹⁰ of the peak: 2√10·√λ₁ along v₁.
    for (const [z1, z2] of [[0, 0.2 - 0.2], [0.2, 0.2], [mode[0] + Math.sqrt(20 * l1) * v1[0], mode[1] + Math.sqrt(20 * l1) * v1[1]]]) {
      expect(z1).toBeGreaterThan(w.z1[0]);
      expect(z1).toBeLessThan(w.z1[1]);
      expect(z2).toBeGreaterThan(w.z2[0]);
      expect(z2).toBeLessThan(w.z2[1]);
    }
    const cells = layer(spec, "posterior_heat").data.values as { z1: number; z1b: number; z2: number; z2b: number; t: number }[];
    const width = (w.z1[1] - w.z1[0]) / 72;
    let worst = 0;
    for (const cell of cells) {
      expect(cell.z1b - cell.z1).toBeCloseTo(width, 12);
      expect(cell.t).toBeGreaterThanOrEqual(HEAT_FLOOR);
      // The closed-form density ratio at the cell's centre; the quadrature grid's cells are 0.01 wide.
      worst = Math.max(worst, Math.abs(cell.t - Math.exp(-0.5 * quad((cell.z1 + cell.z1b) / 2 - mode[0], (cell.z2 + cell.z2b) / 2 - mode[1]))));
    }
    expect(worst).toBeLessThan(0.05);
    // The cells cover the ellipse {t ≥ floor}: area π·√(λ₁λ₂)·2·ln(1/floor).
    const area = Math.PI * Math.sqrt(l1 * l2) * 2 * Math.log(1 / HEAT_FLOOR);
    expect(cells.length * width * width).toBeGreaterThan(0.95 * area);
    expect(cells.length * width * width).toBeLessThan(1.05 * area);
  });

  it("leaves out the Laplace ellipses where there is no Laplace Gaussian, and refuses a covariance that is not positive definite", () => {
    const { laplaceCovariance: _, ...p } = gaussianPosterior(20);
    expect(layers(posteriorSpec(p)).map((l) => l.name)).toEqual(["posterior_heat", "q_ellipses", "encoder_mean", "mode"]);
    expect(() => ellipsePoints([0, 0], [1, 2, 2, 1], 1)).toThrow(/ellipsePoints: the covariance \[1, 2, 2, 1\] is not positive definite/);
  });

  it("renders to SVG in Node: the heat map's darkest cell under the mode's +, q's circle around the ×, Laplace's long axis at 30°", async () => {
    const svg = await chartSvg(posteriorSpec(gaussianPosterior(200)));
    // Every group of the named layer's marks (a line per ring is a group of its own).
    const group = (name: string) => {
      const found = [...svg.matchAll(new RegExp(`<g class="mark-[a-z]+ role-mark ${name}_marks"[^>]*>([\\s\\S]*?)</g>`, "g"))].map((m) => m[1]);
      if (!found.length) throw new Error(`no ${name} marks in the SVG`);
      return found.join("");
    };
    const translate = (g: string) => /translate\((-?[\d.]+),(-?[\d.]+)\)/.exec(g)!.slice(1).map(Number);
    const linePoints = (g: string) => [...g.matchAll(/d="M([^"]+)"/g)].map((m) => m[1].split("L").map((xy) => xy.split(",").map(Number)));
    const [mx, my] = translate(group("mode"));
    const [gx, gy] = translate(group("encoder_mean"));
    const cells = [...group("posterior_heat").matchAll(/d="M(-?[\d.]+),(-?[\d.]+)h(-?[\d.]+)v(-?[\d.]+)[^"]*" fill="rgb\((\d+), (\d+), (\d+)\)"/g)].map((m) => m.slice(1).map(Number));
    expect(cells.length).toBeGreaterThan(500);
    const darkest = cells.reduce((a, b) => (b[4] + b[5] + b[6] < a[4] + a[5] + a[6] ? b : a));
    expect(Math.abs(darkest[0] + darkest[2] / 2 - mx)).toBeLessThan(1.5 * Math.abs(darkest[2]));
    expect(Math.abs(darkest[1] + darkest[3] / 2 - my)).toBeLessThan(1.5 * Math.abs(darkest[3]));
    // g(x) = (0, 0.2) and ẑ = (0.3, 0.6) are 0.5 apart: five radii of q's 1σ circle (0.1).
    const [q1, q2] = linePoints(group("q_ellipses"));
    const radius = (pts: number[][], x: number, y: number) => Math.max(...pts.map(([px, py]) => Math.hypot(px - x, py - y)));
    const r1 = radius(q1, gx, gy);
    expect(Math.hypot(mx - gx, my - gy) / r1).toBeCloseTo(5, 1);
    expect(radius(q2, gx, gy) / r1).toBeCloseTo(2, 1);
    expect(gx).toBeLessThan(mx); // z₁ grows to the right
    expect(gy).toBeGreaterThan(my); // z₂ grows upwards
    // The Laplace 1σ ellipse reaches √0.04 = 2 radii of q's circle, 30° above the horizontal.
    const [lap1] = linePoints(group("laplace_ellipses"));
    const far = lap1.reduce((a, b) => (Math.hypot(b[0] - mx, b[1] - my) > Math.hypot(a[0] - mx, a[1] - my) ? b : a));
    expect(Math.hypot(far[0] - mx, far[1] - my) / r1).toBeCloseTo(2, 1);
    const angle = (Math.atan2(-(far[1] - my), far[0] - mx) * 180) / Math.PI;
    expect(Math.min(Math.abs(angle - 30), Math.abs(angle + 150))).toBeLessThan(2);
  });
});

describe("latentSpec", () => {
  const means = Float32Array.from({ length: 2 * 300 }, (_, i) => Math.sin(i * 1.7) * 2.5);
  const labels = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 10);

  it("plots the given means with their digits, on one fixed scale for both axes when given a limit", () => {
    const spec = latentSpec(means, labels, { lim: 3, box: 1.5 });
    const points = layer(spec, "points").data.values;
    expect(points).toHaveLength(300);
    points.forEach((p, i) => expect(p).toEqual({ z1: means[2 * i], z2: means[2 * i + 1], digit: labels[i] }));
    const enc = (spec as { encoding: Record<string, any> }).encoding;
    expect(enc.x.scale.domain).toEqual([-3, 3]);
    expect(enc.y.scale.domain).toEqual([-3, 3]);
    expect(layer(spec, "manifold_box").data.values.map((v) => [v.z1, v.z2])).toEqual([[-1.5, -1.5], [1.5, -1.5], [1.5, 1.5], [-1.5, 1.5], [-1.5, -1.5]]);
    expect(layers(latentSpec(means, labels)).map((l) => l.name)).toEqual(["points"]);
    expect(() => latentSpec(new Float32Array(3), new Uint8Array(2))).toThrow(/2 labels need 4 means, got 3/);
  });

  it("adds a posterior over the points on a backdrop of its window, its density as opacity", () => {
    const p = gaussianPosterior(40);
    const spec = latentSpec(means, labels, { lim: 3, posterior: p });
    expect(layers(spec).map((l) => l.name)).toEqual(["points", "posterior_window", "posterior_heat", "q_ellipses", "laplace_ellipses", "encoder_mean", "mode"]);
    expect(layer(spec, "posterior_heat").encoding!.opacity.field).toBe("t");
    const w = posteriorWindow(p);
    expect(layer(spec, "posterior_window").data.values).toEqual([{ z1: w.z1[0], z1b: w.z1[1], z2: w.z2[0], z2b: w.z2[1] }]);
  });

  it("latentLimit: the 99.5% quantile of |z| with 8% room, rounded up to a half, within [2, 100]", () => {
    const z = Float64Array.from({ length: 2000 }, (_, i) => (i % 2 ? -1 : 1) * (i / 2000) * 4); // |z| uniform on [0, 4)
    const q = [...z].map(Math.abs).sort((a, b) => a - b)[1990];
    expect(latentLimit(z)).toBe(Math.ceil(q * 1.08 * 2) / 2);
    expect(latentLimit(new Float32Array([0.1, -0.2]))).toBe(2);
    expect(latentLimit(new Float32Array([1e4, 0]))).toBe(100);
  });

  it("renders every point to the SVG", async () => {
    const svg = await chartSvg(latentSpec(means, labels, { lim: 3, box: 1.5 }));
    const start = svg.indexOf("points_marks");
    expect(svg.slice(start, svg.indexOf("</g>", start)).split("<path").length - 1).toBe(300);
    expect(svg).toContain("manifold_box_marks");
    expect(svg).toContain("z₁");
  });
});

describe("elboCurveSpec, boundsSpec, lineChartSpec", () => {
  it("the ELBO curve: train and test per epoch without non-finite values; with minibatches, a y range without their lowest 3%", () => {
    const epochs = [{ epoch: 0, trainElbo: NaN, testElbo: -540 }, { epoch: 1, trainElbo: -200, testElbo: -190 }];
    const plain = elboCurveSpec({ epochs });
    expect(layer(plain, "epochs").data.values).toEqual([{ epoch: 0, set: "test", elbo: -540 }, { epoch: 1, set: "train", elbo: -200 }, { epoch: 1, set: "test", elbo: -190 }]);
    const steps = Array.from({ length: 100 }, (_, i) => ({ epoch: i / 100, elbo: i < 3 ? -1000 - i : -200 + i / 10 }));
    const live = elboCurveSpec({ epochs: [{ epoch: 1, trainElbo: -195, testElbo: -190 }], steps, xMax: 4, labels: { test: "test (first 100)" } });
    expect(layer(live, "minibatches").data.values).toHaveLength(100);
    const enc = (live as { encoding: Record<string, any> }).encoding;
    // The lowest 3 steps (−1000…) are out; the range is [−199.7, −190.1] padded by max(1, 6%).
    expect(enc.y.scale.domain).toEqual([-199.7 - 1, -190 + 1]);
    expect(enc.x.scale.domain).toEqual([0, 4]);
    expect(layer(live, "epochs").encoding!.color.scale.domain).toEqual(["minibatch", "train", "test (first 100)"]);
  });

  it("the bounds against K: one point per K, and log p(x), Laplace and the ELBO as rules", () => {
    const spec = boundsSpec({ images: 5, elbo: -3, iwae: { 100: -2.2, 1: -2.9, 10: -2.5 }, laplace: -2.05, logMarginal: -2 });
    expect(layer(spec, "iwae").data.values.map((v) => [v.K, v.bound])).toEqual([[1, -2.9], [10, -2.5], [100, -2.2]]);
    expect(layer(spec, "exact").data.values.map((v) => v.value)).toEqual([-2, -2.05, -3]);
  });

  it("the line chart: a row per x and series, gaps for non-finite values, a zero rule only when the range crosses 0", () => {
    const spec = lineChartSpec([0, 1, 2], [{ name: "f", ys: [1, NaN, -1], color: "red" }], { title: "t" });
    expect(layer(spec, "series").data.values).toEqual([{ x: 0, y: 1, series: "f" }, { x: 1, y: null, series: "f" }, { x: 2, y: -1, series: "f" }]);
    expect(layers(spec).map((l) => l.name)).toEqual(["series", "zero"]);
    expect(layers(lineChartSpec([0, 1], [{ name: "g", ys: [1, 2], color: "red" }])).map((l) => l.name)).toEqual(["series"]);
    expect(() => lineChartSpec([0, 1], [{ name: "g", ys: [1], color: "red" }])).toThrow(/series g has 1 values for 2 xs/);
  });
});

describe("exactRows", () => {
  it("lays out ELBO, IWAE_K by K, Laplace, log p(x) and the gap, with notes", () => {
    const rows = exactRows({ elbo: -101.23456, iwae: { 10: -100.5, 1: -101 }, laplace: -100.2, logMarginal: -100.1, logMarginalError: 2e-4, logMarginalMaxError: 3e-3, gap: 1.13456, gapMin: 0.2, gapMedian: 1, gapMax: 4.5 });
    expect(rows.map((r) => [r.label, r.formatted])).toEqual([
      ["ELBO (quadrature)", "-101.2346"], ["IWAE K = 1", "-101.0000"], ["IWAE K = 10", "-100.5000"], ["Laplace", "-100.2000"], ["log p(x) (quadrature)", "-100.1000"], ["gap log p(x) − ELBO", "1.1346"],
    ]);
    expect(rows[4].note).toBe("error estimate: mean 2.0e-4, largest 3.0e-3");
    expect(rows[5].note).toBe("= KL(q(z|x) ‖ p(z|x)); per image: smallest 0.2000, median 1.0000, largest 4.5000");
    const one = exactRowsText({ elbo: -2, logMarginal: -1, logMarginalError: 1e-5, gap: 1, points: 64, mode: [0.1, 0.2], laplace: -1.1 });
    expect(one).toBe(
      "  ELBO (quadrature)          -2.0000  (no Monte Carlo noise)\n" +
        "  Laplace                    -1.1000  (at the mode ẑ = (0.1000, 0.2000))\n" +
        "  log p(x) (quadrature)      -1.0000  (error estimate 1.0e-5, 64×64 grid)\n" +
        "  gap log p(x) − ELBO         1.0000  (= KL(q(z|x) ‖ p(z|x)))\n",
    );
  });
});

it("src/charts imports nothing from Node (it is bundled into the explorer's page)", async () => {
  const { metafile } = await build({ entryPoints: [join(root, "src/charts/index.ts")], bundle: true, write: false, metafile: true, platform: "neutral", format: "esm", logLevel: "silent", external: ["vega", "vega-lite"] });
  const imports = Object.values(metafile.inputs).flatMap((input) => input.imports.map((i) => i.path));
  expect(Object.keys(metafile.inputs).every((f) => f.startsWith("src/charts/"))).toBe(true);
  expect(imports.filter((p) => !p.startsWith("src/charts/") && p !== "vega" && p !== "vega-lite")).toEqual([]);
});
