// Issue 9, items 2, 5, 6 and 7: a diverging run, a wrong file, a second process, a signal. The command
// line is spawned as a user runs it (node --import tsx src/cli/vae.ts …) on a few hundred images.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fullRunText, main } from "../src/cli/vae.js";
import { loadParameters, saveParameters } from "../src/nn/checkpoint.js";
import { decodeSafetensors, encodeSafetensors } from "../src/nn/safetensors.js";
import { Tensor } from "../src/tensor/tensor.js";
import { processAlive } from "../src/node/lock.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "vae-bad-day-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const at = (name: string) => path.join(tmp, name);

// 200 training images in 4 minibatches of 50, hidden 12: an epoch takes a few milliseconds.
const TINY = ["--hidden", "12", "--batch", "50", "--limit", "200", "--test-limit", "100", "--seed", "3"];
const env = { ...process.env, TSGRAD_THREADS: "1", npm_lifecycle_event: undefined };

interface Done { code: number | null; signal: NodeJS.Signals | null; out: string; err: string }

/** Spawns `vae args`; `onErr` sees stderr as it comes. */
function vae(args: string[], onErr?: (err: string, child: ChildProcess) => void): { child: ChildProcess; done: Promise<Done> } {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/vae.ts", ...args], { cwd: ROOT, env });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => void (out += d));
  child.stderr!.on("data", (d) => {
    err += d;
    onErr?.(err, child);
  });
  const done = new Promise<Done>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, out, err })));
  return { child, done };
}
const run = (args: string[]) => vae(args).done;

/** Runs the command line in this process (the same code as `vae`, without the start-up of a process): for messages. */
async function inProcess(argv: string[]): Promise<Done> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s), isTTY: false });
  return { code, signal: null, out, err };
}
const lastLine = (s: string) => s.trim().split("\n").at(-1);
const files = (dir: string) => Object.fromEntries(["model.safetensors", "train-state.safetensors", "metrics.jsonl"].map((f) => [f, readFileSync(path.join(dir, f))]));

/** Rewrites the tensors of a safetensors file with `edit`. */
function editTensors(file: string, edit: (tensors: ReturnType<typeof decodeSafetensors>["tensors"]) => void): void {
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(file)), file);
  edit(tensors);
  writeFileSync(file, encodeSafetensors(tensors, metadata));
}

