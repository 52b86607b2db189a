export { Linear, MLP, functionalCall, type Activation, type InitOptions, type Module } from "./layers.js";
export { Adam, SGD, type AdamOptions, type Optimizer } from "./optim.js";
export { encodeSafetensors, decodeSafetensors, type StoredTensor } from "./safetensors.js";
export { saveParameters, loadParameters, type LoadOptions, type Loaded } from "./checkpoint.js";
