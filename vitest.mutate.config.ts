import { defineConfig } from "vitest/config";

// The tests StrykerJS runs against each mutant (npm run mutate): the numerical and unit tests of the
// core and the model, on the default backend. The command line, package, notebook and browser
// tests spawn processes or browsers and check the plumbing rather than the math; they stay out.
export default defineConfig({
  test: {
    // Generous: instrumented code is slower, the run is at the lowest priority, and a SIGSTOPped run must not fail a test.
    testTimeout: 300_000,
    // As the default project (vitest.config.ts): relaxed SIMD on Node 20, so the FMA kernels run too.
    setupFiles: ["src/node/relaxed-simd.ts"],
    include: [
      "test/ops.test.ts", "test/core.test.ts", "test/views.test.ts", "test/higher-order.test.ts", "test/autograd.test.ts",
      "test/matmul.test.ts", "test/wasm-matmul.test.ts", "test/kernels.test.ts", "test/fused-wasm.test.ts", "test/nn.test.ts",
      "test/optim.test.ts", "test/safetensors.test.ts", "test/idx.test.ts", "test/vae.test.ts", "test/vae-precision.test.ts",
      "test/train.test.ts", "test/threads.test.ts", "test/contracts.test.ts", "test/validation.test.ts", "test/fuzz.test.ts",
      "test/mutants-nn.test.ts", "test/mutants-vae.test.ts", "test/mutants-autograd.test.ts", "test/binary.test.ts", "test/mutants-tensor.test.ts",
      "test/marginal.test.ts", "test/step-memory.test.ts",
    ],
  },
});
