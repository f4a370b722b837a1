// mnist_helpers.preprocess (and paper, and images.to_grayscale) in JavaScript: any picture of
// one digit -> the 28x28 white-on-black input the model was trained on. The SAME algorithm,
// step by step; each function is named like its Python twin and says which one it is.
//
// Numbers are kept in the precision Python keeps them: the grey levels and the ink are
// float32 (Math.fround after each numpy operation on a float32 array), the fitted 28x28 digit
// float64. Python's round() rounds halves to even, and so does roundHalfEven here.
import { resizeL } from "./resample.js";
import {
  binaryErosion, extremumFilter1d, findObjects, greyDilation, label, maximumFilter,
  minimumFilter, percentileFilterNearest, transpose, uniformFilter,
} from "./ndimage.js";

/** WORK_SIZE: images are shrunk to at most this many pixels a side before the ink is found. */
export const WORK_SIZE = 256;
/** MIN_EDGE: least edge_strength of an image with strokes in it. */
export const MIN_EDGE = 0.2;
/** THINNEST_STROKE, THIN_STROKE: MNIST's stroke widths, 20 pixels to a digit's longer side. */
export const THINNEST_STROKE = 2.1;
export const THIN_STROKE = 2.45;
/** AS_THICK_AS_THE_PEN (paper.py). */
export const AS_THICK_AS_THE_PEN = 0.8;

const f32 = Math.fround;

/** The error preprocess_image raises when there is nothing to read (Python's NoInkError). */
export class NoInkError extends Error {
  constructor(reason) {
    super(reason);
    this.name = "NoInkError";
    this.reason = reason;
  }
}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function any(data) {
  for (const v of data) if (v) return true;
  return false;
}

function count(data) {
  let n = 0;
  for (const v of data) if (v) n += 1;
  return n;
}

function extremes(data) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** numpy's pairwise summation of a float64 array (what ``array.sum()`` does), so sums agree
 * to the last bit. */
export function pairwiseSum(a, start = 0, n = a.length) {
  if (n < 8) {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[start + i];
    return s;
  }
  if (n <= 128) {
    const r = new Float64Array(8);
    for (let k = 0; k < 8; k++) r[k] = a[start + k];
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let k = 0; k < 8; k++) r[k] += a[start + i + k];
    let s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) s += a[start + i];
    return s;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

// ---------------------------------------------------------------------------------------
// images.to_grayscale and preprocess._shrink

/** PIL's convert("L") of one RGB pixel (ITU-R 601-2 luma, PIL's fixed-point L24). */
function luma(r, g, b) {
  return Math.floor((r * 19595 + g * 38470 + b * 7471 + 0x8000) / 65536);
}

/** images.to_grayscale(image, max_size) for a decoded picture { width, height, channels,
 * data } (channels 1: grey "L", 3: "RGB", 4: "RGBA", all 0..255): grey levels 0..1 as a
 * float32 grid, shrunk to at most ``maxSize`` a side with PIL's box filter. A grey or opaque
 * colour picture is shrunk in its own mode, then made grey, as PIL does; one with
 * transparency is laid over white paper first (PIL shrinks premultiplied colour, then lays
 * it over white: the two differ only along the edges of transparent areas). */
