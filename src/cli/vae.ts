// `npm run vae -- <command>`: the VAE of docs/derivation.md from the command line. Without a command, the walkthrough.
import "../node/relaxed-simd.js"; // first: the matmul kernels' FMA on Node 20
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { useWorkerThreads } from "../node/threads.js";
import { UsageError, helpText, parseCommand, type Command, type Values } from "./args.js";
import { elbo, elboCommand, evalCommand, evaluate, init, initCommand, report, reportCommand, type Io } from "./commands.js";
import { train, trainCommand } from "./train.js";
import { readMetrics, readTrainState, runFiles } from "../node/checkpoint.js";

const commands: Record<string, [Command, (values: Values, io: Io) => number | Promise<number>]> = {
  init: [initCommand, init],
  elbo: [elboCommand, elbo],
  train: [trainCommand, train],
  eval: [evalCommand, evaluate],
  report: [reportCommand, report],
};

const WALKTHROUGH_DIR = "runs/walkthrough";
// Training at hidden 500 runs 6,000-9,000 images/s on 2 cores, ~10 s an epoch of all 60,000 images, so
// 10 epochs take ~100 s; with part 3, the test ELBOs, eval and the report, under 2 minutes in all.
const [EPOCHS, LIMIT] = [10, 60000];
const WALKTHROUGH = {
  train: ["--epochs", `${EPOCHS}`, "--limit", `${LIMIT}`, "--test-limit", "10000", "--hidden", "500", "--seed", "0", "--out", WALKTHROUGH_DIR, "--force"],
  eval: ["--checkpoint", `${WALKTHROUGH_DIR}/model.safetensors`, "--iwae", "500", "--iwae-images", "50", "--out", `${WALKTHROUGH_DIR}/eval.json`],
  report: ["--run", WALKTHROUGH_DIR],
};

const TOP_HELP = `usage: npm run vae -- [command] [options]

The variational autoencoder of docs/derivation.md on binarized MNIST with a 2-D latent space.

commands:
  (none)    the walkthrough: part 3 of the seed, a short training run, evaluation and the HTML report
  init      write a freshly initialized model
  elbo      part 3 of the seed: the ELBO of one image, ± its standard error, its terms and g(x); --exact adds log p(x)
  train     train with minibatch Adam; Ctrl-C saves, --resume continues
  eval      test-set ELBO and IWAE bound of a checkpoint; --exact N adds log p(x), Laplace and the gap
  report    the HTML report of a training run

\`npm run vae -- <command> --help\` describes each command's options.
Environment: TSGRAD_THREADS=1 keeps matmuls on one core (default: 2 threads); TSGRAD_BACKEND=js uses
the TypeScript kernels instead of WebAssembly SIMD; TSGRAD_FMA=0 keeps the matmuls off fused
multiply-adds (relaxed SIMD, used by default where available): the same bits on every machine;
TSGRAD_TASKS=0 keeps the element-wise kernels, the 0/1 product and Adam on one thread (only the
matmuls on two).
`;

