// PCA of patch features in float64, and the DINOv2 paper's picture of it: the first three
// components as RGB, optionally after keeping the patches whose first component passes a
// threshold (the foreground) and redoing the PCA on those alone.
//
// The eigenvectors come from the smaller of the two symmetric matrices: the Gram matrix Xc·Xcᵀ
// [n, n] when there are fewer patches than channels (then a score is sqrt(λ)·u), else the scatter
// matrix Xcᵀ·Xc [d, d] (then a score is Xc·v). Both are solved by subspace iteration with a
// Rayleigh-Ritz step (Jacobi on the small projected matrix) until every wanted Ritz pair's
// residual ‖A·q − θ·q‖ is below 1e-10·θ₁.

export interface Pca {
  /** [n, k] row-major: each patch's coordinate along each component. */
  scores: Float64Array;
  k: number;
  /** Variances along the components (eigenvalues of the covariance, n − 1 in the denominator), descending. */
  eigenvalues: number[];
  /** Each component's share of the total variance. */
  explained: number[];
  iterations: number;
  converged: boolean;
}

export interface PcaOptions {
  maxIterations?: number;
  tolerance?: number;
}

/** Seeded uniform numbers in [-1, 1) (mulberry32): the same start, so the same answer, every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

/** Eigen-decomposition of a small symmetric matrix [p, p] by cyclic Jacobi: values descending, vectors as columns. */
export function jacobiEigen(a: Float64Array, p: number): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(p * p);
  for (let i = 0; i < p; i++) v[i * p + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < p; i++) for (let j = i + 1; j < p; j++) off += m[i * p + j] ** 2;
    if (off < 1e-30) break;
    for (let i = 0; i < p; i++) {
      for (let j = i + 1; j < p; j++) {
        const aij = m[i * p + j];
        if (aij === 0) continue;
        const theta = (m[j * p + j] - m[i * p + i]) / (2 * aij);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < p; k++) {
          const mki = m[k * p + i];
          const mkj = m[k * p + j];
          m[k * p + i] = c * mki - s * mkj;
          m[k * p + j] = s * mki + c * mkj;
        }
        for (let k = 0; k < p; k++) {
          const mik = m[i * p + k];
          const mjk = m[j * p + k];
          m[i * p + k] = c * mik - s * mjk;
          m[j * p + k] = s * mik + c * mjk;
        }
        for (let k = 0; k < p; k++) {
          const vki = v[k * p + i];
          const vkj = v[k * p + j];
          v[k * p + i] = c * vki - s * vkj;
          v[k * p + j] = s * vki + c * vkj;
        }
      }
    }
  }
  const order = Array.from({ length: p }, (_, i) => i).sort((x, y) => m[y * p + y] - m[x * p + x]);
  const values = Float64Array.from(order, (i) => m[i * p + i]);
  const vectors = new Float64Array(p * p);
  order.forEach((src, dst) => {
    for (let k = 0; k < p; k++) vectors[k * p + dst] = v[k * p + src];
  });
  return { values, vectors };
}

/** Orthonormalizes the p columns of q [m, p] in place (modified Gram-Schmidt, twice); a column that vanishes is replaced by a fresh seeded one. */
function orthonormalize(q: Float64Array, m: number, p: number, rand: () => number): void {
  for (let j = 0; j < p; j++) {
    for (let attempt = 0; ; attempt++) {
      let before = 0;
      for (let r = 0; r < m; r++) before += q[r * p + j] ** 2;
      for (let pass = 0; pass < 2; pass++) {
        for (let i = 0; i < j; i++) {
          let dot = 0;
          for (let r = 0; r < m; r++) dot += q[r * p + i] * q[r * p + j];
          for (let r = 0; r < m; r++) q[r * p + j] -= dot * q[r * p + i];
        }
      }
      let norm = 0;
      for (let r = 0; r < m; r++) norm += q[r * p + j] ** 2;
      norm = Math.sqrt(norm);
      if (norm > 1e-10 * Math.sqrt(before) && norm > 1e-300) {
        for (let r = 0; r < m; r++) q[r * p + j] /= norm;
        break;
      }
      if (attempt > 10) throw new Error('pca: cannot complete an orthonormal basis');
      for (let r = 0; r < m; r++) q[r * p + j] = rand();
    }
  }
}

