// Node 20 compiles relaxed SIMD (f32x4.relaxed_madd, the matmul kernels' FMA) only behind a V8 flag;
// Node ≥ 22 and Chromium ≥ 114 have it by default. Importing this module sets the flag: before the
// first WebAssembly module is compiled, which is why tsgrad-vae/node and the command line import it
// first. Harmless where the flag is already on or unknown.
import v8 from "node:v8";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
