// Child process running onnxruntime-web for bench/peers/ort.ts: one process per thread count, since
// the runtime's WebAssembly instance is created once per process with `ort.env.wasm.numThreads`
// fixed from then on. Started by `fork` with the tsx loader; talks over IPC (advanced serialization,
// so typed arrays pass as such). Timing happens here, next to the work.
import { dirname } from "node:path";
import { createRequire } from "node:module";
import * as ort from "onnxruntime-web";
import { gemmModel, type GemmSpec } from "./onnx-gemm.js";

export type Request =
  | { type: "init"; threads: number }
  | { type: "setup"; spec: GemmSpec; a: Float32Array; b: Float32Array }
  | { type: "run"; reps: number }
  | { type: "result" };

export type Reply =
  | { type: "ready"; threads: number; version: string; wasmPaths: string; warnings: string[] }
  | { type: "done" }
  | { type: "ran"; ms: number; cpuMs: number }
  | { type: "result"; y: Float32Array }
  | { type: "error"; message: string };

const warnings: string[] = [];
console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(" "));

let session: ort.InferenceSession | undefined;
let feeds: Record<string, ort.Tensor> = {};

async function handle(req: Request): Promise<Reply> {
  switch (req.type) {
    case "init": {
      // The .wasm and its .mjs loader ship in the package's dist folder; nothing is fetched.
      const dist = dirname(createRequire(import.meta.url).resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm")) + "/";
      ort.env.wasm.wasmPaths = dist;
      ort.env.wasm.numThreads = req.threads;
      ort.env.wasm.proxy = false;
      // Creating a first session initializes the runtime; it lowers numThreads to 1 (with a warning) where threads cannot run.
      await ort.InferenceSession.create(gemmModel({ m: 2, k: 2, n: 2, transA: false, transB: false }), { executionProviders: ["wasm"] });
      return { type: "ready", threads: ort.env.wasm.numThreads ?? 0, version: ort.env.versions.web ?? "?", wasmPaths: dist, warnings };
    }
    case "setup": {
      await session?.release();
      const { spec, a, b } = req;
      session = await ort.InferenceSession.create(gemmModel(spec), { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
      feeds = {
        A: new ort.Tensor("float32", a, spec.transA ? [spec.k, spec.m] : [spec.m, spec.k]),
        B: new ort.Tensor("float32", b, spec.transB ? [spec.n, spec.k] : [spec.k, spec.n]),
      };
      return { type: "done" };
    }
    case "run": {
      const s = session!;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let r = 0; r < req.reps; r++) {
        const out = await s.run(feeds);
        out.Y.dispose();
      }
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      return { type: "ran", ms, cpuMs: (cpu.user + cpu.system) / 1000 };
    }
    case "result": {
      const out = await session!.run(feeds);
      return { type: "result", y: Float32Array.from(out.Y.data as Float32Array) };
    }
  }
}

process.on("message", (req: Request) => {
  handle(req).then(
    (reply) => process.send!(reply),
    (e: unknown) => process.send!({ type: "error", message: e instanceof Error ? e.stack ?? e.message : String(e) } satisfies Reply),
  );
});
process.on("disconnect", () => process.exit(0));
