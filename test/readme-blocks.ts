// The fenced code blocks of README.md, and what their comments say they print.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface Block {
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The "## " heading the block sits under. */
  section: string;
  /** The paragraph just above the block. */
  before: string;
}

export function readmeBlocks(root: string): Block[] {
  const lines = readFileSync(join(root, "README.md"), "utf8").split("\n");
  const blocks: Block[] = [];
  let section = "";
  for (let i = 0; i < lines.length; i++) {
    const heading = /^## (.*)$/.exec(lines[i]!);
    if (heading) section = heading[1]!.trim();
    const fence = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!fence) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`README.md:${i + 1}: code block never closed`);
    let p = i - 1;
    while (p >= 0 && lines[p]!.trim() === "") p--;
    let q = p;
    while (q >= 0 && lines[q]!.trim() !== "") q--;
    blocks.push({ lang: fence[1]!, code: lines.slice(i + 1, end).join("\n") + "\n", line: i + 1, section, before: lines.slice(q + 1, p + 1).join(" ") });
    i = end;
  }
  return blocks;
}

/**
 * The lines a block says it prints: `console.log(…);   // <line>` in order. A trailing "…" means
 * "starts with".
 */
export function expectedOutput(code: string): string[] {
  return [...code.matchAll(/console\.log\(.*\);\s*\/\/\s*(.+)$/gm)].map((m) => m[1]!.trim());
}

/** Throws unless `stdout` has each expected line, in order. */
export function checkOutput(code: string, stdout: string, where: string): void {
  const out = stdout.split("\n").map((l) => l.trim());
  let at = 0;
  for (const want of expectedOutput(code)) {
    const prefix = want.endsWith("…") ? want.slice(0, -1).trimEnd() : undefined;
    const found = out.findIndex((l, i) => i >= at && (prefix !== undefined ? l.startsWith(prefix) : l === want));
    if (found < 0) throw new Error(`${where}: the comment says it prints\n  ${want}\nbut it printed\n${stdout}`);
    at = found + 1;
  }
}