describe("a diverging run stops at once (issue 9, item 2)", () => {
  it("train --lr 1e30 exits 1 at the first non-finite loss, naming the epoch, the batch and a smaller --lr, and writes no checkpoint", async () => {
    const dir = at("lr1e30");
    const r = await run(["train", "--out", dir, "--epochs", "3", ...TINY, "--lr", "1e30"]);
    expect(r.code, r.err).toBe(1);
    // Step 1 moves every weight by ~lr = 1e30; step 2's logits overflow float32 (max 3.4e38).
    expect(lastLine(r.err)).toBe(
      "vae train: error: training diverged at epoch 1, batch 2/4: the loss (the negative ELBO) is Infinity; try a smaller --lr (this run: --lr 1e+30). " +
        "Nothing was saved: no checkpoint had been written yet",
    );
    expect(r.err).not.toMatch(/train ELBO NaN|epoch 1:/);
    expect(existsSync(path.join(dir, "model.safetensors"))).toBe(false);
    expect(existsSync(path.join(dir, "train-state.safetensors"))).toBe(false);
  });

  it("a step that overflows after a checkpoint leaves the checkpoint and the metrics byte for byte", async () => {
    const dir = at("overflow");
    expect((await run(["train", "--out", dir, "--epochs", "1", ...TINY])).code).toBe(0);
    // Finite weights of 3e38 (float32's largest is 3.4e38): the next step's decoder logits overflow.
    editTensors(path.join(dir, "train-state.safetensors"), (t) => void t["decoder.layers.1.weight"].data.fill(3e38));
    const before = files(dir);
    const r = await run(["train", "--out", dir, "--epochs", "3", "--resume"]);
    expect(r.code, r.err).toBe(1);
    expect(lastLine(r.err)).toMatch(
      new RegExp(`^vae train: error: training diverged at epoch 2, batch 1/4: the loss \\(the negative ELBO\\) is (NaN|-?Infinity); try a smaller --lr \\(this run: --lr 0.001\\)\\. ` +
        `Nothing was saved: the checkpoints in ${dir} are left as they were \\(1 epoch done\\)$`),
    );
    expect(files(dir)).toEqual(before);
    expect(readdirSync(dir).sort()).toEqual(["metrics.jsonl", "model.safetensors", "train-state.safetensors"]);
  });

  it("--lr 100 warns each epoch whose train ELBO is below 2·(−784·log 2), twice the log-likelihood of guessing p = ½", async () => {
    const r = await run(["train", "--out", at("lr100"), "--epochs", "1", ...TINY, "--lr", "100"]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/^warning: epoch 1's train ELBO -\d\.\d{3}e\+\d is far below -543\.4 = −784·log 2, the log-likelihood of guessing p = ½ for every pixel: the run is diverging; try a smaller --lr \(this run: --lr 100\)$/m);
    const normal = await inProcess(["train", "--out", at("lr-normal"), "--epochs", "1", ...TINY]);
    expect(normal.err).not.toContain("warning");
  });
});

describe("a checkpoint holding NaN or ±Infinity is refused (issue 9, item 2)", () => {
  it("loadParameters names the source and the tensor, unless allowNonFinite; then it lists the non-finite tensors", () => {
    const params = new Map([["w", new Tensor(new Float32Array(4), [4])], ["b", new Tensor(new Float32Array(2), [2])], ["c", new Tensor(new Float32Array(1), [1])]]);
    const stored = { w: Float32Array.of(1, Number.NaN, Infinity, 2), b: Float32Array.of(1, 2), c: Float32Array.of(-Infinity) };
    const bytes = saveParameters(new Map(Object.entries(stored).map(([k, v]) => [k, new Tensor(v, [v.length])])));
    expect(() => loadParameters(bytes, params, "bad.safetensors")).toThrow(/^bad\.safetensors: tensor "w" holds 2 non-finite values of 4 \(the first, NaN, at index 1\)/);
    expect(Array.from(params.get("b")!.data)).toEqual([0, 0]); // nothing copied
    const { nonFinite } = loadParameters(bytes, params, "bad.safetensors", false, { allowNonFinite: true });
    expect(Array.from(params.get("w")!.data)).toEqual([1, Number.NaN, Infinity, 2]);
    // The oracle: the tensors stored above with a value that is not finite.
    expect(nonFinite).toEqual(Object.entries(stored).filter(([, v]) => v.some((x) => !Number.isFinite(x))).map(([k]) => k));
    expect(nonFinite).toEqual(["w", "c"]);
  });

  it("eval and report refuse it, naming the file and the tensor; with --allow-non-finite they load it and warn", async () => {
    const dir = at("nan-run");
    expect((await run(["train", "--out", dir, "--epochs", "1", ...TINY])).code).toBe(0);
    const model = path.join(dir, "model.safetensors");
    editTensors(model, (t) => {
      t["decoder.layers.1.bias"].data[7] = Number.NaN;
      t["decoder.layers.1.bias"].data[9] = -Infinity;
    });
    const small = ["--limit", "20", "--iwae", "3", "--iwae-images", "5"];
    const [evalRefused, reportRefused, evalAllowed, reportAllowed] = await Promise.all([
      inProcess(["eval", "--checkpoint", model, ...small]),
      inProcess(["report", "--run", dir, "--iwae", "3", "--iwae-images", "5"]),
      inProcess(["eval", "--checkpoint", model, ...small, "--allow-non-finite", "--json"]),
      inProcess(["report", "--run", dir, "--iwae", "3", "--iwae-images", "5", "--allow-non-finite", "--out", path.join(dir, "inspect.html")]),
    ]);
    const refusal = `${model}: tensor "decoder.layers.1.bias" holds 2 non-finite values of 784 (the first, NaN, at index 7), as a diverged run leaves; ` +
      "refused (to inspect it anyway, load with allowNonFinite, the command line's --allow-non-finite)";
    expect([evalRefused.code, evalRefused.err]).toEqual([1, `vae eval: error: ${refusal}\n`]);
    expect([reportRefused.code, reportRefused.err]).toEqual([1, `vae report: error: ${refusal}\n`]);
    expect(existsSync(path.join(dir, "report.html"))).toBe(false);
    const warning = `warning: ${model}: decoder.layers.1.bias holds NaN or ±Infinity (loaded with --allow-non-finite), so the bounds computed from it are not finite\n`;
    expect([evalAllowed.code, evalAllowed.err]).toEqual([0, warning]);
    expect(JSON.parse(evalAllowed.out).testElbo).toBeNull(); // NaN in JSON
    expect(reportAllowed.code, reportAllowed.err).toBe(0);
    expect(reportAllowed.err).toBe(warning);
    expect(existsSync(path.join(dir, "inspect.html"))).toBe(true);
  }, 20_000);
});

describe("one train process per run directory (issue 9, item 5)", () => {
  it("train --out on an existing run refuses without --resume or --force and leaves it as it was; --force replaces it", async () => {
    const dir = at("existing");
    expect((await run(["train", "--out", dir, "--epochs", "2", ...TINY])).code).toBe(0);
    const before = files(dir);
    const again = await run(["train", "--out", dir, "--epochs", "1", ...TINY]);
    expect([again.code, again.err]).toEqual([2, `vae train: error: ${dir} already holds a training run (${dir}/train-state.safetensors); continue it with --resume, or replace it with --force\n`]);
    expect(files(dir)).toEqual(before);
    const file = at("not-a-dir");
    writeFileSync(file, "");
    const onFile = await inProcess(["train", "--out", file, "--epochs", "1"]);
    expect([onFile.code, onFile.err]).toEqual([2, `vae train: error: --out ${file} is a file; give a directory for the run (created if missing)\n`]);
    const both = await inProcess(["train", "--out", dir, "--resume", "--force"]);
    expect([both.code, both.err]).toEqual([2, "vae train: error: --resume continues the run in DIR and --force replaces it: give one of them\n"]);
    const forced = await run(["train", "--out", dir, "--epochs", "1", ...TINY, "--force"]);
    expect(forced.code, forced.err).toBe(0);
    expect(forced.err).toContain(`note: --force: replacing the run in ${dir}\n`);
    expect(readFileSync(path.join(dir, "metrics.jsonl"), "utf8").trim().split("\n")).toHaveLength(1);
  });

  it("a second train on the same --out refuses, naming the first's pid", async () => {
    const dir = at("busy");
    let second: Promise<Done> | undefined;
    const first = vae(["train", "--out", dir, "--epochs", "100000", ...TINY], (err) => {
      if (!second && err.includes("batch 1/4")) second = run(["train", "--out", dir, "--epochs", "1", ...TINY, "--force"]);
    });
    await expect.poll(() => second, { timeout: 10_000 }).toBeDefined();
    const r = await second!;
    first.child.kill("SIGTERM");
    await first.done;
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `vae train: error: the run directory ${dir} is in use by process ${first.child.pid} (lock ${dir}/train.lock); wait for it to finish or stop it (kill ${first.child.pid}); ` +
        "if no such process is running, delete the lock\n",
    );
    expect(existsSync(path.join(dir, "train.lock"))).toBe(false);
  });

  it("a lock left by a process killed with -9 is taken over, with a note naming its pid", async () => {
    const dir = at("stale");
    mkdirSync(dir);
    const dead = spawnSync(process.execPath, ["-e", "process.kill(process.pid, 'SIGKILL')"]).pid!;
    expect(processAlive(dead)).toBe(false);
    writeFileSync(path.join(dir, "train.lock"), `${dead}\n`);
    writeFileSync(path.join(dir, `model.safetensors.${dead}.abc123.tmp`), "half a file");
    const r = await run(["train", "--out", dir, "--epochs", "1", ...TINY]);
    expect(r.code, r.err).toBe(0);
    expect(r.err.split("\n")[0]).toBe(`note: took over ${dir}/train.lock from process ${dead}, which is no longer running (removed 1 partly written file it left)`);
    expect(readdirSync(dir).sort()).toEqual(["metrics.jsonl", "model.safetensors", "train-state.safetensors"]);
  });
});