export function to_grayscale(picture, maxSize = null) {
  const { width, height, channels, data } = picture;
  if (width * height === 0) throw new NoInkError("the image has no pixels");
  let outW = width;
  let outH = height;
  if (maxSize !== null && Math.max(width, height) > maxSize) {
    const scale = maxSize / Math.max(width, height);
    outW = Math.max(1, roundHalfEven(width * scale));
    outH = Math.max(1, roundHalfEven(height * scale));
  }
  let grey;
  if (channels === 1) {
    grey = resizeL(data, width, height, outW, outH, "box");
  } else {
    let opaque = true;
    if (channels === 4) for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) { opaque = false; break; }
    const planes = [0, 1, 2].map(() => new Uint8Array(width * height));
    for (let i = 0; i < width * height; i++) {
      for (let c = 0; c < 3; c++) {
        let v = data[i * channels + c];
        if (!opaque) {
          // Image.alpha_composite over white, per PIL's integer arithmetic (rounded).
          const a = data[i * channels + 3];
          v = Math.floor((v * a + 255 * (255 - a) + 127) / 255);
        }
        planes[c][i] = v;
      }
    }
    const [r, g, b] = planes.map((p) => resizeL(p, width, height, outW, outH, "box"));
    grey = new Uint8Array(outW * outH);
    for (let i = 0; i < grey.length; i++) grey[i] = luma(r[i], g[i], b[i]);
  }
  const out = { h: outH, w: outW, data: new Float32Array(outW * outH) };
  for (let i = 0; i < grey.length; i++) out.data[i] = f32(grey[i] / 255);
  return out;
}

/** preprocess._shrink: grey levels 0..1 (float32), at most ``size`` pixels a side. */
export function _shrink(picture, size) {
  const gray = to_grayscale(picture, size);
  for (let i = 0; i < gray.data.length; i++) gray.data[i] = Math.min(1, Math.max(0, gray.data[i]));
  return gray;
}

// ---------------------------------------------------------------------------------------
// paper.py

/** paper.paper_brightness: how bright the bare paper is at every pixel (float32 grid). */
export function paper_brightness(paper, cell = 4, reach = 10) {
  const { h, w } = paper;
  const bytes = new Uint8Array(h * w);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.trunc(f32(paper.data[i] * 255));
  const cw = Math.max(1, Math.floor(w / cell));
  const ch = Math.max(1, Math.floor(h / cell));
  const small = resizeL(bytes, w, h, cw, ch, "box");
  let coarse = { h: ch, w: cw, data: Float32Array.from(small) };
  if (Math.min(ch, cw) >= reach) {
    const bright = percentileFilterNearest(coarse, 90, reach);
    coarse = minimumFilter(bright, reach); // mode="nearest"
  } else {
    coarse = { h: ch, w: cw, data: new Float32Array(ch * cw).fill(percentile(coarse.data, 90)) };
  }
  const level = Uint8Array.from(coarse.data, (v) => Math.trunc(v)); // astype(np.uint8)
  const smooth = resizeL(level, cw, ch, w, h, "bilinear");
  const out = { h, w, data: new Float32Array(h * w) };
  for (let i = 0; i < smooth.length; i++) out.data[i] = f32(smooth[i] / 255);
  return out;
}

/** np.percentile(values, q) with numpy's default "linear" method, float32 result. */
export function percentile(values, q) {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const quantile = q / 100;
  // numpy's _compute_virtual_index for alpha = beta = 1, in its order of operations.
  const virtual = n * quantile + (1 + quantile * (1 - 1 - 1)) - 1;
  const previous = Math.min(n - 1, Math.max(0, Math.floor(virtual)));
  const next = Math.min(n - 1, previous + 1);
  const gamma = f32(virtual - Math.floor(virtual));
  const a = sorted[previous];
  const b = sorted[next];
  const diff = f32(b - a);
  // numpy's _lerp: from the nearer end.
  return gamma >= 0.5 ? f32(b - f32(diff * f32(1 - gamma))) : f32(a + f32(diff * gamma));
}

/** paper.dark_ink_on_light_paper: the median grey level is nearer the brightest. */
export function dark_ink_on_light_paper(gray) {
  const sorted = Float32Array.from(gray.data).sort();
  const n = sorted.length;
  const median = n % 2 ? sorted[(n - 1) / 2] : f32(f32(sorted[n / 2 - 1] + sorted[n / 2]) / 2);
  const [lo, hi] = extremes(gray.data);
  return median > (lo + hi) / 2;
}

/** paper.opening_along: keeps only runs of ``mask`` at least ``size`` long along ``axis``. */
export function opening_along(mask, size, axis) {
  size |= 1;
  return extremumFilter1d(extremumFilter1d(mask, size, axis, false), size, axis, true);
}

