import "./wasm-types.js";
export * from "./tensor/index.js";
export * from "./autograd/index.js";
export * from "./nn/index.js";
export * from "./vae/index.js";
