// The data the charts draw, as plain objects: no vega type appears here, so that declarations which name
// them (the report's ReportData) type-check without the optional vega packages.

export interface EpochMetrics {
  epoch: number;
  trainElbo: number;
  testElbo: number;
  seconds: number;
}

/** One image's true posterior p(z|x) on its quadrature grid, with q(z|x), the mode and the Laplace Gaussian. */
export interface PosteriorGrid {
  box: { z1: [number, number]; z2: [number, number] };
  /** Points per side of the grid. */
  points: number;
  /** log p(z|x) at the n×n cell midpoints, row i (z₂ increasing), column j (z₁ increasing). */
  logPosterior: ArrayLike<number>;
  encoderMean: [number, number];
  /** q(z|x)'s standard deviation in each coordinate. */
  qStd: [number, number];
  mode: [number, number];
  /** (−H)⁻¹ at the mode, row-major; absent where −H is not positive definite (no Laplace Gaussian). */
  laplaceCovariance?: [number, number, number, number];
}

/** A posterior of the report: which image, and its numbers. */
export interface ExactPosterior extends PosteriorGrid {
  /** Why this image: "smallest gap", "median gap", "largest gap". */
  which: string;
  index: number;
  label?: number;
  gap: number;
  logMarginal: number;
  elbo: number;
  laplace: number;
  logPosterior: Float64Array;
  laplaceCovariance: [number, number, number, number];
}

/** The exact quantities of one image, or their means over several (then with the spread of the gap). */
export interface ExactNumbers {
  /** The ELBO of q(z|x) by quadrature. */
  elbo: number;
  /** IWAE_K by K (none: no IWAE rows). */
  iwae?: Record<string | number, number>;
  /** The Laplace approximation of log p(x) (absent: no row). */
  laplace?: number;
  logMarginal: number;
  /** The quadrature's error estimate (the mean over the images, for several). */
  logMarginalError: number;
  /** Several images: the largest error estimate. */
  logMarginalMaxError?: number;
  /** log p(x) − ELBO = KL(q ‖ p(z|x)). */
  gap: number;
  /** Several images: the gap's spread. */
  gapMin?: number;
  gapMedian?: number;
  gapMax?: number;
  /** One image: the final grid's points per side, and the mode ẑ where Laplace is taken. */
  points?: number;
  mode?: [number, number];
}

export interface ExactReport extends ExactNumbers {
  images: number;
  iwae: Record<string, number>;
  laplace: number;
  posteriors: ExactPosterior[];
}