/** paper.closing_along: fills gaps in ``mask`` shorter than ``size`` along ``axis``. */
export function closing_along(mask, size, axis) {
  size |= 1;
  return extremumFilter1d(extremumFilter1d(mask, size, axis, true), size, axis, false);
}

function and(a, b) {
  return { h: a.h, w: a.w, data: a.data.map((v, i) => (v && b.data[i] ? 1 : 0)) };
}

function andNot(a, b) {
  return { h: a.h, w: a.w, data: a.data.map((v, i) => (v && !b.data[i] ? 1 : 0)) };
}

/** paper._horizontal_rules: the pixels of ``mask`` on thin lines across the picture. */
export function _horizontal_rules(mask, thin = 5) {
  const { h, w } = mask;
  const none = { h, w, data: new Uint8Array(h * w) };
  const columns = { h: 1, w, data: new Uint8Array(w) };
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (mask.data[y * w + x]) columns.data[x] = 1;
  // closing_along(inked_columns, 9, 0) of a 1-D array: along its only axis.
  if (count(closing_along(columns, 9, 1).data) / w < 0.8) return none;
  const run = Math.max(3, Math.floor(w / 8)) | 1;
  const thick = extremumFilter1d(mask, 3, 0, true);
  const pw = w + 2 * run;
  let band = { h, w: pw, data: new Uint8Array(h * pw) };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < pw; x++) {
      const source = Math.min(w - 1, Math.max(0, x - run)); // np.pad(mode="edge")
      band.data[y * pw + x] = thick.data[y * w + source];
    }
  }
  band = closing_along(band, 9, 1);
  let runs = opening_along(band, run, 1);
  runs = andNot(runs, opening_along(runs, thin + 1, 0));
  const { labels: joined } = label(closing_along(runs, run, 1), false);
  const labels = { h, w, data: new Int32Array(h * w) };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      labels.data[y * w + x] = joined.data[y * pw + x + run] * runs.data[y * pw + x + run];
    }
  }
  const rules = { h, w, data: new Uint8Array(h * w) };
  findObjects(labels).forEach((box, index) => {
    if (box === null) return; // (Python would fail here; a number cropped away entirely)
    const number = index + 1;
    const [top, bottom, left, right] = box;
    let length = 0;
    let area = 0;
    for (let x = left; x < right; x++) {
      let inColumn = false;
      for (let y = top; y < bottom; y++) {
        if (labels.data[y * w + x] === number) { inColumn = true; area += 1; }
      }
      if (inColumn) length += 1;
    }
    if (length >= 0.8 * w && length >= (25 * area) / length) {
      for (let y = top; y < bottom; y++) {
        for (let x = left; x < right; x++) if (labels.data[y * w + x] === number) rules.data[y * w + x] = 1;
      }
    }
  });
  return and(rules, mask);
}

/** paper.pen_width: the strokes' area over half their outline (Infinity without ink). */
export function pen_width(mask) {
  const outline = count(andNot(mask, binaryErosion(mask)).data);
  return outline ? (2 * count(mask.data)) / outline : Infinity;
}

/** paper._finer_than: the lines of ``rules`` (running along ``axis``) finer than the pen. */
export function _finer_than(rules, pen, axis) {
  const { labels } = label(rules, true);
  const { w } = rules;
  const fine = { h: rules.h, w, data: new Uint8Array(rules.data.length) };
  findObjects(labels).forEach((box, index) => {
    const number = index + 1;
    const [top, bottom, left, right] = box;
    let area = 0;
    const along = new Set();
    for (let y = top; y < bottom; y++) {
      for (let x = left; x < right; x++) {
        if (labels.data[y * w + x] === number) {
          area += 1;
          along.add(axis === 1 ? x : y);
        }
      }
    }
    if (area / Math.max(along.size, 1) < AS_THICK_AS_THE_PEN * pen) {
      for (let y = top; y < bottom; y++) {
        for (let x = left; x < right; x++) if (labels.data[y * w + x] === number) fine.data[y * w + x] = 1;
      }
    }
  });
  return fine;
}