/** The top `k` eigenpairs of the symmetric [m, m] matrix `a`: values descending, vectors as columns of [m, k]. */
export function topEigen(
  a: Float64Array,
  m: number,
  k: number,
  options: PcaOptions = {},
): { values: number[]; vectors: Float64Array; iterations: number; converged: boolean } {
  const maxIterations = options.maxIterations ?? 3000;
  const tolerance = options.tolerance ?? 1e-10;
  const kk = Math.min(k, m);
  const p = Math.min(m, kk + 4); // a few guard vectors speed convergence to λ_{p+1}/λ_k
  const rand = seeded(1);
  let q = new Float64Array(m * p);
  for (let i = 0; i < q.length; i++) q[i] = rand();
  orthonormalize(q, m, p, rand);
  const z = new Float64Array(m * p);
  let iterations = 0;
  let converged = false;
  let values: Float64Array = new Float64Array(p);
  for (; iterations < maxIterations; iterations++) {
    // z = A q
    z.fill(0);
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < m; c++) {
        const arc = a[r * m + c];
        if (arc === 0) continue;
        for (let j = 0; j < p; j++) z[r * p + j] += arc * q[c * p + j];
      }
    }
    // Rayleigh-Ritz: t = qᵀ z, eigenvectors w; Ritz vectors q w with A q w = z w.
    const t = new Float64Array(p * p);
    for (let i = 0; i < p; i++) {
      for (let j = i; j < p; j++) {
        let s = 0;
        for (let r = 0; r < m; r++) s += q[r * p + i] * z[r * p + j];
        t[i * p + j] = s;
        t[j * p + i] = s;
      }
    }
    const eig = jacobiEigen(t, p);
    values = eig.values;
    const w = eig.vectors;
    const qw = new Float64Array(m * p);
    const zw = new Float64Array(m * p);
    for (let r = 0; r < m; r++) {
      for (let j = 0; j < p; j++) {
        let sq = 0;
        let sz = 0;
        for (let i = 0; i < p; i++) {
          sq += q[r * p + i] * w[i * p + j];
          sz += z[r * p + i] * w[i * p + j];
        }
        qw[r * p + j] = sq;
        zw[r * p + j] = sz;
      }
    }
    let worst = 0;
    for (let j = 0; j < kk; j++) {
      let res = 0;
      for (let r = 0; r < m; r++) res += (zw[r * p + j] - values[j] * qw[r * p + j]) ** 2;
      worst = Math.max(worst, Math.sqrt(res));
    }
    const scale = Math.max(Math.abs(values[0]), 1e-300);
    if (worst <= tolerance * scale || values[0] === 0) {
      q = qw;
      converged = true;
      iterations++;
      break;
    }
    q = zw;
    orthonormalize(q, m, p, rand);
  }
  const vectors = new Float64Array(m * kk);
  for (let r = 0; r < m; r++) for (let j = 0; j < kk; j++) vectors[r * kk + j] = q[r * p + j];
  return { values: Array.from(values.subarray(0, kk)), vectors, iterations, converged };
}

/**
 * PCA of the n rows of x [n, d]. Each component's sign is fixed so that its scores are skewed
 * positive (Σ score³ > 0): the smaller, more distinct group of patches (usually the foreground)
 * comes out positive, and the picture does not flip between runs.
 */
