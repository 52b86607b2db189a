// bench/browser.ts's page: hands the options in the URL to a module worker (a worker may block, so the
// matmul threads can run) and leaves its answer in window.__bench.
const options = JSON.parse(decodeURIComponent(location.hash.slice(1)));
const worker = new Worker("/worker.js", { type: "module" });
worker.onmessage = (e) => ((window as unknown as { __bench: unknown }).__bench = e.data);
worker.onerror = (e) => ((window as unknown as { __bench: unknown }).__bench = { ok: false, error: e.message });
worker.postMessage(options);
