// The two WebAssembly types that the package's declarations name (src/tensor/wasm), declared here so
// that they type-check in a consumer's strict tsconfig without skipLibCheck where no lib declares
// WebAssembly (e.g. "lib": ["ES2022"] with @types/node 20). Empty interfaces merge with the full
// declarations wherever the DOM lib or a newer @types/node provides them.
export {};

declare global {
  namespace WebAssembly {
    interface Memory {}
    interface Module {}
  }
}
