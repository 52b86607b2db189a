export {
  DEFAULT_BLOCKS,
  WasmMatmul,
  createWasmMatmul,
  initWasm,
  matmulWasmInto,
  wasmMatmulModuleBytes,
  wasmSimdSupported,
  type BlockSizes,
  type WasmMatmulOptions,
} from './matmul.js';
export { DEFAULT_SHAPE, type GemmExports, type KernelShape } from './matmul-module.js';
