export { LOG_2PI, logBernoulli, logDiagNormal, logStandardNormal } from "./densities.js";
export { VAE, seedConfig, type Posterior, type VaeConfig } from "./model.js";
export * from "./elbo.js";
export { binarize, binarize64, parseIdx } from "./idx.js";
export * from "./train.js";
export * from "./quantile.js";
export { MODEL_FORMAT, TRAIN_FORMAT, modelBytes, modelFromBytes, modelMetadata } from "./checkpoint-meta.js";
export * from "./marginal.js";
