// The Node-only entry of the package, `tsgrad-vae/node`: MNIST files, checkpoints on disk, the HTML
// report and atomic writes. The core (`tsgrad-vae`) has no Node import and also runs in browsers.
import "./relaxed-simd.js"; // first: relaxed SIMD on Node 20, before any module is compiled
import "../wasm-types.js";
export { loadMnist, mnistPaths, type Mnist, type Split } from "./mnist.js";
export {
  MODEL_FORMAT,
  TRAIN_FORMAT,
  loadModel,
  readBytes,
  readMetrics,
  readTrainState,
  runFiles,
  saveModel,
  saveTrainState,
  writeMetrics,
  type TrainCheckpoint,
} from "./checkpoint.js";
export { renderReport, writeReport, type EpochMetrics, type ReportData } from "./report.js";
export { writeFileAtomic } from "./atomic.js";
export { encodePng, imageGridPng, type GridOptions } from "./png.js";
export { useWorkerThreads, stopWorkerThreads } from "./threads.js";
