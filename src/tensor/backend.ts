import { getFma, wasmSimdSupported } from "./wasm/matmul.js";
import { getThreads } from "./wasm/parallel.js";

/** Where float32 kernels run: "wasm" (WebAssembly SIMD128) or "js" (plain TypeScript, the reference). */
export type Backend = "js" | "wasm";

let selected: Backend | null = null;

function parse(name: string | undefined, source: string): Backend | null {
  if (name === undefined || name === "") return null;
  if (name === "js" || name === "wasm") return name;
  throw new Error(`${source}: unknown backend "${name}"; use "js" or "wasm"`);
}

/**
 * Chooses the backend. By default: the TSGRAD_BACKEND environment variable (Node) if set, else
 * "wasm" where WebAssembly SIMD is supported, else "js".
 * @example setBackend("js")
 */
export function setBackend(backend: Backend): void {
  const b = parse(backend, "setBackend");
  if (b === "wasm" && !wasmSimdSupported()) throw new Error('setBackend: this engine cannot run WebAssembly SIMD128; use "js"');
  selected = b;
}

/** The backend in use. */
export function getBackend(): Backend {
  if (selected === null) {
    // Stryker disable next-line OptionalChaining: Node always has process.env; the chain is for browsers, which have neither
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.TSGRAD_BACKEND;
    const fromEnv = parse(env, "TSGRAD_BACKEND");
    selected = fromEnv ?? (wasmSimdSupported() ? "wasm" : "js");
    if (selected === "wasm" && !wasmSimdSupported()) throw new Error('TSGRAD_BACKEND: this engine cannot run WebAssembly SIMD128; use "js"');
  }
  return selected;
}

/**
 * The backend in use, how many threads its large float32 matmuls use (see useWorkerThreads), and
 * whether those use fused multiply-adds (see setFma).
 */
export function backendInfo(): { backend: Backend; threads: number; fma: boolean } {
  const backend = getBackend();
  return { backend, threads: backend === "wasm" ? getThreads() : 1, fma: backend === "wasm" && getFma() };
}
