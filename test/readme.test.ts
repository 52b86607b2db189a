// README.md's code blocks, run as a new user runs them: in a fresh copy of the repository (the files git
// tracks or would add: no dist/, no runs/) with the node_modules that the README's setup (`npm ci`) made.
// Each ts block runs with tsx and prints what its comments say; each sh line names scripts, commands,
// options and files that exist; the output the README shows for a command is what the command prints;
// the python block parses, names tensors a checkpoint has, and runs where python3 has torch.
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { accessSync, constants, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeSafetensors } from "../src/nn/safetensors.js";
import { saveModel } from "../src/node/checkpoint.js";
import { VAE } from "../src/vae/model.js";
import { checkOutput, expectedOutput, readmeBlocks } from "./readme-blocks.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const blocks = readmeBlocks(root);
const where = (b: { line: number }) => `README.md:${b.line}`;

// As a user runs them: the default backend and threads (the test runner sets TSGRAD_BACKEND).
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TSGRAD_")));

function run(command: string, args: string[], options: SpawnSyncOptions & { cwd: string }) {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 120_000, env, ...options });
  return { status: r.status, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? ""), error: r.error };
}

/** A copy of the repository as `git clone` + `npm ci` leave it: the files git knows, node_modules linked. */
function freshCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "tsgrad-fresh-clone-"));
  const git = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" });
  if (git.status === 0) {
    for (const file of git.stdout.split("\0").filter(Boolean)) {
      if (!existsSync(join(root, file))) continue; // deleted in the working tree
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      copyFileSync(join(root, file), join(dir, file));
      // copyFileSync keeps the mode bits (scripts/setup.sh stays executable).
    }
  } else {
    // No git (a source tarball): everything but what git ignores here.
    const ignored = new Set(["node_modules", "dist", "runs", ".git", ".deno", ".vitest-cache"]);
    cpSync(root, dir, { recursive: true, filter: (src) => !ignored.has(src.slice(root.length + 1).split(/[\\/]/)[0]!) });
  }
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

let fresh: string;
beforeAll(() => {
  fresh = freshCopy();
});
afterAll(() => {
  if (fresh) rmSync(fresh, { recursive: true, force: true });
});

const tsBlocks = blocks.filter((b) => b.lang === "ts");

describe("README.md: the TypeScript blocks", () => {
  it("has TypeScript blocks, and the fresh copy has no dist/ to lean on", () => {
    expect(tsBlocks.length).toBeGreaterThanOrEqual(3);
    expect(tsBlocks.some((b) => b.code.includes('from "tsgrad-vae"'))).toBe(true);
    expect(existsSync(join(fresh, "dist"))).toBe(false);
    expect(existsSync(join(fresh, "README.md"))).toBe(true);
  });

  for (const [i, block] of tsBlocks.entries()) {
    it(`block ${i + 1} (${where(block)}, "${block.section}") runs with tsx in a fresh copy and prints what its comments say`, () => {
      const file = join(fresh, `readme-block-${i + 1}.ts`);
      writeFileSync(file, block.code);
      const r = run(process.execPath, ["--import", "tsx", file], { cwd: fresh });
      if (r.status !== 0) throw new Error(`${where(block)}: exit ${r.status ?? r.error?.message}\n${r.stdout}\n${r.stderr}`);
      checkOutput(block.code, r.stdout, where(block));
    }, 60_000);
  }

  it("the blocks say what they print (so the runs above check output, not only exit codes)", () => {
    const gradient = tsBlocks.find((b) => b.section === "Taking a gradient")!;
    expect(expectedOutput(gradient.code)).toEqual(["Tensor(float32, [2,2]) [1.4621, 3.9281, 5.9993, 8]", "gradcheck passed: worst input 0 …"]);
    // d/dx softplus(x²) = 2x σ(x²), the first line's values from the formula:
    const formula = [1, 2, 3, 4].map((x) => Number(((2 * x) / (1 + Math.exp(-x * x))).toFixed(4)));
    expect(expectedOutput(gradient.code)[0]).toBe(`Tensor(float32, [2,2]) [${formula.join(", ")}]`);
    expect(tsBlocks.filter((b) => expectedOutput(b.code).length > 0).length).toBeGreaterThanOrEqual(3);
  });
});