/** paper.remove_ruled_lines: ``ink`` without the rules of lined or squared paper. */
export function remove_ruled_lines(ink, threshold) {
  const mask = { h: ink.h, w: ink.w, data: Uint8Array.from(ink.data, (v) => (v >= threshold ? 1 : 0)) };
  const across = _horizontal_rules(mask);
  const down = transpose(_horizontal_rules(transpose(mask)));
  if (!(any(across.data) || any(down.data))) return ink;
  const pen = pen_width(andNot(andNot(mask, across), down));
  let cleaned = ink;
  for (const [rules, crossedAlong] of [[_finer_than(across, pen, 1), 0], [_finer_than(down, pen, 0), 1]]) {
    if (!any(rules.data)) continue;
    const rest = andNot({ h: ink.h, w: ink.w, data: Uint8Array.from(cleaned.data, (v) => (v >= threshold ? 1 : 0)) }, rules);
    const crossing = and(closing_along(rest, 9, crossedAlong), rules);
    const next = { h: ink.h, w: ink.w, data: Float32Array.from(cleaned.data) };
    for (let i = 0; i < next.data.length; i++) if (rules.data[i] && !crossing.data[i]) next.data[i] = 0;
    cleaned = next;
  }
  return cleaned;
}

// ---------------------------------------------------------------------------------------
// preprocess.py

/** preprocess.edge_strength: the largest change of grey level within a stroke's width, as a
 * share of the image's whole range. */
export function edge_strength(gray) {
  const smooth = uniformFilter(gray, 3);
  const width = Math.max(3, roundHalfEven(Math.max(gray.h, gray.w) / 50));
  const high = maximumFilter(smooth, width);
  const low = minimumFilter(smooth, width);
  let change = -Infinity;
  for (let i = 0; i < high.data.length; i++) change = Math.max(change, f32(high.data[i] - low.data[i]));
  const [lo, hi] = extremes(smooth.data);
  const span = f32(hi - lo);
  return span > 0 ? change / span : 0.0;
}

/** preprocess._otsu_threshold: the level that best splits ``values`` into ink and paper. */
export function _otsu_threshold(values, bins = 64) {
  const hist = new Float64Array(bins);
  for (const v of values) hist[Math.min(bins - 1, Math.max(0, Math.trunc(f32(v * bins))))] += 1;
  const weight = new Float64Array(bins);
  const mean = new Float64Array(bins);
  let w = 0;
  let m = 0;
  for (let i = 0; i < bins; i++) {
    w += hist[i];
    m += hist[i] * ((i + 0.5) / bins);
    weight[i] = w;
    mean[i] = m;
  }
  const total = weight[bins - 1];
  const last = mean[bins - 1];
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < bins; i++) {
    const d = last * weight[i] - mean[i] * total;
    const between = (d * d) / Math.max(weight[i] * (total - weight[i]), 1);
    if (between > bestValue) { bestValue = between; best = i; }
  }
  return (best + 0.5) / bins;
}

/** preprocess.find_ink: the ink of a picture as white on black (float32 grid), the Otsu
 * threshold, whether it was dark on light, its intermediate images and edge strength. */
