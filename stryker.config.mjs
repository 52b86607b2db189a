// StrykerJS over the core and the model (npm run mutate; scripts/mutate.ts prints the scores).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutate.config.ts" },
  coverageAnalysis: "perTest",
  mutate: ["src/tensor/**/*.ts", "src/autograd/**/*.ts", "src/nn/**/*.ts", "src/vae/**/*.ts"],
  ignoreStatic: true,
  concurrency: 2,
  timeoutMS: 20000,
  // The initial run of every test, instrumented, at the lowest priority on a shared machine: can pass 5 minutes.
  dryRunTimeoutMinutes: 30,
  reporters: ["html", "json", "progress"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  incremental: true,
  incrementalFile: "mutation/stryker-incremental.json",
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
  thresholds: { high: 90, low: 80, break: null },
};
