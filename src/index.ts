export * from "./tensor/index.js";
export * from "./autograd/index.js";