// ---- the sh blocks ------------------------------------------------------------------------------

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
/** Commands the README shows but a test must not run (system installs, an editor, long jobs): only their files are checked. */
const NOT_RUN = new Set(["apt-get", "jupyter", "/usr/bin/python3", "python3", "pip"]);
const CLI: Record<string, string> = { vae: "src/cli/vae.ts", explore: "src/cli/explore.ts" };

function shCommands(code: string): { line: string; words: string[] }[] {
  return code.split("\n").flatMap((raw) => {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    return line ? line.split("&&").map((c) => ({ line, words: c.trim().split(/\s+/).filter((w) => !/^[A-Z_]+=/.test(w)) })) : [];
  });
}

const helpCache = new Map<string, string>();
function help(cli: string, command?: string): string {
  const key = `${cli} ${command ?? ""}`;
  if (!helpCache.has(key)) {
    const r = run(process.execPath, ["--import", "tsx", CLI[cli]!, ...(command ? [command] : []), "--help"], { cwd: fresh, timeout: 30_000 });
    if (r.status !== 0) throw new Error(`${key} --help: exit ${r.status}\n${r.stderr}`);
    helpCache.set(key, r.stdout);
  }
  return helpCache.get(key)!;
}

/** Why an sh command as written would not work, or undefined. */
function shProblem(words: string[]): string | undefined {
  const [cmd, ...args] = words;
  const paths = args.filter((w) => /^[\w.-]+\/[\w./-]*$/.test(w) && !w.startsWith("runs/"));
  const missing = paths.filter((p) => !existsSync(join(fresh, p)));
  if (missing.length) return `no such file ${missing.join(", ")}`;
  if (cmd === "npm") {
    const [sub, name, ...rest] = args;
    if (sub === "ci") return existsSync(join(fresh, "package-lock.json")) ? undefined : "npm ci needs package-lock.json";
    if (sub === "test") return pkg.scripts.test ? undefined : "no test script";
    if (sub !== "run") return `npm ${sub}: not a command the README should need`;
    if (!pkg.scripts[name!]) return `package.json has no script "${name}"`;
    if (!CLI[name!] || rest[0] !== "--") return undefined;
    const [command, ...flags] = rest.slice(1);
    const sub2 = command && !command.startsWith("-") ? command : undefined;
    if (sub2 && !new RegExp(`^\\s+${sub2}\\s`, "m").test(help(name!))) return `\`npm run ${name}\` has no command ${sub2}`;
    const text = help(name!, sub2);
    const unknown = flags.filter((f) => f.startsWith("--") && !text.includes(f));
    return unknown.length ? `\`npm run ${name} -- ${sub2 ?? ""} --help\` does not know ${unknown.join(", ")}` : undefined;
  }
  if (cmd!.includes("/")) {
    try {
      accessSync(join(fresh, cmd!), constants.X_OK);
    } catch {
      return NOT_RUN.has(cmd!) ? undefined : `${cmd} is not an executable file of the repository`;
    }
    return undefined;
  }
  return NOT_RUN.has(cmd!) ? undefined : `${cmd}: a command this test does not know; check it and add it to NOT_RUN or handle it`;
}

