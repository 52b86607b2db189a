import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../src/node/atomic.js";

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