export function find_ink(picture, workSize = WORK_SIZE) {
  const gray = _shrink(picture, workSize);
  const [lo, hi] = extremes(gray.data);
  if (f32(hi - lo) < 0.15) throw new NoInkError("no ink found (the image is blank or has too little contrast)");
  const steps = { grayscale: gray };
  const inverted = dark_ink_on_light_paper(gray);
  const flipped = { h: gray.h, w: gray.w, data: gray.data.map((v) => f32(1 - v)) };
  steps.ink_white = inverted ? flipped : gray;
  const paper = inverted ? gray : flipped; // bright paper, dark ink
  const light = paper_brightness(paper);
  let ink = { h: gray.h, w: gray.w, data: new Float32Array(gray.data.length) };
  for (let i = 0; i < ink.data.length; i++) {
    const bright = Math.max(light.data[i], f32(1e-3));
    ink.data[i] = Math.min(1, Math.max(0, f32(1 - f32(paper.data[i] / bright))));
  }
  const contrast = extremes(ink.data)[1];
  if (contrast < 0.15) throw new NoInkError("no ink found (the image is blank or has too little contrast)");
  for (let i = 0; i < ink.data.length; i++) ink.data[i] = f32(ink.data[i] / contrast);
  const threshold = _otsu_threshold(ink.data);
  for (let i = 0; i < ink.data.length; i++) if (!(ink.data[i] >= threshold * 0.5)) ink.data[i] = 0;
  steps.background_removed = { h: ink.h, w: ink.w, data: Float32Array.from(ink.data) };
  ink = remove_ruled_lines(ink, threshold * 0.5);
  steps.rules_removed = ink;
  return { ink, threshold, inverted, steps, edges: edge_strength(gray) };
}

/** preprocess.stroke_width: how wide the strokes of white-on-black ``ink`` are, in pixels. */
export function stroke_width(ink) {
  const max = ink.data.length ? extremes(ink.data)[1] : 0;
  const level = ink.data.length && max > 0 ? 0.5 * max : 0;
  const mask = { h: ink.h, w: ink.w, data: Uint8Array.from(ink.data, (v) => (v > level ? 1 : 0)) };
  const outline = count(andNot(mask, binaryErosion(mask)).data);
  return count(mask.data) / Math.max(outline / 2, 1.0);
}

/** preprocess.thicken_thin_strokes: strokes thinner than MNIST's thinnest widened, after
 * padding the crop by ``grow`` on every side so they can grow past the ink's edge. */
export function thicken_thin_strokes(ink) {
  const scale = 20.0 / Math.max(ink.h, ink.w);
  const width = stroke_width(ink) * scale;
  if (width >= THINNEST_STROKE) return ink;
  const grow = roundHalfEven((THIN_STROKE - width) / scale);
  if (grow < 1 || !ink.data.some((v) => v !== 0)) return ink;
  const padded = { h: ink.h + 2 * grow, w: ink.w + 2 * grow, data: new ink.data.constructor((ink.h + 2 * grow) * (ink.w + 2 * grow)) };
  for (let y = 0; y < ink.h; y++) for (let x = 0; x < ink.w; x++) padded.data[(y + grow) * padded.w + x + grow] = ink.data[y * ink.w + x];
  const wider = greyDilation(padded, grow + 1);
  let top = wider.h, bottom = -1, left = wider.w, right = -1;
  for (let y = 0; y < wider.h; y++) for (let x = 0; x < wider.w; x++) {
    if (wider.data[y * wider.w + x] !== 0) {
      top = Math.min(top, y); bottom = Math.max(bottom, y); left = Math.min(left, x); right = Math.max(right, x);
    }
  }
  // Keep the whole frame given and what the ink grew past it; drop only unused padding.
  top = Math.min(top, grow); left = Math.min(left, grow);
  bottom = Math.max(bottom, grow + ink.h - 1); right = Math.max(right, grow + ink.w - 1);
  const out = { h: bottom - top + 1, w: right - left + 1, data: new wider.data.constructor((bottom - top + 1) * (right - left + 1)) };
  for (let y = 0; y < out.h; y++) for (let x = 0; x < out.w; x++) out.data[y * out.w + x] = wider.data[(y + top) * wider.w + x + left];
  return out;
}

/** preprocess.to_mnist_pixels: a crop of white-on-black ink -> 28x28 float64 digit, fitted
 * into 20x20 keeping the aspect ratio (PIL's LANCZOS on 8-bit levels) and centred by mass
 * at pixel (14, 14) with zero fill. */