describe("README.md: the sh blocks", () => {
  const shBlocks = blocks.filter((b) => b.lang === "sh");
  it("every command names scripts, commands, options and files that exist", () => {
    expect(shBlocks.length).toBeGreaterThanOrEqual(4);
    const problems = shBlocks.flatMap((b) => shCommands(b.code).flatMap(({ line, words }) => {
      const problem = shProblem(words);
      return problem ? [`${where(b)}: ${line}: ${problem}`] : [];
    }));
    expect(problems).toEqual([]);
  }, 60_000);

  it("the setup commands are the ones CI runs: scripts/setup.sh runs npm ci, .ci/run runs setup, npm test and the notebooks", () => {
    expect(shBlocks[0]!.code.trim()).toBe("scripts/setup.sh && npm test && npm run notebooks -- --check");
    expect(readFileSync(join(fresh, "scripts", "setup.sh"), "utf8")).toMatch(/^npm ci\b/m);
    const ci = readFileSync(join(fresh, ".ci", "run"), "utf8");
    for (const step of ["scripts/setup.sh", "npm test", "npm run notebooks -- --check"]) expect(ci).toContain(step);
  });

  it("a command whose output the README shows prints those lines", () => {
    const shown = blocks.filter((b) => b.lang === "");
    expect(shown.length).toBeGreaterThanOrEqual(1);
    for (const b of shown) {
      const command = /`npm run (vae|explore) -- ([^`]+)`/.exec(b.before);
      if (!command) throw new Error(`${where(b)}: an output block without the command that prints it in the paragraph above`);
      const r = run(process.execPath, ["--import", "tsx", CLI[command[1]!]!, ...command[2]!.trim().split(/\s+/)], { cwd: fresh });
      expect(r.status, r.stderr).toBe(0);
      const out = r.stdout.split("\n").map((l) => l.trimEnd());
      let at = 0;
      for (const want of b.code.trimEnd().split("\n").map((l) => l.trimEnd())) {
        const found = out.indexOf(want, at);
        expect(found, `${where(b)}: \`npm run ${command[1]} -- ${command[2]}\` should print\n${want}\nbut printed\n${r.stdout}`).toBeGreaterThanOrEqual(0);
        at = found + 1;
      }
    }
  }, 60_000);
});

// ---- the python block ---------------------------------------------------------------------------

const python = blocks.find((b) => b.lang === "python");
const hasPython = spawnSync("python3", ["--version"]).status === 0;
const hasTorch = hasPython && spawnSync("python3", ["-c", "import torch, safetensors"]).status === 0;

describe("README.md: the python block", () => {
  it("loads a checkpoint by the tensor names and shapes our files have", () => {
    expect(python).toBeDefined();
    const code = python!.code;
    const file = /load_file\("([^"]+)"\)/.exec(code)![1]!;
    expect(file).toBe("runs/walkthrough/model.safetensors"); // what `npm run vae` writes
    const target = join(fresh, file);
    saveModel(target, new VAE({ hidden: 500 }, { seed: 0 }));
    const { tensors } = decodeSafetensors(new Uint8Array(readFileSync(target)), target);
    // encoder = nn.Sequential(nn.Linear(784, 500), nn.Tanh(), nn.Linear(500, 2)); encoder[k].weight ← sd["…"]
    const layers = /encoder = nn\.Sequential\((.*)\)\s*$/m.exec(code)![1]!.split(/,\s*(?=nn\.)/);
    const copies = [...code.matchAll(/encoder\[(\d+)\]\.(weight|bias)\.data\.copy_\(sd\["([^"]+)"\]\)/g)];
    expect(copies.length).toBeGreaterThan(0);
    for (const [, k, kind, name] of copies) {
      const [inF, outF] = /nn\.Linear\((\d+),\s*(\d+)\)/.exec(layers[Number(k)]!)!.slice(1).map(Number);
      expect(tensors[name!], `${where(python!)}: no tensor ${name} in ${file}`).toBeDefined();
      expect(tensors[name!]!.shape, `${name} into nn.Linear(${inF}, ${outF}).${kind}`).toEqual(kind === "weight" ? [outF, inF] : [outF]);
    }
  });

  it.skipIf(!hasPython)("parses, and every name it uses is imported or assigned in it (no torch needed)", () => {
    // The names the block loads that it neither imports nor assigns, and that are not builtins.
    const undefinedNames = `
import ast, builtins, sys
tree = ast.parse(sys.stdin.read())
bound = set(dir(builtins))
for node in ast.walk(tree):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        bound.add(node.id)
print(" ".join(sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - bound)))
`;
    const r = run("python3", ["-c", undefinedNames], { cwd: fresh, input: python!.code });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim(), `${where(python!)}: names used but never defined`).toBe("");
  });

  it.skipIf(!hasTorch)(`runs in python3 with torch and safetensors${hasTorch ? "" : " (skipped: python3 with torch and safetensors is not installed)"}`, () => {
    const target = join(fresh, "runs", "walkthrough", "model.safetensors");
    if (!existsSync(target)) saveModel(target, new VAE({ hidden: 500 }, { seed: 0 }));
    const r = run("python3", ["-"], { cwd: fresh, input: python!.code, timeout: 120_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  }, 120_000);
});
