import { defineConfig } from "vitest/config";

// Every test runs on the default backend (WebAssembly SIMD where supported); the numerical tests
// run a second time on the plain TypeScript backend, so both pass the same suite.
const numerical = ["test/ops.test.ts", "test/core.test.ts", "test/views.test.ts", "test/higher-order.test.ts", "test/matmul.test.ts", "test/autograd.test.ts", "test/nn.test.ts", "test/vae.test.ts", "test/train.test.ts", "test/optim.test.ts", "test/threads.test.ts", "test/binary.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    projects: [
      { extends: true, test: { name: "wasm", include: ["test/**/*.test.ts"], env: { TSGRAD_BACKEND: "wasm" } } },
      { extends: true, test: { name: "js", include: numerical, env: { TSGRAD_BACKEND: "js" } } },
    ],
  },
});