describe("signals (issue 9, item 6)", () => {
  it("SIGTERM saves mid-epoch as Ctrl-C does, and --resume ends bit-identical to an uninterrupted run", async () => {
    const [straight, stopped] = [at("term-straight"), at("term-stopped")];
    const straightRun = run(["train", "--out", straight, "--epochs", "12", ...TINY]);
    let sent = false;
    const first = vae(["train", "--out", stopped, "--epochs", "12", ...TINY], (err, child) => {
      if (!sent && err.includes("epoch 2/12  batch 1/4")) {
        sent = true;
        child.kill("SIGTERM");
      }
    });
    const r = await first.done;
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain("\nSIGTERM: stopping after this step (SIGTERM again to quit without saving)\n");
    const where = /^stopped \(SIGTERM\) at epoch (\d+), batch (\d)\/4; saved .*train-state\.safetensors$/m.exec(r.out);
    expect(where, r.out).not.toBeNull();
    expect(Number(where![1])).toBeLessThan(12);
    expect((await run(["train", "--out", stopped, "--epochs", "12", "--resume"])).code).toBe(0);
    expect((await straightRun).code).toBe(0);
    expect(readFileSync(path.join(stopped, "model.safetensors"))).toEqual(readFileSync(path.join(straight, "model.safetensors")));
  });

  it("npm run vae -- train sent SIGTERM through npm saves and stops its node process", async () => {
    const dir = at("npm-term");
    const npm = spawn("npm", ["run", "vae", "--", "train", "--out", dir, "--epochs", "100000", ...TINY], { cwd: ROOT, env });
    let err = "";
    npm.stderr!.on("data", (d) => void (err += d));
    try {
      await expect.poll(() => err, { timeout: 20_000 }).toContain("batch 1/4");
      npm.kill("SIGTERM");
      // npm's sh dies without passing SIGTERM on; train sees its parent gone and stops as on SIGTERM.
      await expect.poll(() => pidsOf(`train --out ${dir} `).length, { timeout: 5_000 }).toBe(0);
      expect(existsSync(path.join(dir, "train-state.safetensors"))).toBe(true);
      expect(existsSync(path.join(dir, "train.lock"))).toBe(false);
    } finally {
      for (const pid of pidsOf(`train --out ${dir} `)) process.kill(pid, "SIGKILL");
      npm.kill("SIGKILL");
    }
  }, 30_000);

  it("npm run explore sent SIGTERM through npm stops its server and its node process", async () => {
    const port = await freePort();
    const npm = spawn("npm", ["run", "explore", "--", "--port", String(port), "--points", "10"], { cwd: ROOT, env });
    let out = "";
    npm.stdout!.on("data", (d) => void (out += d));
    npm.stderr!.on("data", (d) => void (out += d));
    let server: number | undefined;
    try {
      await expect.poll(() => out, { timeout: 20_000 }).toContain("latent explorer: http://");
      expect((await fetch(`http://127.0.0.1:${port}/api/info`)).status).toBe(200);
      server = pidsOf(`explore.ts --port ${port}`).find((pid) => /^node\b|\/node$/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]));
      expect(server, "the explorer's node process").toBeDefined();
      npm.kill("SIGTERM");
      await expect.poll(() => fetch(`http://127.0.0.1:${port}/api/info`).then(() => "serving", () => "stopped"), { timeout: 5_000 }).toBe("stopped");
      await expect.poll(() => processAlive(server!), { timeout: 5_000 }).toBe(false);
    } finally {
      if (server !== undefined && processAlive(server)) process.kill(server, "SIGKILL");
      npm.kill("SIGKILL");
    }
  }, 30_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    }).on("error", reject);
  });
}

