// docs/derivation.md is the project's own derivation: everything the project ships points at it (nothing at
// a note outside the repository), the tests it cites exist under those names, and every test of
// test/vae.test.ts is cited in it.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DOC = "docs/derivation.md";
const doc = readFileSync(join(root, DOC), "utf8");

/** What a reader outside this repository can't follow: the team's note, its folder, the seed file. */
const OUTSIDE = /\.\.\/shared|MATH\.md|seeds\/000_/;
/**
 * Files still naming MATH.md that this branch may not edit: the command line's help and walkthrough text
 * belong to the src/cli work. Each entry is the number of such lines; the test fails when it changes, so
 * that the entry is removed once those lines point at docs/derivation.md.
 */
const PENDING: Record<string, number> = {};

function filesUnder(dir: string): string[] {
  if (!existsSync(join(root, dir))) return [];
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .filter((f) => /\.(ts|js|mjs|md|ipynb|html|json|css|txt)$/.test(f));
}

/**
 * README, package.json, docs, examples, src, and what `npm pack` puts in the tarball besides dist/ (which is
 * compiled from src/). The pack runs on a copy without dist/, as in a fresh clone, so that it neither
 * depends on nor races with test/package.test.ts rebuilding dist/.
 */
function shipped(): string[] {
  const copy = mkdtempSync(join(tmpdir(), "tsgrad-pack-list-"));
  try {
    for (const f of readdirSync(root)) if (!["node_modules", "dist", ".git", "runs", ".deno", ".vitest-cache"].includes(f)) cpSync(join(root, f), join(copy, f), { recursive: true });
    const packed = spawnSync(process.platform === "win32" ? "npm.cmd" : "npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: copy, encoding: "utf8" });
    if (packed.status !== 0) throw new Error(`npm pack --dry-run failed:\n${packed.stderr}`);
    const tarball = (JSON.parse(packed.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(tarball).toContain(DOC);
    return [...new Set(["README.md", "package.json", ...tarball, ...filesUnder("docs"), ...filesUnder("examples"), ...filesUnder("src")])];
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

describe("docs/derivation.md is what the project points at", () => {
  it("no shipped file (README, docs, examples, src, the package's files) refers to ../shared, MATH.md or the seed file", () => {
    const files = shipped();
    expect(files.length).toBeGreaterThan(50);
    const hits = files.flatMap((f) => {
      const lines = readFileSync(join(root, f), "utf8").split("\n").filter((l) => OUTSIDE.test(l));
      return lines.length === (PENDING[f] ?? 0) ? [] : [`${f}: ${lines.length} line(s): ${lines.map((l) => l.trim().slice(0, 100)).join(" | ")}`];
    });
    expect(hits).toEqual([]);
  }, 60_000);

  it("no shipped file names a web address, besides local servers and the SVG and XLink namespaces (names, not links): facts are stated, not linked", () => {
    const allowed = /^https?:\/\/(?:localhost|127\.0\.0\.1|\$\{[^}]+\})(?:[:/]|$)|^http:\/\/www\.w3\.org\/(?:2000\/svg|1999\/xlink)$/;
    const hits = shipped().flatMap((f) =>
      [...readFileSync(join(root, f), "utf8").matchAll(/https?:\/\/[^\s"'`)<>\\]+/g)].map(([url]) => url!).filter((url) => !allowed.test(url)).map((url) => `${f}: ${url}`));
    expect(hits).toEqual([]);
  }, 60_000);

  it("README.md, the notebook and the elbo command cite docs/derivation.md", () => {
    expect(readFileSync(join(root, "README.md"), "utf8")).toContain("](docs/derivation.md)");
    expect(readFileSync(join(root, "examples", "02-seed-vae.ipynb"), "utf8")).toContain("](../docs/derivation.md)");
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/vae.ts", "elbo", "--index", "0", "--samples", "10"], { cwd: root, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(DOC);
    expect(r.stdout).not.toMatch(OUTSIDE);
  }, 60_000);

  it("every link of the README, the docs and the notebooks stays inside the repository and resolves", () => {
    const markdown = ["README.md", ...filesUnder("docs").filter((f) => f.endsWith(".md")), ...filesUnder("examples").filter((f) => f.endsWith(".ipynb"))];
    const bad = markdown.flatMap((f) => {
      const text = readFileSync(join(root, f), "utf8");
      return [...text.matchAll(/\]\(([^)\s]+)\)/g)].flatMap(([, target]) => {
        if (/^[a-z][a-z+.-]*:/i.test(target!)) return target!.startsWith("data:") ? [] : [`${f}: ${target} leaves the repository`];
        const path = resolve(dirname(join(root, f)), decodeURIComponent(target!.split("#")[0]!));
        if (!path.startsWith(root + "/") && path !== root) return [`${f}: ${target} leaves the repository`];
        return existsSync(path) ? [] : [`${f}: ${target} does not exist`];
      });
    });
    expect(bad).toEqual([]);
  });
});

// ---- the tests it cites ------------------------------------------------------------------------

/** The names of a test file's `it`/`test` calls; template names keep their `${…}` placeholders. */
function testNames(file: string): string[] {
  const src = readFileSync(join(root, file), "utf8");
  return [...src.matchAll(/\b(?:it|test)(?:\.\w+(?:\([^()]*\))?)*\(\s*(["'`])((?:\\.|(?!\1)[^\\])*)\1/g)].map((m) => m[2]!.replace(/\\(.)/g, "$1"));
}

/** A name as a pattern: each `${…}` of a template stands for any text. */
const namePattern = (name: string) => new RegExp(`^${name.split(/\$\{[^}]*\}/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".+")}$`);

/** The doc's citations: [`test name`](../test/file.test.ts). */
const citations = [...doc.matchAll(/\[`([^`]+)`\]\(\.\.\/(test\/[\w./-]+\.test\.ts)\)/g)].map(([, name, file]) => ({ name: name!, file: file! }));

describe("docs/derivation.md cites the tests by name", () => {
  it("reads test names, literal and templated, the way vitest prints them", () => {
    const names = testNames("test/vae.test.ts");
    expect(names).toContain("identity 1: log N(z;0,I) = -½ z·z - (d/2) log 2π, and its gradient is -z");
    expect(names).toContain("identity 7: every encoder and decoder parameter tensor (σ² ${variance})");
    expect(namePattern("identity 7: every encoder and decoder parameter tensor (σ² ${variance})").test("identity 7: every encoder and decoder parameter tensor (σ² learned)")).toBe(true);
    expect(namePattern("a (b) ${x}").test("a (b)")).toBe(false);
    expect(citations.length).toBeGreaterThanOrEqual(14);
  });

  it("every test the derivation cites exists in the file it links to", () => {
    const missing = citations.filter(({ name, file }) => !existsSync(join(root, file)) || !testNames(file).some((t) => namePattern(t).test(name)));
    expect(missing.map((c) => `${c.file}: ${c.name}`)).toEqual([]);
  });

  it("every test of test/vae.test.ts, each identity 1–7 among them, is cited by the derivation", () => {
    const cited = citations.filter((c) => c.file === "test/vae.test.ts").map((c) => c.name);
    const names = testNames("test/vae.test.ts");
    expect(names.length).toBeGreaterThanOrEqual(10);
    expect(names.filter((t) => !cited.some((c) => namePattern(t).test(c)))).toEqual([]);
    for (let n = 1; n <= 7; n++) expect(cited.some((c) => c.startsWith(`identity ${n}`)), `identity ${n}`).toBe(true);
    // The identity-7 loop runs for both variances: both must be cited, not one for the template.
    expect(cited).toEqual(expect.arrayContaining(["identity 7: every encoder and decoder parameter tensor (σ² 0.01)", "identity 7: every encoder and decoder parameter tensor (σ² learned)"]));
  });

  it("states the closed forms with the numbers the tests use", () => {
    const text = doc.replaceAll("−", "-");
    const closed = { C: Math.log(0.01), entropy: 1 + Math.log(2 * Math.PI * 0.01), kl: 0.5 * (2 * 0.01 - 2 - 2 * Math.log(0.01)) };
    expect(text).toContain(`C = log 0.01 ≈ ${closed.C.toFixed(6)}`);
    expect(text).toContain(`≈ ${closed.entropy.toFixed(6)}`);
    expect(text).toContain(`½ g·g + ${closed.kl.toFixed(6)}`);
  });
});
