// The latent explorer's server (`npm run explore`): node:http, no framework. It serves one page and its two
// bundles (built from src/browser with esbuild when the server starts), the checkpoint's bytes and slices of
// MNIST as raw bytes; the page runs the model itself, in the browser, with this library. Everything is
// same-origin and served with COOP/COEP (cross-origin isolated, so SharedArrayBuffer is available), and the
// page loads nothing from elsewhere: it works offline.
import type { ExplorerInfo } from "../browser/protocol.js";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { loadModel, readBytes } from "./checkpoint.js";
import { loadMnist, type Mnist } from "./mnist.js";

const here = dirname(fileURLToPath(import.meta.url));
const browserDir = resolve(here, "..", "browser");

/** Where `npm run vae` (the walkthrough) leaves its model: used when no --checkpoint is given. */
export const DEFAULT_CHECKPOINT = "runs/walkthrough/model.safetensors";
export const DEFAULT_PORT = 8765;
export const DEFAULT_POINTS = 5000;

export interface ExplorerOptions {
  /** A model or train-state file; default DEFAULT_CHECKPOINT under `cwd` if it exists, else an untrained model. */
  checkpoint?: string;
  /** 0 picks a free port. Default DEFAULT_PORT. */
  port?: number;
  /** Default 127.0.0.1 (this machine only). */
  host?: string;
  /** Test images whose encoder means the page plots (default DEFAULT_POINTS, at most 10000). */
  points?: number;
  /** Resolves the default checkpoint (default process.cwd()). */
  cwd?: string;
}

export interface Explorer {
  url: string;
  port: number;
  /** The checkpoint served, or null (the page starts with an untrained model). */
  checkpoint: string | null;
  /** How the page describes the model. */
  source: string;
  close(): Promise<void>;
}

/**
 * The page's two bundles, built in memory: main.js holds the page, the core and vega with vega-lite (the charts,
 * src/charts), minified (about 1 MB instead of 2); worker.js the core. vega and vega-lite are optional peer
 * dependencies: without them the page cannot be built, and this says what to install.
 */
export async function buildExplorerBundles(): Promise<Record<"main.js" | "worker.js", string>> {
  const result = await build({
    entryPoints: { main: join(browserDir, "main.ts"), worker: join(browserDir, "worker.ts") },
    outdir: "/explorer",
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
    legalComments: "none",
    minify: true,
  }).catch((e: { errors?: { text: string }[] }) => {
    if (e.errors?.some((m) => /Could not resolve "vega(-lite)?"/.test(m.text))) {
      throw new Error("explore: the page's charts need the packages vega and vega-lite (optional dependencies of tsgrad-vae), which are not installed; run `npm install vega vega-lite`");
    }
    throw e;
  });
  const files = Object.fromEntries(result.outputFiles.map((f) => [f.path.replace(/^.*[\\/]/, ""), f.text]));
  if (!files["main.js"] || !files["worker.js"]) throw new Error(`explore: esbuild produced ${Object.keys(files).join(", ")}, expected main.js and worker.js`);
  return files as Record<"main.js" | "worker.js", string>;
}

const SECURITY_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
};

/** Starts the explorer; resolves once it listens. */
export async function startExplorer(options: ExplorerOptions = {}): Promise<Explorer> {
  const cwd = options.cwd ?? process.cwd();
  const points = options.points ?? DEFAULT_POINTS;
  if (!Number.isInteger(points) || points < 1 || points > 10000) throw new Error(`explore: points must be an integer in 1..10000, got ${points}`);

  // The checkpoint: given, or the walkthrough's, or none. Loading it here reports a bad file at once.
  let checkpoint: string | null = null;
  let note: string | undefined;
  if (options.checkpoint !== undefined) checkpoint = resolve(cwd, options.checkpoint);
  else if (existsSync(resolve(cwd, DEFAULT_CHECKPOINT))) checkpoint = resolve(cwd, DEFAULT_CHECKPOINT);
  else note = `no --checkpoint given and no ${DEFAULT_CHECKPOINT}`;
  let modelBytes: Uint8Array | null = null;
  let metadata: Record<string, string> = {};
  let source: string;
  if (checkpoint) {
    const loaded = loadModel(checkpoint);
    metadata = loaded.metadata;
    modelBytes = readBytes(checkpoint);
    const { hidden, encoderVariance } = loaded.model.config;
    const shown = relative(cwd, checkpoint);
    source = `${shown && !shown.startsWith("..") ? shown : checkpoint}: hidden ${hidden}${encoderVariance === "learned" ? ", learned variance" : ""}${metadata.epoch ? `, trained ${metadata.epoch} epoch${metadata.epoch === "1" ? "" : "s"}` : ""}`;
  } else {
    source = "a freshly initialized, untrained model (seed 0, hidden 500)";
  }

  const test: Mnist = loadMnist("test", { limit: points });
  let train: Mnist | undefined;
  const trainSet = () => (train ??= loadMnist("train"));
  const html = readFileSync(join(browserDir, "index.html"), "utf8");
  const bundles = await buildExplorerBundles();
  const info: ExplorerInfo = { checkpoint, source, metadata, points: test.count, trainImages: 60000, defaultCheckpoint: DEFAULT_CHECKPOINT, ...(note && { note }) };

  const send = (res: ServerResponse, status: number, type: string, body: string | Uint8Array) => {
    res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  };
  const count = (url: URL, max: number, fallback: number) => {
    const n = Number(url.searchParams.get("n") ?? fallback);
    return Number.isInteger(n) && n >= 1 ? Math.min(n, max) : fallback;
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain; charset=utf-8", "GET only\n");
    const D = test.rows * test.cols;
    switch (url.pathname) {
      case "/":
      case "/index.html":
        return send(res, 200, "text/html; charset=utf-8", html);
      case "/main.js":
      case "/worker.js":
        return send(res, 200, "text/javascript; charset=utf-8", bundles[url.pathname.slice(1) as "main.js" | "worker.js"]);
      case "/api/info":
        return send(res, 200, "application/json; charset=utf-8", JSON.stringify(info));
      case "/model.safetensors":
        return modelBytes ? send(res, 200, "application/octet-stream", modelBytes) : send(res, 404, "text/plain; charset=utf-8", "no checkpoint\n");
      case "/data/test-images": {
        const n = count(url, test.count, test.count);
        return send(res, 200, "application/octet-stream", test.images.subarray(0, n * D));
      }
      case "/data/test-labels":
        return send(res, 200, "application/octet-stream", test.labels.subarray(0, count(url, test.count, test.count)));
      case "/data/train-images": {
        const t = trainSet();
        const n = count(url, t.count, 5000);
        return send(res, 200, "application/octet-stream", t.images.subarray(0, n * D));
      }
      default:
        return send(res, 404, "text/plain; charset=utf-8", `not found: ${url.pathname}\n`);
    }
  };

  const server: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", `explore: ${(e as Error).message}\n`);
      else res.destroy();
    }
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolvePromise, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(e.code === "EADDRINUSE" ? new Error(`explore: port ${options.port ?? DEFAULT_PORT} is in use; pick another with --port P (0 for any free port)`) : e));
    server.listen(options.port ?? DEFAULT_PORT, host, () => resolvePromise());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  return {
    url: `http://${shownHost}:${port}/`,
    port,
    checkpoint,
    source,
    close: () =>
      new Promise<void>((resolvePromise) => {
        server.closeAllConnections();
        server.close(() => resolvePromise());
      }),
  };
}
