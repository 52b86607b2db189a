// npm run mutate [-- options]: StrykerJS over src/tensor, src/autograd, src/nn and src/vae (see
// stryker.config.mjs), then the mutation score per folder, failing below the thresholds.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const help = `npm run mutate [-- options]

Mutation testing of the core and the model with StrykerJS (vitest runner, per-test coverage, static
mutants ignored). The HTML report goes to reports/mutation/index.html. Runs are incremental: mutants
of unchanged code keep their last result (mutation/stryker-incremental.json, committed).

Options:
  --changed           only the files under the four folders that differ from HEAD (or, with a clean
                      tree, that the last commit changed): the fast mode while working
  --files <list>      only these files (comma-separated paths, globs, or line ranges as file.ts:1-160)
  --sample            only the fixed sample of files CI runs (see SAMPLE in scripts/mutate.ts)
  --incremental-file <path>
                      read and write the incremental results there instead (CI: a copy, so that the
                      checkout stays as it was)
  --full              ignore the incremental file and test every mutant again
  --report-only       print the scores of the last run without running Stryker
  -h, --help          this text

The last lines give the score per folder: "mutation score <folder> <N>% (<killed> of <total>)",
where killed counts killed and timed-out mutants, and total every mutant that was run or had no
test covering it. The command fails if src/autograd or src/vae is below 90%, or src/tensor or src/nn
below 80% (in the fast mode, only the folders it ran).`;

const { values } = parseArgs({
  options: {
    changed: { type: "boolean" },
    files: { type: "string" },
    sample: { type: "boolean" },
    "incremental-file": { type: "string" },
    full: { type: "boolean" },
    "report-only": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(help);
  process.exit(0);
}

const folders = { "src/autograd": 90, "src/vae": 90, "src/tensor": 80, "src/nn": 80 } as const;

/**
 * CI's fixed sample (.ci/run): a file of src/autograd, src/nn and src/vae each whose mutants are few or
 * quickly killed and whose covering tests are cheap, so that it runs in a few minutes on 2 cores from
 * scratch, and in the time of the first test run when the committed incremental results apply.
 */
const SAMPLE = ["src/autograd/methods.ts", "src/nn/checkpoint.ts", "src/vae/quantile.ts"];
const report = "reports/mutation/mutation.json";

function changedFiles(): string[] {
  const git = (args: string[]) => spawnSync("git", args, { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
  let files = git(["diff", "--name-only", "HEAD"]);
  if (files.length === 0) files = git(["diff", "--name-only", "HEAD~1", "HEAD"]);
  return files.filter((f) => f.endsWith(".ts") && Object.keys(folders).some((d) => f.startsWith(`${d}/`)) && existsSync(f));
}

let targets: string[] | null = null;
if (values.changed) targets = changedFiles();
else if (values.files) targets = values.files.split(",").map((s) => s.trim()).filter(Boolean);
else if (values.sample) targets = SAMPLE;
if (targets !== null && targets.length === 0) {
  console.log("mutate: no changed files under src/tensor, src/autograd, src/nn or src/vae; nothing to do");
  process.exit(0);
}

if (!values["report-only"]) {
  const args = ["stryker", "run"];
  if (targets !== null) args.push("--mutate", targets.join(","));
  if (values.full) args.push("--force");
  if (values["incremental-file"]) args.push("--incrementalFile", values["incremental-file"]);
  console.log(`mutate: npx ${args.join(" ")}`);
  const run = spawnSync("npx", args, { stdio: "inherit" });
  if (run.status !== 0) {
    console.error(`mutate: stryker exited with status ${run.status}`);
    process.exit(run.status ?? 1);
  }
}

if (!existsSync(report)) {
  console.error(`mutate: ${report} is missing; run npm run mutate first`);
  process.exit(1);
}
interface Mutant { status: string }
const files = (JSON.parse(readFileSync(report, "utf8")) as { files: Record<string, { mutants: Mutant[] }> }).files;
const detected = new Set(["Killed", "Timeout"]);
const counted = new Set(["Killed", "Timeout", "Survived", "NoCoverage"]);
let failed = false;
for (const [folder, threshold] of Object.entries(folders)) {
  const mutants = Object.entries(files)
    // A target may be a glob or a line range (file.ts:1-160): its file, or the folder before the glob.
    .filter(([path]) => path.startsWith(`${folder}/`) && (targets === null || targets.some((t) => path === t.replace(/:\d+-\d+$/, "") || path.startsWith(t.replace(/\*.*$/, "")))))
    .flatMap(([, f]) => f.mutants)
    .filter((m) => counted.has(m.status));
  if (mutants.length === 0) continue;
  const killed = mutants.filter((m) => detected.has(m.status)).length;
  const score = (100 * killed) / mutants.length;
  const ok = score >= threshold;
  failed ||= !ok;
  console.log(`mutation score ${folder} ${score.toFixed(1)}% (${killed} of ${mutants.length})${ok ? "" : ` below ${threshold}%`}`);
}
process.exit(failed ? 1 : 0);
