// The few scipy.ndimage operations mnist_helpers.preprocess and paper use, on row-major
// grids { h, w, data }. Each names the scipy call it stands for and its boundary mode.
// Minimum and maximum filters are exact (for them scipy's "reflect" and "nearest" modes both
// amount to clamping the window to the image). The uniform filter follows scipy's running sum
// in double precision, stored as float32, as scipy does for a float32 image.

/** A grid of h rows and w columns; ``Type`` is the typed array that holds it. */
export function grid(h, w, Type = Float32Array) {
  return { h, w, data: new Type(h * w) };
}

/** The grid transposed (numpy's ``.T``). */
export function transpose(g) {
  const out = { h: g.w, w: g.h, data: new g.data.constructor(g.data.length) };
  for (let y = 0; y < g.h; y++) for (let x = 0; x < g.w; x++) out.data[x * g.h + y] = g.data[y * g.w + x];
  return out;
}

/** The window of a filter of ``size`` with scipy's ``origin``: offsets [lo, hi]. */
function window(size, origin = 0) {
  const lo = -Math.floor(size / 2) + origin;
  return [lo, lo + size - 1];
}

/** scipy.ndimage.minimum_filter1d / maximum_filter1d along ``axis`` (0: down, 1: across),
 * any of scipy's modes "reflect" or "nearest" (the same for a minimum or maximum). A running
 * extreme over a queue of candidates (each pixel enters and leaves it once), so a long
 * window costs no more than a short one, as scipy's does. */
export function extremumFilter1d(g, size, axis, takeMax, origin = 0) {
  const out = { h: g.h, w: g.w, data: new g.data.constructor(g.data.length) };
  const [lo, hi] = window(size, -origin);
  const n = axis === 0 ? g.h : g.w;
  const lines = axis === 0 ? g.w : g.h;
  const step = axis === 0 ? g.w : 1;
  const lineStep = axis === 0 ? 1 : g.w;
  const queue = new Int32Array(n); // positions whose values only get worse from front to back
  const beats = takeMax ? (a, b) => a >= b : (a, b) => a <= b;
  for (let line = 0; line < lines; line++) {
    const base = line * lineStep;
    let head = 0;
    let tail = 0;
    let next = 0; // the next position to enter the queue
    for (let i = 0; i < n; i++) {
      const a = Math.max(0, i + lo);
      const b = Math.min(n - 1, i + hi);
      for (; next <= b; next++) {
        const v = g.data[base + next * step];
        while (tail > head && beats(v, g.data[base + queue[tail - 1] * step])) tail--;
        queue[tail++] = next;
      }
      while (queue[head] < a) head++;
      out.data[base + i * step] = g.data[base + queue[head] * step];
    }
  }
  return out;
}

/** scipy.ndimage.minimum_filter(g, size) (square window, separable). */
export function minimumFilter(g, size) {
  return extremumFilter1d(extremumFilter1d(g, size, 0, false), size, 1, false);
}

/** scipy.ndimage.maximum_filter(g, size) (square window, separable). */
export function maximumFilter(g, size) {
  return extremumFilter1d(extremumFilter1d(g, size, 0, true), size, 1, true);
}

/** scipy.ndimage.grey_dilation(g, size=(s, s)): a maximum filter whose even-sized window is
 * shifted by one (grey_dilation mirrors its origin: offsets -(s/2 - 1) .. s/2). */
export function greyDilation(g, size) {
  const origin = size % 2 === 0 ? -1 : 0;
  return extremumFilter1d(extremumFilter1d(g, size, 0, true, origin), size, 1, true, origin);
}

/** scipy.ndimage.uniform_filter(g, size) of a float32 grid, mode "reflect": scipy's running
 * sum per line in double precision, each pass stored as float32 (axis 0, then axis 1). */
export function uniformFilter(g, size) {
  let current = g;
  for (const axis of [0, 1]) {
    const out = { h: current.h, w: current.w, data: new Float32Array(current.data.length) };
    const n = axis === 0 ? current.h : current.w;
    const lines = axis === 0 ? current.w : current.h;
    const step = axis === 0 ? current.w : 1;
    const lineStep = axis === 0 ? 1 : current.w;
    const before = Math.floor(size / 2);
    const after = size - before - 1;
    const line = new Float64Array(n + before + after);
    for (let l = 0; l < lines; l++) {
      const base = l * lineStep;
      for (let i = -before; i < n + after; i++) {
        // "reflect": d c b a | a b c d | d c b a
        let j = i;
        while (j < 0 || j >= n) j = j < 0 ? -j - 1 : 2 * n - j - 1;
        line[i + before] = current.data[base + j * step];
      }
      let sum = 0.0;
      for (let k = 0; k < size; k++) sum += line[k];
      sum /= size;
      out.data[base] = sum;
      for (let i = 1; i < n; i++) {
        sum += (line[i + size - 1] - line[i - 1]) / size;
        out.data[base + i * step] = sum;
      }
    }
    current = out;
  }
  return current;
}

/** scipy.ndimage.percentile_filter(g, percentile, size, mode="nearest") for a grid of whole
 * numbers 0..255 (a histogram of each window: exact). */