export function to_mnist_pixels(crop, steps = null) {
  const ink = thicken_thin_strokes(crop);
  const { h, w } = ink;
  const factor = 20.0 / Math.max(h, w);
  const newW = Math.max(1, roundHalfEven(w * factor));
  const newH = Math.max(1, roundHalfEven(h * factor));
  const bytes = Uint8Array.from(ink.data, (v) => Math.trunc(f32(Math.min(1, Math.max(0, v)) * 255)));
  const fitted = resizeL(bytes, w, h, newW, newH, "lanczos");
  let canvas = new Float64Array(28 * 28);
  const top = Math.floor((28 - newH) / 2);
  const left = Math.floor((28 - newW) / 2);
  for (let y = 0; y < newH; y++) for (let x = 0; x < newW; x++) canvas[(top + y) * 28 + left + x] = fitted[y * newW + x] / 255.0;
  if (steps !== null) steps.fitted_20x20 = { h: 28, w: 28, data: Float64Array.from(canvas) };
  const mass = pairwiseSum(canvas);
  if (mass > 0) {
    const ys = new Float64Array(784);
    const xs = new Float64Array(784);
    for (let i = 0; i < 784; i++) {
      ys[i] = Math.floor(i / 28) * canvas[i];
      xs[i] = (i % 28) * canvas[i];
    }
    const dy = roundHalfEven(14.0 - pairwiseSum(ys) / mass);
    const dx = roundHalfEven(14.0 - pairwiseSum(xs) / mass);
    // A shift with zero fill (ndimage.shift, order=0, mode="constant"): ink pushed past an
    // edge is dropped, never wrapped round.
    const shifted = new Float64Array(784);
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const sy = y - dy;
        const sx = x - dx;
        if (sy >= 0 && sy < 28 && sx >= 0 && sx < 28) shifted[y * 28 + x] = canvas[sy * 28 + sx];
      }
    }
    canvas = shifted;
  }
  return { h: 28, w: 28, data: canvas };
}

/** preprocess.to_model_input: 28x28 floats 0..1 -> the normalised float32 input,
 * (value - mean) / std, in float32 like torch's sub_ and div_. */
export function to_model_input(pixels, mean = 0.1307, std = 0.3081) {
  return Float32Array.from(pixels.data, (v) => f32(f32(f32(v) - f32(mean)) / f32(std)));
}

/** preprocess._group_around: piece ``first`` and every piece near the growing group; specks
 * (under 2% of its ink, or less than a fifth of its size across) are not added. */
export function _group_around(boxes, sizes, first) {
  const chosen = new Set([first]);
  let [top, bottom, left, right] = boxes[first];
  const size = Math.max(bottom - top, right - left);
  const reach = size / 3;
  let grown = true;
  while (grown) {
    grown = false;
    boxes.forEach(([r0, r1, c0, c1], number) => {
      const gap = Math.max(r0 - bottom, top - r1, c0 - right, left - c1, 0);
      const speck = sizes[number] < 0.02 * sizes[first] || 5 * Math.max(r1 - r0, c1 - c0) < size;
      if (!chosen.has(number) && gap <= reach && !speck) {
        chosen.add(number);
        top = Math.min(top, r0); bottom = Math.max(bottom, r1);
        left = Math.min(left, c0); right = Math.max(right, c1);
        grown = true;
      }
    });
  }
  return chosen;
}

/** preprocess.main_object: the box [top, bottom, left, right] round the one thing a picture
 * of a digit is of (8-connected pieces, as ndimage.label with a 3x3 structure). */