async function walkthrough(io: Io): Promise<number> {
  const t0 = performance.now();
  const step = async (title: string, name: string, argv: string[]) => {
    io.out(`\n== ${title}\n$ npm run vae -- ${name} ${argv.join(" ")}\n`);
    const [command, run] = commands[name];
    const code = await run(parseCommand(command, argv)!, io);
    if (code !== 0) throw new Error(`${name} failed with exit code ${code}`);
  };
  io.out(`The VAE of docs/derivation.md, end to end (a few minutes on 2 cores).\n`);
  await step("Part 3 of the seed: the ELBO of the first training image under a freshly initialized model", "elbo", ["--seed", "0"]);
  await step(`A short training run: hidden 500, ${EPOCHS} epochs over the first ${LIMIT} training images (Ctrl-C stops it and saves)`, "train", WALKTHROUGH.train);
  if (readTrainState(runFiles(WALKTHROUGH_DIR).state).state.epoch < EPOCHS) {
    io.out(`\nThe walkthrough stops here. Continue the run with \`npm run vae -- train --out ${WALKTHROUGH_DIR} --resume --epochs ${EPOCHS}\`, then \`npm run vae -- report --run ${WALKTHROUGH_DIR}\`.\n`);
    return 0;
  }
  await step("Evaluation: test ELBO (all 10,000 test images) and the IWAE bound", "eval", WALKTHROUGH.eval);
  await step("The report", "report", WALKTHROUGH.report);
  const html = resolve(WALKTHROUGH_DIR, "report.html");
  io.out(
    `\nDone in ${((performance.now() - t0) / 1000).toFixed(0)} s. The report is ${html}\n` +
      `open it in a browser: ${pathToFileURL(html).href}  (or \`xdg-open ${html}\` on Linux, \`open ${html}\` on macOS)\n\n` +
      `${fullRunText(readMetrics(runFiles(WALKTHROUGH_DIR).metrics))}\n` +
      `  npm run vae -- train --epochs ${FULL_EPOCHS} --out runs/full          # Ctrl-C saves; add --resume to continue\n` +
      `  npm run vae -- eval --checkpoint runs/full/model.safetensors --iwae 5000 --iwae-images 1000 --out runs/full/eval.json\n` +
      `  npm run vae -- report --run runs/full\n`,
  );
  return 0;
}

const FULL_EPOCHS = 50;

/** The walkthrough's closing line on a full run, with the time this run's epochs took (its metrics' `seconds`). */
export function fullRunText(metrics: Record<string, number>[]): string {
  const seconds = metrics.map((m) => m.seconds).filter((s) => Number.isFinite(s) && s > 0);
  if (seconds.length === 0) return `A full run (${FULL_EPOCHS} epochs of all 60,000 images at hidden 500):`;
  const epoch = seconds.reduce((a, b) => a + b, 0) / seconds.length;
  return `A full run (${FULL_EPOCHS} epochs of all 60,000 images at hidden 500; an epoch with its test ELBO took ${epoch.toFixed(1)} s in this run, so about ${Math.max(1, Math.round((FULL_EPOCHS * epoch) / 60))} min in all):`;
}

/** Runs the command line `argv` (without node and script); returns the exit code. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const name = argv[0] === undefined || argv[0].startsWith("-") ? undefined : argv[0];
  try {
    if (name === undefined) {
      if (argv.length === 1 && (argv[0] === "--help" || argv[0] === "-h")) {
        io.out(TOP_HELP);
        return 0;
      }
      if (argv.length > 0) throw new UsageError(`unknown option ${argv[0]}; the walkthrough takes no options (commands: ${Object.keys(commands).join(", ")}; see --help)`);
      return await walkthrough(io);
    }
    const entry = commands[name];
    if (!entry) throw new UsageError(`unknown command "${name}"; commands: ${Object.keys(commands).join(", ")} (see --help)`);
    const values = parseCommand(entry[0], argv.slice(1));
    if (values === null) {
      io.out(helpText(entry[0]));
      return 0;
    }
    return await entry[1](values, io);
  } catch (e) {
    const where = `vae${name ? ` ${name}` : ""}`;
    io.err(`${where}: error: ${(e as Error).message}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

function processIo(): Io {
  return { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), isTTY: process.stderr.isTTY === true };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  // Large products run on both cores (a worker thread); TSGRAD_THREADS=1 keeps everything on one.
  const threads = Number(process.env.TSGRAD_THREADS ?? Math.min(2, availableParallelism()));
  if (!Number.isInteger(threads) || threads < 1) {
    process.stderr.write(`vae: error: TSGRAD_THREADS must be a positive integer, got "${process.env.TSGRAD_THREADS}"\n`);
    process.exit(2);
  }
  if (threads > 1) await useWorkerThreads(threads, { tasks: process.env.TSGRAD_TASKS !== "0" });
  process.exitCode = await main(process.argv.slice(2));
}