export function percentileFilterNearest(g, percentile, size) {
  const count = size * size;
  const rank = percentile === 100 ? count - 1 : Math.trunc((count * percentile) / 100);
  const [lo, hi] = window(size);
  const out = { h: g.h, w: g.w, data: new Float32Array(g.data.length) };
  const hist = new Int32Array(256);
  for (let y = 0; y < g.h; y++) {
    for (let x = 0; x < g.w; x++) {
      hist.fill(0);
      for (let dy = lo; dy <= hi; dy++) {
        const yy = Math.min(g.h - 1, Math.max(0, y + dy)); // "nearest": the edge repeats
        for (let dx = lo; dx <= hi; dx++) {
          const xx = Math.min(g.w - 1, Math.max(0, x + dx));
          hist[g.data[yy * g.w + xx]] += 1;
        }
      }
      let seen = 0;
      let level = 0;
      for (; level < 256; level++) {
        seen += hist[level];
        if (seen > rank) break;
      }
      out.data[y * g.w + x] = level;
    }
  }
  return out;
}

/** scipy.ndimage.binary_erosion(mask) with its default cross and border value 0. */
export function binaryErosion(mask) {
  const { h, w, data } = mask;
  const out = { h, w, data: new Uint8Array(h * w) };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      out.data[i] = data[i] && y > 0 && y < h - 1 && x > 0 && x < w - 1 && data[i - w] &&
        data[i + w] && data[i - 1] && data[i + 1] ? 1 : 0;
    }
  }
  return out;
}

/** scipy.ndimage.label(mask, structure): 8-connected (``eight``) or 4-connected pieces,
 * numbered 1.. in the order their first pixel comes in a raster scan, as scipy numbers them. */
export function label(mask, eight) {
  const { h, w, data } = mask;
  const labels = new Int32Array(h * w);
  const stack = [];
  let count = 0;
  for (let start = 0; start < h * w; start++) {
    if (!data[start] || labels[start]) continue;
    count += 1;
    labels[start] = count;
    stack.push(start);
    while (stack.length) {
      const i = stack.pop();
      const y = Math.floor(i / w);
      const x = i - y * w;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          if ((dy === 0 && dx === 0) || (!eight && dy !== 0 && dx !== 0)) continue;
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          const j = yy * w + xx;
          if (data[j] && !labels[j]) {
            labels[j] = count;
            stack.push(j);
          }
        }
      }
    }
  }
  return { labels: { h, w, data: labels }, count };
}

/** scipy.ndimage.find_objects: the box of each label 1..max as [top, bottom, left, right]
 * (bottom and right exclusive), or null for a number no pixel has. */
export function findObjects(labels) {
  const { h, w, data } = labels;
  let max = 0;
  for (const v of data) if (v > max) max = v;
  const boxes = Array.from({ length: max }, () => null);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = data[y * w + x];
      if (v <= 0) continue;
      const b = boxes[v - 1];
      if (b === null) boxes[v - 1] = [y, y + 1, x, x + 1];
      else {
        b[0] = Math.min(b[0], y); b[1] = Math.max(b[1], y + 1);
        b[2] = Math.min(b[2], x); b[3] = Math.max(b[3], x + 1);
      }
    }
  }
  return boxes;
}

/** scipy.ndimage.distance_transform_edt(mask): every pixel's Euclidean distance to the
 * nearest pixel of ``mask`` that is 0 (float64). Exact, as scipy's is: the squared distances
 * are whole numbers (Felzenszwalb and Huttenlocher's lower envelope of parabolas, one axis
 * at a time), and their square roots are taken once at the end. */
export function distanceTransformEdt(mask) {
  const { h, w, data } = mask;
  const FAR = 1e20;
  const squared = new Float64Array(h * w);
  for (let i = 0; i < squared.length; i++) squared[i] = data[i] ? FAR : 0;
  const n = Math.max(h, w);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  const pass = (length, lines, step, lineStep) => {
    for (let line = 0; line < lines; line++) {
      const base = line * lineStep;
      for (let q = 0; q < length; q++) f[q] = squared[base + q * step];
      let k = 0;
      v[0] = 0;
      z[0] = -Infinity;
      z[1] = Infinity;
      for (let q = 1; q < length; q++) {
        // Where the parabola from q starts to lie below the envelope; z[0] = -Infinity stops
        // the search at the first one.
        const from = (p) => ((f[q] + q * q) - (f[p] + p * p)) / (2 * q - 2 * p);
        let s = from(v[k]);
        while (s <= z[k]) {
          k -= 1;
          s = from(v[k]);
        }
        k += 1;
        v[k] = q;
        z[k] = s;
        z[k + 1] = Infinity;
      }
      k = 0;
      for (let q = 0; q < length; q++) {
        while (z[k + 1] < q) k += 1;
        const p = v[k];
        d[q] = (q - p) * (q - p) + f[p];
      }
      for (let q = 0; q < length; q++) squared[base + q * step] = d[q];
    }
  };
  pass(h, w, w, 1); // down each column
  pass(w, h, 1, w); // across each row
  const out = { h, w, data: new Float64Array(h * w) };
  for (let i = 0; i < out.data.length; i++) out.data[i] = Math.sqrt(squared[i]);
  return out;
}

