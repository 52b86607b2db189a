// onnxruntime-web as a matmul peer: a one-node Gemm model (bench/peers/onnx-gemm.ts) per shape, run by
// a child process per thread count (bench/peers/ort-child.ts says why a process and not a worker_thread).
import { fork, type ChildProcess } from "node:child_process";
import type { GemmSpec } from "./onnx-gemm.js";
import type { Reply, Request } from "./ort-child.js";

/** Why the runtime runs in child processes; printed with the results. */
export const ORT_PROCESS_NOTE =
  "onnxruntime-web runs in one child process per thread count: its wasm instance is created once per process with numThreads fixed, " +
  "and inside a worker_thread its pthread pool did not engage (CPU time stayed at one core), while in a process's main thread it does.";

export class OrtPeer {
  readonly name: string;
  /** Threads the runtime actually uses (it falls back to 1 where threads cannot run), and why if fewer than asked. */
  threads = 0;
  version = "?";
  warnings: string[] = [];
  /** CPU time over wall time of the child across all timed samples: ~1 for one thread, up to the thread count. */
  private cpuMs = 0;
  private wallMs = 0;
  /** The same since the last `setup` (one shape). */
  private shapeCpuMs = 0;
  private shapeWallMs = 0;
  private pending: { resolve: (r: Reply) => void; reject: (e: Error) => void } | null = null;
  private stderr = "";

  private constructor(private readonly child: ChildProcess, readonly requested: number) {
    this.name = `ort×${requested}`;
    child.on("message", (r: Reply) => {
      const p = this.pending;
      this.pending = null;
      if (!p) return;
      if (r.type === "error") p.reject(new Error(`${this.name}: ${r.message}`));
      else p.resolve(r);
    });
    child.stderr?.on("data", (d: Buffer) => void (this.stderr += d.toString()));
    child.on("exit", (code) => this.pending?.reject(new Error(`${this.name}: child exited with code ${code}\n${this.stderr}`)));
  }

  static async start(threads: number): Promise<OrtPeer> {
    // The tsx loader is passed on so that the child can be TypeScript too; its stdout is not ours (--json).
    const child = fork(new URL("./ort-child.ts", import.meta.url), [], {
      execArgv: ["--import", import.meta.resolve("tsx")],
      serialization: "advanced",
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    const peer = new OrtPeer(child, threads);
    const ready = await peer.request({ type: "init", threads });
    if (ready.type !== "ready") throw new Error(`${peer.name}: unexpected reply ${ready.type}`);
    peer.threads = ready.threads;
    peer.version = ready.version;
    peer.warnings = ready.warnings;
    return peer;
  }

  private request(req: Request): Promise<Reply> {
    if (this.pending) throw new Error(`${this.name}: request while another is pending`);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.child.send(req);
    });
  }

  async setup(spec: GemmSpec, a: Float32Array, b: Float32Array): Promise<void> {
    await this.request({ type: "setup", spec, a, b });
    this.shapeCpuMs = this.shapeWallMs = 0;
  }

  /** Elapsed ms of `reps` runs, timed in the child. */
  async run(reps: number): Promise<number> {
    const r = await this.request({ type: "run", reps });
    if (r.type !== "ran") throw new Error(`${this.name}: unexpected reply ${r.type}`);
    this.cpuMs += r.cpuMs;
    this.wallMs += r.ms;
    this.shapeCpuMs += r.cpuMs;
    this.shapeWallMs += r.ms;
    return r.ms;
  }

  async result(): Promise<Float32Array> {
    const r = await this.request({ type: "result" });
    if (r.type !== "result") throw new Error(`${this.name}: unexpected reply ${r.type}`);
    return r.y;
  }

  /** Mean cores busy while timed (process CPU time / wall time), over all shapes. */
  get utilization(): number {
    return this.wallMs > 0 ? this.cpuMs / this.wallMs : NaN;
  }

  /** The same for the shape of the last `setup` (warmup included). */
  get shapeUtilization(): number {
    return this.shapeWallMs > 0 ? this.shapeCpuMs / this.shapeWallMs : NaN;
  }

  close(): void {
    this.child.disconnect();
    this.child.kill();
  }
}
