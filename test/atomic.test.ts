import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeStaleTemporaries, temporaryPath, writeFileAtomic } from "../src/node/atomic.js";

const dir = mkdtempSync(join(tmpdir(), "atomic-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("writeFileAtomic", () => {
  it("writes bytes and strings, creating the parent directory", () => {
    const path = join(dir, "new", "deeper", "a.bin");
    writeFileAtomic(path, Uint8Array.of(1, 2, 3));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    writeFileAtomic(join(dir, "s.txt"), "héllo");
    expect(readFileSync(join(dir, "s.txt"), "utf8")).toBe("héllo");
  });

  it("overwrites an existing file, shorter or longer, and writes a view's bytes only", () => {
    const path = join(dir, "b.bin");
    writeFileAtomic(path, new Uint8Array(1000).fill(7));
    writeFileAtomic(path, Uint8Array.of(0, 9, 8, 0).subarray(1, 3));
    expect([...readFileSync(path)]).toEqual([9, 8]);
    writeFileAtomic(path, "");
    expect(readFileSync(path).length).toBe(0);
  });

  it("leaves no temp files behind, also when it fails", () => {
    const sub = join(dir, "clean");
    for (let i = 0; i < 5; i++) writeFileAtomic(join(sub, "f.bin"), new Uint8Array(i * 100));
    expect(readdirSync(sub)).toEqual(["f.bin"]);
    mkdirSync(join(sub, "target-is-a-dir"));
    expect(() => writeFileAtomic(join(sub, "target-is-a-dir"), "x")).toThrow(/^writeFileAtomic: cannot write .*target-is-a-dir/);
    expect(readdirSync(sub).sort()).toEqual(["f.bin", "target-is-a-dir"]);
  });
});

describe("removeStaleTemporaries", () => {
  it("removes the temporaries writeFileAtomic names for the given files when their process is dead, and nothing else", () => {
    const sub = join(dir, "stale");
    mkdirSync(sub);
    const dead = spawnSync(process.execPath, ["-e", "process.kill(process.pid, 'SIGKILL')"]).pid!;
    // A temporary of a dead writer for each file, and one of this (running) process.
    const stale = ["model.safetensors", "metrics.jsonl"].map((f) => temporaryPath(join(sub, f), dead));
    const live = temporaryPath(join(sub, "model.safetensors"));
    const other = temporaryPath(join(sub, "notes.txt"), dead); // not a file it was asked about
    for (const p of [...stale, live, other]) writeFileSync(p, "half a file");
    writeFileSync(join(sub, "model.safetensors"), "whole");
    writeFileSync(join(sub, `model.safetensors.${dead}.tmp`), "not a temporary's name");
    expect(removeStaleTemporaries(sub, ["model.safetensors", "metrics.jsonl"])).toBe(2);
    expect(readdirSync(sub).sort()).toEqual([basename(live), basename(other), "model.safetensors", `model.safetensors.${dead}.tmp`].sort());
  });
});