// Cephes' sindg and cosdg (scipy.special.sindg, cosdg): sine and cosine of an angle in
// degrees, reduced to within 45 degrees exactly before any rounding.
const SINCOF = [1.58962301572218447952E-10, -2.50507477628503540135E-8, 2.75573136213856773549E-6,
  -1.98412698295895384658E-4, 8.33333333332211858862E-3, -1.66666666666666307295E-1];
const COSCOF = [1.13678171382044553091E-11, -2.08758833757683644217E-9, 2.75573155429816611547E-7,
  -2.48015872936186303776E-5, 1.38888888888806666760E-3, -4.16666666666666348141E-2,
  4.99999999999999999798E-1];
const PI180 = 1.74532925199432957692E-2;

function polevl(x, coefficients) {
  let ans = coefficients[0];
  for (let i = 1; i < coefficients.length; i++) ans = ans * x + coefficients[i];
  return ans;
}

/** The octant of ``x`` degrees (x >= 0): [j, z in radians within 45 degrees of it]. */
function octant(x) {
  let y = Math.floor(x / 45.0);
  let j = y - 16 * Math.floor(y / 16);
  if (j & 1) { j += 1; y += 1.0; }
  j &= 7;
  return [j, (x - y * 45.0) * PI180];
}

/** scipy.special.sindg: sin of ``x`` degrees. */
export function sindg(x) {
  let sign = x < 0 ? -1 : 1;
  let [j, z] = octant(Math.abs(x));
  if (j > 3) { sign = -sign; j -= 4; }
  const zz = z * z;
  const y = j === 1 || j === 2 ? 1.0 - zz * polevl(zz, COSCOF) : z + z * (zz * polevl(zz, SINCOF));
  return sign < 0 ? -y : y;
}

/** scipy.special.cosdg: cos of ``x`` degrees. */
export function cosdg(x) {
  let sign = 1;
  let [j, z] = octant(Math.abs(x));
  if (j > 3) { j -= 4; sign = -sign; }
  if (j > 1) sign = -sign;
  const zz = z * z;
  const y = j === 1 || j === 2 ? z + z * (zz * polevl(zz, SINCOF)) : 1.0 - zz * polevl(zz, COSCOF);
  return sign < 0 ? -y : y;
}

/** scipy.ndimage.rotate(g, angle, reshape=True, order=1) of a float32 grid, mode
 * "constant" with 0 beyond the edges: turned ``angle`` degrees, the output made large
 * enough to hold the whole input, each output pixel interpolated bilinearly from where it
 * comes from in the input (in double precision, stored as float32). */
export function rotate(g, angle) {
  const c = cosdg(angle);
  const s = sindg(angle);
  const m = [[c, s], [-s, c]];
  const { h: iy, w: ix } = g;
  // out_bounds = rot_matrix @ [[0, 0, iy, iy], [0, ix, 0, ix]]; the shape is its spread.
  const corners = [[0, 0], [0, ix], [iy, 0], [iy, ix]];
  const spread = (row) => {
    const values = corners.map(([a, b]) => m[row][0] * a + m[row][1] * b);
    return Math.max(...values) - Math.min(...values);
  };
  const oh = Math.trunc(spread(0) + 0.5);
  const ow = Math.trunc(spread(1) + 0.5);
  const outCentre = [(oh - 1) / 2, (ow - 1) / 2];
  const offset = [0, 1].map((row) => ((row === 0 ? iy : ix) - 1) / 2 -
    (m[row][0] * outCentre[0] + m[row][1] * outCentre[1]));
  const out = { h: oh, w: ow, data: new Float32Array(oh * ow) };
  const sizes = [iy, ix];
  for (let r = 0; r < oh; r++) {
    for (let q = 0; q < ow; q++) {
      const coordinates = [0, 1].map((row) => {
        let value = 0.0;
        value += r * m[row][0];
        value += q * m[row][1];
        return value + offset[row];
      });
      // Beyond the edges: the constant 0, no interpolation (scipy's mode "constant").
      if (coordinates.some((value, axis) => value < 0 || value > sizes[axis] - 1)) continue;
      const starts = coordinates.map(Math.floor);
      const weights = coordinates.map((value, axis) => {
        const t = value - starts[axis];
        return [1 - t, t];
      });
      // At the last row or column, the neighbour past the edge is mirrored back (it has
      // weight 0 there, or nearly).
      const index = (start, k, axis) => {
        const i = start + k;
        return i >= sizes[axis] ? 2 * sizes[axis] - 2 - i : i;
      };
      let t = 0.0;
      for (let a = 0; a < 2; a++) {
        for (let b = 0; b < 2; b++) {
          const y = index(starts[0], a, 0);
          const x = index(starts[1], b, 1);
          let coefficient = g.data[Math.max(0, y) * ix + Math.max(0, x)];
          coefficient *= weights[0][a];
          coefficient *= weights[1][b];
          t += coefficient;
        }
      }
      out.data[r * ow + q] = t;
    }
  }
  return out;
}
