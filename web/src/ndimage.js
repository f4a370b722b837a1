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
 * any of scipy's modes "reflect" or "nearest" (the same for a minimum or maximum). */
export function extremumFilter1d(g, size, axis, takeMax, origin = 0) {
  const out = { h: g.h, w: g.w, data: new g.data.constructor(g.data.length) };
  const [lo, hi] = window(size, -origin);
  const n = axis === 0 ? g.h : g.w;
  const lines = axis === 0 ? g.w : g.h;
  const step = axis === 0 ? g.w : 1;
  const lineStep = axis === 0 ? 1 : g.w;
  for (let line = 0; line < lines; line++) {
    const base = line * lineStep;
    for (let i = 0; i < n; i++) {
      const a = Math.max(0, i + lo);
      const b = Math.min(n - 1, i + hi);
      let best = g.data[base + a * step];
      for (let j = a + 1; j <= b; j++) {
        const v = g.data[base + j * step];
        if (takeMax ? v > best : v < best) best = v;
      }
      out.data[base + i * step] = best;
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
