import { defineConfig } from "vitest/config";

// Every test runs on the default backend (WebAssembly SIMD where supported, with relaxed SIMD's FMA
// where the engine has it); the numerical tests run again on the plain TypeScript backend and on
// WebAssembly without FMA (TSGRAD_FMA=0), so all three pass the same suite.
const numerical = ["test/ops.test.ts", "test/core.test.ts", "test/views.test.ts", "test/higher-order.test.ts", "test/contracts.test.ts", "test/validation.test.ts", "test/matmul.test.ts", "test/autograd.test.ts", "test/nn.test.ts", "test/vae.test.ts", "test/train.test.ts", "test/optim.test.ts", "test/threads.test.ts", "test/binary.test.ts", "test/step-memory.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    // Relaxed SIMD on Node 20, so that the default project runs the FMA kernels where the CPU has FMA.
    setupFiles: ["src/node/relaxed-simd.ts"],
    projects: [
      { extends: true, test: { name: "wasm", include: ["test/**/*.test.ts"], env: { TSGRAD_BACKEND: "wasm" } } },
      { extends: true, test: { name: "js", include: numerical, env: { TSGRAD_BACKEND: "js" } } },
      // The deterministic kernels (no fused multiply-adds), where "wasm" above uses FMA.
      { extends: true, test: { name: "wasm-nofma", include: numerical, env: { TSGRAD_BACKEND: "wasm", TSGRAD_FMA: "0" } } },
    ],
  },
});