export function pca(x: Float64Array, n: number, d: number, k = 3, options: PcaOptions = {}): Pca {
  if (x.length !== n * d) throw new Error(`pca: ${x.length} values are not [${n}, ${d}]`);
  if (n < 1 || d < 1) throw new Error(`pca: needs at least one row and one column, got [${n}, ${d}]`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const xc = new Float64Array(n * d);
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const v = x[i * d + j] - mean[j];
      xc[i * d + j] = v;
      total += v * v;
    }
  }
  const gram = n <= d;
  const m = gram ? n : d;
  const a = new Float64Array(m * m);
  if (gram) {
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += xc[i * d + c] * xc[j * d + c];
        a[i * n + j] = s;
        a[j * n + i] = s;
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      for (let r = 0; r < d; r++) {
        const v = xc[i * d + r];
        if (v === 0) continue;
        for (let c = r; c < d; c++) a[r * d + c] += v * xc[i * d + c];
      }
    }
    for (let r = 0; r < d; r++) for (let c = 0; c < r; c++) a[r * d + c] = a[c * d + r];
  }
  const eig = topEigen(a, m, k, options);
  const kk = eig.values.length;
  const scores = new Float64Array(n * k);
  for (let j = 0; j < kk; j++) {
    const lambda = Math.max(0, eig.values[j]);
    for (let i = 0; i < n; i++) {
      let s: number;
      if (gram) s = Math.sqrt(lambda) * eig.vectors[i * kk + j];
      else {
        s = 0;
        for (let c = 0; c < d; c++) s += xc[i * d + c] * eig.vectors[c * kk + j];
      }
      scores[i * k + j] = s;
    }
    let skew = 0;
    let scale = 0;
    let extreme = 0;
    for (let i = 0; i < n; i++) {
      const s = scores[i * k + j];
      skew += s * s * s;
      scale += Math.abs(s) ** 3;
      if (Math.abs(s) > Math.abs(extreme)) extreme = s;
    }
    const flip = Math.abs(skew) > 1e-9 * scale ? skew < 0 : extreme < 0;
    if (flip) for (let i = 0; i < n; i++) scores[i * k + j] = -scores[i * k + j];
  }
  const denom = Math.max(1, n - 1);
  const eigenvalues = Array.from({ length: k }, (_, j) => (j < kk ? Math.max(0, eig.values[j]) / denom : 0));
  return {
    scores,
    k,
    eigenvalues,
    explained: eigenvalues.map((v) => (total > 0 ? (v * denom) / total : 0)),
    iterations: eig.iterations,
    converged: eig.converged,
  };
}

export interface PcaPicture {
  /** Opaque RGBA [n * 4]: components 1, 2, 3 as R, G, B, each min-max scaled over the shown patches; background black. */
  rgba: Uint8ClampedArray;
  /** 1 where the patch is shown (all of them without a threshold). */
  foreground: Uint8Array;
  first: Pca;
  /** The PCA of the foreground alone, when a threshold was given and kept at least two patches. */
  second?: Pca;
}

/** Min-max to 0..1 over the selected rows of column j of an [n, k] score matrix. */
function scaled(scores: Float64Array, k: number, j: number, rows: number[]): (i: number) => number {
  let min = Infinity;
  let max = -Infinity;
  for (const i of rows) {
    min = Math.min(min, scores[i * k + j]);
    max = Math.max(max, scores[i * k + j]);
  }
  const span = max - min;
  return (i) => (span > 0 ? (scores[i * k + j] - min) / span : 0);
}

/**
 * The DINOv2 paper's PCA picture of patch features x [n, d]. With `threshold` (0..1), patches
 * whose first component, min-max scaled, is above it are the foreground; the PCA is redone on
 * those alone and the rest is black.
 */
export function pcaPicture(
  x: Float64Array,
  n: number,
  d: number,
  threshold?: number,
  options: PcaOptions = {},
): PcaPicture {
  const first = pca(x, n, d, 3, options);
  const all = Array.from({ length: n }, (_, i) => i);
  const rgba = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) rgba[i * 4 + 3] = 255;
  const foreground = new Uint8Array(n);
  const paint = (scores: Float64Array, k: number, rows: number[], local: (row: number) => number) => {
    const channels = [0, 1, 2].map((j) => scaled(scores, k, j, rows.map(local)));
    for (const i of rows) {
      foreground[i] = 1;
      for (let c = 0; c < 3; c++) rgba[i * 4 + c] = Math.round(255 * channels[c](local(i)));
    }
  };
  if (threshold === undefined) {
    paint(first.scores, first.k, all, (i) => i);
    return { rgba, foreground, first };
  }
  const c0 = scaled(first.scores, first.k, 0, all);
  const fg = all.filter((i) => c0(i) > threshold);
  if (fg.length < 2) {
    paint(first.scores, first.k, fg, (i) => i);
    return { rgba, foreground, first };
  }
  const sub = new Float64Array(fg.length * d);
  fg.forEach((i, r) => sub.set(x.subarray(i * d, (i + 1) * d), r * d));
  const second = pca(sub, fg.length, d, 3, options);
  const row = new Map(fg.map((i, r) => [i, r]));
  paint(second.scores, second.k, fg, (i) => row.get(i)!);
  return { rgba, foreground, first, second };
}