export function main_object(mask) {
  const { h, w } = mask;
  const { labels, count: pieces } = label(mask, true);
  if (pieces === 0) return [0, h, 0, w];
  const boxes = findObjects(labels);
  const sizes = new Float64Array(pieces);
  for (const v of labels.data) if (v > 0) sizes[v - 1] += 1;
  const inside = new Array(pieces).fill(true);
  for (let x = 0; x < w; x++) for (const y of [0, h - 1]) { const v = labels.data[y * w + x]; if (v) inside[v - 1] = false; }
  for (let y = 0; y < h; y++) for (const x of [0, w - 1]) { const v = labels.data[y * w + x]; if (v) inside[v - 1] = false; }
  const sum = (numbers) => numbers.reduce((s, n) => s + sizes[n], 0);
  const all = [...sizes.keys()];
  if (sum(all.filter((n) => inside[n])) < 0.1 * sum(all)) inside.fill(true); // a tight crop
  let first = 0;
  let heaviest = -Infinity;
  all.forEach((n) => {
    const size = inside[n] ? sizes[n] : -1;
    if (size > heaviest) { heaviest = size; first = n; }
  });
  const chosen = _group_around(boxes, sizes, first);
  const box = _box_round([...chosen].map((n) => boxes[n]));
  const mainSize = Math.max(box[1] - box[0], box[3] - box[2]);
  const others = all.filter((n) => inside[n] && !chosen.has(n) && _is_other_mark(boxes[n], mainSize));
  if (sum(others) >= 0.1 * sum([...chosen])) return _box_round(boxes);
  return box;
}

/** preprocess._is_other_mark: a piece left out of a digit's box that is neither a line (6 times
 * longer than thick) nor a speck (less than a fifth of the digit's size across). */
export function _is_other_mark([r0, r1, c0, c1], mainSize) {
  const longSide = Math.max(r1 - r0, c1 - c0);
  const shortSide = Math.min(r1 - r0, c1 - c0);
  return longSide < 6 * shortSide && 5 * longSide >= mainSize;
}

/** preprocess._box_round: the smallest box [top, bottom, left, right] holding all of ``boxes``. */
export function _box_round(boxes) {
  return [Math.min(...boxes.map((b) => b[0])), Math.max(...boxes.map((b) => b[1])),
    Math.min(...boxes.map((b) => b[2])), Math.max(...boxes.map((b) => b[3]))];
}

/** preprocess.crop_to: ``g`` cut to the box, its strongest ink made 1 again (float32, as
 * numpy divides a float32 array by its float32 maximum). */
export function crop_to(g, box) {
  const out = crop(g, box);
  let peak = -Infinity;
  for (const v of out.data) if (v > peak) peak = v;
  if (peak > 0 && peak < 1) for (let i = 0; i < out.data.length; i++) out.data[i] = f32(out.data[i] / peak);
  return out;
}

function crop(g, [top, bottom, left, right]) {
  const out = { h: bottom - top, w: right - left, data: new Float32Array((bottom - top) * (right - left)) };
  for (let y = top; y < bottom; y++) for (let x = left; x < right; x++) out.data[(y - top) * out.w + x - left] = g.data[y * g.w + x];
  return out;
}

/** preprocess.preprocess_image: MNIST's steps on any picture. Returns { pixels (28x28
 * float64 grid, white on black), inverted, steps }; throws NoInkError when there is no ink
 * to speak of or no edge of a stroke. The model's input is to_model_input(pixels). */
export function preprocess_image(picture) {
  const found = find_ink(picture);
  if (found.edges < MIN_EDGE) {
    // Dividing out the light makes a ramp of brightness look like a bold stroke.
    throw new NoInkError("no ink found (only a smooth change of brightness, no strokes)");
  }
  const mask = { h: found.ink.h, w: found.ink.w, data: Uint8Array.from(found.ink.data, (v) => (v > found.threshold ? 1 : 0)) };
  if (!any(mask.data)) throw new NoInkError("no ink found");
  const cropped = crop_to(found.ink, main_object(mask));
  const steps = { ...found.steps, cropped };
  const pixels = to_mnist_pixels(cropped, steps);
  steps.centred_28x28 = pixels;
  return { pixels, inverted: found.inverted, steps };
}
