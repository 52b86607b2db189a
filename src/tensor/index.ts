export { allocate, promote, type Data, type DType } from "./dtype.js";
export { broadcastShapes, sizeOf, type Shape } from "./shape.js";
export { Random, type RandomState } from "./random.js";
export { Tensor, Storage, astype, dense, view, bumpVersion, contiguousStrides, tensor, zeros, ones, full, arange, rand, randn, type GradNode, type NestedArray, type TensorOptions, type RandomOptions } from "./tensor.js";
export { mapBinary, mapUnary, broadcastInto, sumToShape } from "./elementwise.js";
export { matmulInto, matmulJsInto, matmulNaiveInto, type MatmulKernel } from "./matmul.js";
export { getBackend, setBackend, backendInfo, type Backend } from "./backend.js";
export { matmulWasmInto, wasmSimdSupported, initWasm } from "./wasm/index.js";
export { getThreads, useWebWorkers, stopThreads, startThreads, setThreadOptions, type SpawnWorker, type ThreadOptions } from "./wasm/parallel.js";
