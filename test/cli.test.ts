import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/vae.js";
import { decodeSafetensors, encodeSafetensors } from "../src/nn/safetensors.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "vae-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const at = (name: string) => path.join(tmp, name);

/** Runs the command line in-process; `onErr` sees every stderr write. */
async function vae(argv: string[], onErr?: (text: string) => void) {
  let out = "";
  let err = "";
  const code = await main(argv, {
    out: (s) => void (out += s),
    err: (s) => {
      err += s;
      onErr?.(s);
    },
    isTTY: false,
  });
  return { code, out, err };
}

const TINY = ["--hidden", "12", "--batch", "50", "--limit", "200", "--test-limit", "100", "--seed", "3"];

describe("vae elbo", () => {
  it("--json prints one object with the ELBO, its terms and the 2-vector g(x)", async () => {
    const { code, out } = await vae(["elbo", "--index", "0", "--json"]);
    expect(code).toBe(0);
    expect(out.trim().split("\n")).toHaveLength(1);
    const r = JSON.parse(out);
    for (const key of ["elbo", "stderr", "logPrior", "logLikelihood", "negLogQ", "encoderMean"]) expect(r).toHaveProperty(key);
    expect(r.elbo).toBeGreaterThan(-1000);
    expect(r.elbo).toBeLessThan(-100);
    expect(r.stderr).toBeGreaterThan(0);
    expect(r.elbo).toBeCloseTo(r.logPrior + r.logLikelihood + r.negLogQ, 3);
    expect(r.encoderMean).toHaveLength(2);
    expect(r.label).toBe(5);
  });

  it("prints the ELBO ± its standard error, the three terms, g(x) and the note on the seed's 2-vector", async () => {
    const { code, out } = await vae(["elbo", "--hidden", "20", "--samples", "50"]);
    expect(code).toBe(0);
    for (const s of ["±", "E[log p(z)]", "E[log p(x|z)]", "E[-log q(z|x)]", "g(x)", "2-vector"]) expect(out).toContain(s);
  });

  it("on a checkpoint written by init, gives the same number as the same --seed", async () => {
    const file = at("init.safetensors");
    expect((await vae(["init", "--seed", "4", "--hidden", "30", "--out", file])).code).toBe(0);
    const fromFile = JSON.parse((await vae(["elbo", "--checkpoint", file, "--json", "--samples", "100"])).out);
    const fresh = JSON.parse((await vae(["elbo", "--seed", "4", "--hidden", "30", "--json", "--samples", "100"])).out);
    expect(fromFile.elbo).toBe(fresh.elbo);
    expect(fromFile.encoderMean).toEqual(fresh.encoderMean);
  });
});

