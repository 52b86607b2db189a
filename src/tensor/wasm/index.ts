export {
  DEFAULT_BLOCKS,
  WasmMatmul,
  createWasmMatmul,
  initWasm,
  matmulWasmInto,
  wasmMatmulModuleBytes,
  wasmSimdSupported,
  wasmFmaSupported,
  getFma,
  setFma,
  type BlockSizes,
  type WasmMatmulOptions,
} from './matmul.js';
export { DEFAULT_SHAPE, type GemmExports, type KernelShape } from './matmul-module.js';
