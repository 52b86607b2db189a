export { allocate, promote, type Data, type DType } from "./dtype.js";
export { broadcastShapes, sizeOf, type Shape } from "./shape.js";
export { Random, type RandomState } from "./random.js";
export { Tensor, tensor, zeros, ones, full, arange, rand, randn, type GradNode, type NestedArray, type TensorOptions, type RandomOptions } from "./tensor.js";
export { mapBinary, mapUnary, broadcastInto, sumToShape } from "./elementwise.js";
export { matmulInto, matmulNaiveInto } from "./matmul.js";