/** Pids of the processes whose command line contains `text` (Linux /proc). */
function pidsOf(text: string): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      return readFileSync(`/proc/${d}/cmdline`, "utf8").replaceAll("\0", " ").includes(text);
    } catch {
      return false;
    }
  }).map(Number);
}

describe("smaller things (issue 9, item 7)", () => {
  it("a directory given as --checkpoint names the path, and the model file inside it", async () => {
    const dir = at("a-run-dir");
    mkdirSync(dir);
    const bare = await inProcess(["eval", "--checkpoint", dir]);
    expect([bare.code, bare.err]).toEqual([1, `vae eval: error: ${dir}: is a directory, not a checkpoint file\n`]);
    writeFileSync(path.join(dir, "model.safetensors"), "");
    const hint = await inProcess(["elbo", "--checkpoint", dir]);
    expect(hint.err).toBe(`vae elbo: error: ${dir}: is a directory, not a checkpoint file; did you mean ${dir}/model.safetensors?\n`);
  });

  it("a PyTorch file, zip or pickle, is named as not safetensors with how to convert it; a safetensors header length starting 0x80 0x02 still loads", async () => {
    // torch.save since 1.6 writes a zip whose first local header starts PK\3\4, version 0, flags 0x0808;
    // before 1.6, a protocol-2 pickle of the magic number 0x1950a86a20f9469cfc6c.
    const zip = at("model.pt");
    writeFileSync(zip, Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x08, 0x08]), Buffer.alloc(22), Buffer.from("archive/data.pkl"), Buffer.alloc(64)]));
    const pickle = at("legacy.pth");
    writeFileSync(pickle, Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e]));
    const convert = "as PyTorch's torch.save writes (.pt, .pth); convert it in Python with `safetensors.torch.save_file(model.state_dict(), \"model.safetensors\")`";
    const [a, b] = await Promise.all([inProcess(["eval", "--checkpoint", zip]), inProcess(["elbo", "--checkpoint", pickle])]);
    expect([a.code, a.err]).toEqual([1, `vae eval: error: ${zip}: not a safetensors file: it is a zip archive, ${convert}\n`]);
    expect([b.code, b.err]).toEqual([1, `vae elbo: error: ${pickle}: not a safetensors file: it is a Python pickle, ${convert}\n`]);
    // A real safetensors file whose header is 640 = 0x280 bytes starts 0x80 0x02 too.
    let bytes: Uint8Array | undefined;
    for (let pad = 0; pad < 700 && !bytes; pad++) {
      const candidate = encodeSafetensors({ w: { dtype: "F32", shape: [2], data: Float32Array.of(1, 2) } }, { note: "x".repeat(pad) });
      if (candidate[0] === 0x80 && candidate[1] === 0x02) bytes = candidate;
    }
    expect(bytes).toBeDefined();
    expect(Array.from(decodeSafetensors(bytes!).tensors.w.data)).toEqual([1, 2]);
  });

  it("a negative number after an option is its value, refused by the range check", async () => {
    const [epochs, lr, missing] = await Promise.all([
      inProcess(["train", "--out", at("neg"), "--epochs", "-1"]),
      inProcess(["train", "--out", at("neg"), "--lr", "-1e-3"]),
      inProcess(["elbo", "--index"]),
    ]);
    expect([epochs.code, epochs.err]).toEqual([2, "vae train: error: --epochs must be a positive integer, got -1\n"]);
    expect([lr.code, lr.err]).toEqual([2, "vae train: error: --lr must be a positive number, got -1e-3\n"]);
    expect(missing.err).toBe("vae elbo: error: --index needs a value: --index I — image index (default 0, a 5 in the training set)\n");
    expect(existsSync(at("neg"))).toBe(false);
  });

  /** A one-epoch run and its report (rendered once, for the two tests below). */
  let reported: Promise<{ dir: string; report: Done }> | undefined;
  const reportedRun = () => (reported ??= (async () => {
    const dir = at("bounds");
    expect((await inProcess(["train", "--out", dir, "--epochs", "1", ...TINY])).code).toBe(0);
    return { dir, report: await inProcess(["report", "--run", dir, "--iwae", "5", "--iwae-images", "10"]) };
  })());

  it("eval and the report's summary give the ELBO and the IWAE bound of the same first N test images, each with its count", async () => {
    const { dir, report } = await reportedRun();
    const model = path.join(dir, "model.safetensors");
    const [evaluated, firstTen] = await Promise.all([
      inProcess(["eval", "--checkpoint", model, "--limit", "40", "--iwae", "5", "--iwae-images", "10", "--json"]),
      inProcess(["eval", "--checkpoint", model, "--limit", "10", "--iwae", "0", "--json"]),
    ]);
    const e = JSON.parse(evaluated.out);
    // The ELBO beside the IWAE bound is that of the IWAE's 10 images: eval --limit 10 computes it on its own.
    expect(e.elboOnIwaeImages).toBe(JSON.parse(firstTen.out).testElbo);
    expect(report.code, report.err).toBe(0);
    const html = readFileSync(path.join(dir, "report.html"), "utf8");
    const row = (label: string) => new RegExp(`<tr><th>${label}</th><td>(-?\\d+\\.\\d\\d)</td></tr>`).exec(html)?.[1];
    expect(row("test ELBO \\(100 test images\\)")).toBeDefined();
    expect(row("ELBO \\(first 10 test images\\)")).toBe(e.elboOnIwaeImages.toFixed(2));
    expect(row("IWAE bound, K = 5 \\(first 10 test images\\)")).toBe(e.iwae.toFixed(2));
  }, 20_000);

  it("the report's manifold has axes: each column's z₁ and each row's z₂, SciPy's ndtri of the grid's probabilities", async () => {
    const { dir } = await reportedRun();
    const html = readFileSync(path.join(dir, "report.html"), "utf8");
    // scipy.special.ndtri(0.05 + i·0.9/19) for i = 0..19, rounded to 2 decimals.
    const ndtri = [-1.64, -1.3, -1.06, -0.87, -0.71, -0.56, -0.43, -0.3, -0.18, -0.06, 0.06, 0.18, 0.3, 0.43, 0.56, 0.71, 0.87, 1.06, 1.3, 1.64];
    const labels = (cls: string) => [...html.matchAll(new RegExp(`<text class="${cls}" x="([\\d.]+)" y="([\\d.]+)"[^>]*>([^<]+)</text>`, "g"))]
      .map((m) => ({ x: Number(m[1]), y: Number(m[2]), z: Number(m[3].replace("−", "-")) }));
    const z1 = labels("z1");
    const z2 = labels("z2");
    expect(z1.map((l) => l.z)).toEqual(ndtri);
    expect(z2.map((l) => l.z)).toEqual([...ndtri].reverse()); // top row first: z₂ decreases downwards
    expect(z1.every((l, i) => i === 0 || l.x > z1[i - 1].x)).toBe(true);
    expect(z2.every((l, i) => i === 0 || l.y > z2[i - 1].y)).toBe(true);
    expect(html).toMatch(/<svg class="manifold"[^>]*>.*<text[^>]*>z₁<\/text><text[^>]*>z₂<\/text><\/svg>/s);
  });

  it("the walkthrough's closing text states the epoch time measured in the run, not a fixed guess", () => {
    const text = fullRunText([{ epoch: 1, seconds: 10.5 }, { epoch: 2, seconds: 11.7 }]);
    expect(text).toBe("A full run (50 epochs of all 60,000 images at hidden 500; an epoch with its test ELBO took 11.1 s in this run, so about 9 min in all):");
    expect(fullRunText([])).not.toMatch(/~\d+ s/);
  });
});