describe("command line", () => {
  it("--help works at the top level and for each command", async () => {
    for (const argv of [["--help"], ["-h"], ...["init", "elbo", "train", "eval", "report"].map((c) => [c, "--help"])]) {
      const { code, out } = await vae(argv);
      expect(code, argv.join(" ")).toBe(0);
      expect(out).toMatch(/^usage: npm run vae --/);
    }
  });

  it("bad options and values exit with code 2 and one line naming the option", async () => {
    const cases: [string[], RegExp][] = [
      [["elbo", "--bogus"], /unknown option --bogus; allowed: --checkpoint/],
      [["elbo", "--split", "val"], /--split must be one of train, test/],
      [["elbo", "--samples", "x"], /--samples must be an integer/],
      [["elbo", "--index"], /--index needs a value/],
      [["train", "--out", at("x"), "--lr", "fast"], /--lr must be a positive number/],
      [["train", "--epochs", "2"], /--out is required/],
      [["frobnicate"], /unknown command "frobnicate"/],
    ];
    for (const [argv, message] of cases) {
      const { code, err } = await vae(argv);
      expect(code, argv.join(" ")).toBe(2);
      expect(err).toMatch(message);
      expect(err.trim().split("\n")).toHaveLength(1);
    }
  });

  it("a missing checkpoint says how to create one; a corrupt one names the file and the loader's complaint", async () => {
    const missing = await vae(["elbo", "--checkpoint", at("nope.safetensors")]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(at("nope.safetensors"));
    expect(missing.err).toContain("npm run vae -- init");
    const corrupt = at("corrupt.safetensors");
    writeFileSync(corrupt, "this is not a safetensors file");
    const bad = await vae(["eval", "--checkpoint", corrupt]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(`${corrupt}: header length`);
  });
});

describe("vae train, eval, report", () => {
  const run = at("run");

  it("train writes metrics.jsonl, model.safetensors and train-state.safetensors", async () => {
    const { code, err } = await vae(["train", "--epochs", "1", "--out", run, ...TINY]);
    expect(code, err).toBe(0);
    expect(err).toMatch(/epoch 1\/1 {2}batch 4\/4 {2}\d+ img\/s {2}ETA \S+ {2}train ELBO -\d+/);
    const lines = readFileSync(path.join(run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    for (const key of ["epoch", "trainElbo", "testElbo", "seconds", "imagesPerSecond"]) expect(Number.isFinite(lines[0][key]), key).toBe(true);
    expect(existsSync(path.join(run, "model.safetensors"))).toBe(true);
    expect(existsSync(path.join(run, "train-state.safetensors"))).toBe(true);
  });

  it("--resume refuses different hyperparameters, naming the option", async () => {
    const { code, err } = await vae(["train", "--epochs", "2", "--out", run, "--resume", "--lr", "0.5"]);
    expect(code).toBe(2);
    expect(err).toMatch(/--lr is 0.5 but the run .* used 0.001/);
  });

  it("Ctrl-C saves mid-epoch and --resume ends bit-identical to an uninterrupted run", async () => {
    const straight = at("straight");
    expect((await vae(["train", "--epochs", "2", "--out", straight, ...TINY])).code).toBe(0);
    const stopped = at("stopped");
    let sent = false;
    const first = await vae(["train", "--epochs", "2", "--out", stopped, ...TINY], (s) => {
      if (!sent && s.includes("epoch 2/2  batch 1/4")) {
        sent = true;
        process.emit("SIGINT");
      }
    });
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/interrupted at epoch 2, batch 1\/4; saved .*train-state.safetensors/);
    expect(first.out).toContain("--resume");
    const resumed = await vae(["train", "--out", stopped, "--resume"]); // no --epochs: the run's own 2, not the default 10
    expect(resumed.code, resumed.err).toBe(0);
    expect(readFileSync(path.join(stopped, "model.safetensors"))).toEqual(readFileSync(path.join(straight, "model.safetensors")));
    const metrics = (dir: string) => readFileSync(path.join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).map(({ epoch, trainElbo, testElbo }) => ({ epoch, trainElbo, testElbo }));
    expect(metrics(stopped)).toEqual(metrics(straight));
  });

  it("--resume keeps the run's target epochs unless --epochs is given; an older file without one trains to the default, saying so", async () => {
    const dir = at("target");
    const epochsDone = () => readFileSync(path.join(dir, "metrics.jsonl"), "utf8").trim().split("\n").length;
    expect((await vae(["train", "--epochs", "2", "--out", dir, ...TINY])).code).toBe(0);
    const again = await vae(["train", "--out", dir, "--resume"]);
    expect([again.code, again.out]).toEqual([0, `${dir} already has 2 epochs (target 2, the run's own); nothing to do\n`]);
    expect((await vae(["train", "--epochs", "3", "--out", dir, "--resume"])).code).toBe(0); // --epochs extends it, and is the new target
    expect(epochsDone()).toBe(3);
    expect((await vae(["train", "--out", dir, "--resume"])).out).toContain("already has 3 epochs (target 3, the run's own)");
    // A train state written before the target was stored.
    const state = path.join(dir, "train-state.safetensors");
    const edit = (change: (m: Record<string, string>) => void) => {
      const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(state)), state);
      change(metadata);
      writeFileSync(state, encodeSafetensors(tensors, metadata));
    };
    edit((m) => void (m.targetEpochs = "0"));
    const bad = await vae(["train", "--out", dir, "--resume"]);
    expect([bad.code, bad.err]).toEqual([1, `vae train: error: ${state}: metadata "targetEpochs" must be a positive integer, got "0"\n`]);
    edit((m) => void delete m.targetEpochs);
    const old = await vae(["train", "--out", dir, "--resume"]);
    expect(old.code, old.err).toBe(0);
    expect(old.err).toContain(`note: ${state} does not record the run's target epochs (an older file); training to 10, the default (give --epochs to choose)\n`);
    expect(epochsDone()).toBe(10);
  }, 30_000);

  it("eval prints the test ELBO and the IWAE bound, which is the higher", async () => {
    const { code, out } = await vae(["eval", "--checkpoint", path.join(run, "model.safetensors"), "--limit", "50", "--iwae", "20", "--iwae-images", "50", "--json"]);
    expect(code).toBe(0);
    const r = JSON.parse(out);
    expect(r.images).toBe(50);
    expect(r.iwae).toBeGreaterThan(r.testElbo);
  });

  it("report writes an HTML page with the charts", async () => {
    const { code, out, err } = await vae(["report", "--run", run, "--iwae", "5", "--iwae-images", "10"]);
    expect(code, err).toBe(0);
    expect(out).toContain("report.html");
    const html = readFileSync(path.join(run, "report.html"), "utf8");
    expect(html).toContain("<svg");
    expect(html).toContain("data:image/png;base64,");
  }, 20_000);
});
