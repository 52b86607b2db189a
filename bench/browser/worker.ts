// bench/browser.ts's page worker: fetches the bench's images, starts the matmul threads (web workers; the
// page is cross-origin isolated) and runs trainingSpeed, as bench/browser.ts does in Node.
import { binarize, getFma, initWasm, useWebWorkers } from "../../src/index.js";
import { productSpeed, trainingSpeed, type TrainingSpeedOptions } from "./training.js";

const scope = self as unknown as { onmessage: ((e: MessageEvent<TrainingSpeedOptions & { threads: number; productReps: number }>) => void) | null; postMessage(m: unknown): void };
scope.onmessage = async (e) => {
  try {
    await initWasm();
    const threads = e.data.threads > 1 ? await useWebWorkers(e.data.threads) : 1;
    const res = await fetch("/images");
    if (!res.ok) throw new Error(`GET /images: ${res.status}`);
    const images = binarize(new Uint8Array(await res.arrayBuffer()));
    scope.postMessage({ ok: true, fma: getFma(), threadsStarted: threads, products: productSpeed(e.data.productReps), ...trainingSpeed(images, e.data) });
  } catch (err) {
    scope.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) });
  }
};
