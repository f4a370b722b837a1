// mnist_helpers.number_reading in JavaScript: reading a whole number, one line of handwritten
// digits, from one picture. The SAME algorithm, step by step; each function is named like
// its Python twin and says which one it is. The model is a function ``classify`` that takes
// a list of 28x28 inputs (preprocess.to_mnist_pixels' grids) and gives one list of class
// probabilities each (float32 values, as torch gives them), in one batch.
//
// Numbers are kept in the precision Python keeps them: the ink is float32, and where numpy's
// rules turn a score into float32 (a Python float minus a float32), so does Math.fround here.
import { NOT_A_DIGIT, TWO_DIGITS, decide } from "./model.js";
import { rotate } from "./ndimage.js";
import { NoInkError, find_ink, roundHalfEven, to_mnist_pixels } from "./preprocess.js";
import { SMALL, find_line, median, polyfit1, typical_width } from "./digit_line.js";

const f32 = Math.fround;

/** number_reading.WORK_SIZE: pictures are shrunk to at most this many pixels a side. */
export const WORK_SIZE = 640;
/** number_reading.MOSTLY_REFUSED: a line with more refused regions than this is no number. */
export const MOSTLY_REFUSED = 1 / 3;
/** number_reading.SPAN: cuts are tried this share of a region's width from its edges. */
export const SPAN = 0.12;
/** number_reading.WIDE, NARROW: the spread of digits' widths about the typical one. */
export const WIDE = 0.55;
export const NARROW = 1.0;
/** number_reading.INK_PENALTY: what a cut costs per unit of ink it goes through. */
export const INK_PENALTY = 0.5;
/** number_reading.KEEP_WHOLE, TOO_WIDE: a region read this surely is not cut, unless it is
 * this many times as wide as a typical digit. */
export const KEEP_WHOLE = 0.9;
export const TOO_WIDE = 1.6;
/** number_reading.MAX_DEPTH: a piece read as two digits is cut again, this many cuts deep. */
export const MAX_DEPTH = 3;
/** number_reading.CONTEXT_DIGITS, CONTEXT_HEIGHT: when a refused region is read in context. */
export const CONTEXT_DIGITS = 2;
export const CONTEXT_HEIGHT = 0.7;

/** predict.is_top_class: the model has class ``index`` and gives it the most probability. */
function isTopClass(probabilities, index) {
  return probabilities.length > index && probabilities[index] >= Math.max(...probabilities);
}

/** The largest of the ten digits' probabilities. */
function digitMax(probabilities) {
  return Math.max(...probabilities.slice(0, 10));
}

/** number_reading.split: ``region`` cut side by side at the columns ``cuts``, each piece
 * trimmed to its ink. */
export function split(region, cuts, threshold) {
  const edges = [0, ...cuts, region.width];
  const parts = [];
  const { ink } = region;
  for (let k = 0; k + 1 < edges.length; k++) {
    const [left, right] = [edges[k], edges[k + 1]];
    if (right <= left) continue; // no columns: no piece
    let top = -1;
    let bottom = -1;
    for (let y = 0; y < ink.h; y++) {
      for (let x = left; x < right; x++) {
        if (ink.data[y * ink.w + x] > threshold) {
          if (top < 0) top = y;
          bottom = y + 1;
          break;
        }
      }
    }
    if (top < 0) continue;
    const part = { h: bottom - top, w: right - left, data: new Float32Array((bottom - top) * (right - left)) };
    for (let y = top; y < bottom; y++) {
      part.data.set(ink.data.subarray(y * ink.w + left, y * ink.w + right), (y - top) * part.w);
    }
    parts.push({ x: region.x + left, y: region.y + top, width: right - left, height: bottom - top, ink: part });
  }
  return parts;
}

/** Python's range(start, stop, step) as a list. */
function range(start, stop, step) {
  const values = [];
  for (let v = start; v < stop; v += step) values.push(v);
  return values;
}

/** number_reading.candidate_cuts: ways to cut ``region`` into digits (lists of columns):
 * not at all (unless ``mustCut``), in two, or in three when it is twice as wide as a digit. */
export function candidate_cuts(region, typical, mustCut = false) {
  const { width } = region;
  const options = mustCut ? [] : [[]];
  const step = Math.max(1, Math.floor(width / 24));
  const first = Math.max(1, Math.trunc(SPAN * width));
  const last = Math.min(width - 1, Math.trunc((1 - SPAN) * width));
  const half = Math.floor(width / 2);
  if (width >= 0.7 * typical || mustCut) for (const c of range(first, last + 1, step)) options.push([c]);
  if (width >= 2.0 * typical) {
    for (const a of range(first, half, 2 * step)) {
      for (const b of range(Math.max(half, a + 1), last + 1, 2 * step)) options.push([a, b]);
    }
  }
  return options;
}

/** numpy's pairwise sum of a float32 array in float32 (``array.sum()``). */
function pairwiseSum32(a, start = 0, n = a.length) {
  if (n < 8) {
    let s = f32(0);
    for (let i = 0; i < n; i++) s = f32(s + a[start + i]);
    return s;
  }
  if (n <= 128) {
    const r = new Float32Array(8);
    for (let k = 0; k < 8; k++) r[k] = a[start + k];
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let k = 0; k < 8; k++) r[k] = f32(r[k] + a[start + i + k]);
    let s = f32(f32(f32(r[0] + r[1]) + f32(r[2] + r[3])) + f32(f32(r[4] + r[5]) + f32(r[6] + r[7])));
    for (; i < n; i++) s = f32(s + a[start + i]);
    return s;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return f32(pairwiseSum32(a, start, n2) + pairwiseSum32(a, start + n2, n - n2));
}

/** number_reading._line_angle: the slope of the line of digits in degrees, fitted through
 * the centres of the pieces at least half as tall as the digits, weighted by their ink. */
export function _line_angle(regions, height) {
  const tall = regions.filter((r) => r.height >= SMALL * height);
  const x = tall.map((r) => r.x + r.width / 2);
  const y = tall.map((r) => r.y + r.height / 2);
  const ptp = (v) => Math.max(...v) - Math.min(...v);
  if (tall.length < 2 || ptp(x) <= ptp(y)) return 0.0;
  const weights = tall.map((r) => f32(Math.sqrt(pairwiseSum32(r.ink.data))));
  const [slope] = polyfit1(x, y, weights);
  return Math.atan(slope) * (180.0 / Math.PI); // math.degrees
}

/** number_reading._model_input: a region as the model takes a digit, turned upright along
 * the line, cropped, fitted into 20x20 and centred in 28x28. */
export function _model_input(region, angle, threshold) {
  let crop = region.ink;
  if (Math.abs(angle) > 5) {
    crop = rotate(crop, angle);
    let [top, bottom, left, right] = [Infinity, -1, Infinity, -1];
    for (let y = 0; y < crop.h; y++) {
      for (let x = 0; x < crop.w; x++) {
        if (crop.data[y * crop.w + x] > threshold) {
          top = Math.min(top, y); bottom = Math.max(bottom, y);
          left = Math.min(left, x); right = Math.max(right, x);
        }
      }
    }
    if (bottom >= 0) {
      const cut = { h: bottom - top + 1, w: right - left + 1, data: null };
      cut.data = new Float32Array(cut.h * cut.w);
      for (let y = 0; y < cut.h; y++) {
        cut.data.set(crop.data.subarray((top + y) * crop.w + left, (top + y) * crop.w + right + 1), y * cut.w);
      }
      crop = cut;
    }
  }
  return to_mnist_pixels(crop);
}

/** number_reading._width_prior: how usual a digit ``width`` wide is in this line, as a
 * log-probability up to a constant. */
export function _width_prior(width, typical) {
  const ratio = Math.log(Math.max(width, 1.0) / typical);
  const spread = ratio > 0 ? WIDE : NARROW;
  return -(ratio * ratio) / (2 * (spread * spread));
}

/** number_reading._best_split: ``region`` as one digit or cut into several, whichever
 * reading is likeliest. Returns a list of [piece, its 28x28 input]. */
export async function _best_split(classify, region, typical, angle, threshold, depth = 0) {
  const whole = _model_input(region, angle, threshold);
  const [read] = await classify([whole]);
  const two = isTopClass(read, TWO_DIGITS);
  const wide = region.width > TOO_WIDE * typical;
  if (!wide && !two && (digitMax(read) >= KEEP_WHOLE || isTopClass(read, NOT_A_DIGIT))) {
    return [[region, whole]]; // a digit read surely, or not a digit at all: not cut
  }
  const cuts = candidate_cuts(region, typical, two && depth < MAX_DEPTH);
  const options = cuts.map((c) => [split(region, c, threshold), c])
    .filter(([parts, c]) => parts.length === c.length + 1)
    .map(([parts]) => parts);
  if (!options.length) return [[region, whole]];
  const pixels = options.map((parts) => parts.map((part) => _model_input(part, angle, threshold)));
  const readParts = await classify(pixels.flat());
  const confidence = readParts.map(digitMax); // how surely a digit
  // region.ink.sum(axis=0) in float32, row after row, over the fullest column.
  const { ink } = region;
  const columns = new Float32Array(ink.w);
  for (let y = 0; y < ink.h; y++) for (let x = 0; x < ink.w; x++) columns[x] = f32(columns[x] + ink.data[y * ink.w + x]);
  const fullest = f32(Math.max(Math.max(...columns), 1e-9));
  const columnInk = columns.map((v) => f32(v / fullest));
  let [best, bestScore, bestStart, start] = [0, -Infinity, 0, 0];
  options.forEach((parts, i) => {
    // The product of the pieces' likelihoods (a sum of logs): every cut must pay for itself.
    let score = 0;
    parts.forEach((part, k) => {
      score += Math.log(Math.max(confidence[start + k], 1e-6)) + _width_prior(part.width, typical);
    });
    if (parts.length > 1) {
      // sum() of float32 penalties is float32, and a Python float minus it is float32 too.
      let penalty = f32(0);
      for (const part of parts.slice(1)) penalty = f32(penalty + f32(INK_PENALTY * columnInk[part.x - region.x]));
      score = f32(f32(score) - penalty);
    }
    if (score > bestScore) [best, bestScore, bestStart] = [i, score, start];
    start += parts.length;
  });
  const chosen = [];
  for (let k = 0; k < options[best].length; k++) {
    const part = options[best][k];
    if (options[best].length > 1 && depth < MAX_DEPTH && isTopClass(readParts[bestStart + k], TWO_DIGITS)) {
      chosen.push(...await _best_split(classify, part, typical, angle, threshold, depth + 1));
    } else {
      chosen.push([part, pixels[best][k]]);
    }
  }
  return chosen;
}

/** number_reading._decide: predict.decide for one piece of a line whose digits are
 * ``height`` tall; a piece less than half as tall is no digit. Returns { digit, reason }. */
export function _decide(probabilities, region, height, threshold) {
  const { digit, reason } = decide(probabilities, threshold);
  if (digit !== null && region.height < SMALL * height) {
    return { digit: null, reason: "not a digit (less than half as tall as the digits of the line)" };
  }
  return { digit, reason };
}

/** number_reading._in_a_line_of_digits: which regions stand in a line of digits and are as
 * tall as them (there a refused bare stroke is read as its likeliest digit). */
export function _in_a_line_of_digits(regions, decisions) {
  const heights = regions.filter((_, i) => decisions[i].digit !== null).map((r) => r.height);
  if (heights.length < CONTEXT_DIGITS) return regions.map(() => false);
  const tall = CONTEXT_HEIGHT * median(heights);
  return regions.map((r) => r.height >= tall);
}

/** number_reading._dash_between_digits: a refused mark wider than tall stands between two
 * digits read, clear of them and at mid-height. */
export function _dash_between_digits(reading) {
  if (reading.digits.length < 2) return false;
  const spans = reading.digits.map((d) => [d.box[0], d.box[0] + d.box[2]]);
  const top = Math.min(...reading.digits.map((d) => d.box[1]));
  const bottom = Math.max(...reading.digits.map((d) => d.box[1] + d.box[3]));
  const isDash = ([x, y, width, height]) => {
    const middle = y + height / 2;
    return width >= height && spans[0][1] <= x && x + width <= spans[spans.length - 1][0] &&
      spans.every(([a, b]) => x + width <= a || b <= x) &&
      middle >= top + 0.25 * (bottom - top) && middle <= top + 0.75 * (bottom - top);
  };
  return reading.refused.some((r) => isDash(r.box));
}

/** The number a reading stands for (NumberReading.number): the sign and the digits, or null
 * when there is none (``reason`` says why). */
function numberOf(reading) {
  if (reading.reason !== null || !reading.digits.length) return null;
  return reading.sign + reading.digits.map((d) => `${d.digit}`).join("");
}

/** number_reading.read_number: the digits of the number in a decoded picture { width,
 * height, channels, data }, left to right, read with ``classify``; ``threshold`` is the
 * refusal threshold. Returns { number, reason, sign, digits, refused }, each digit
 * { box: [x, y, width, height] in the picture's pixels, digit, probabilities (ten),
 * pixels (the 28x28 input), reason }. */
export async function read_number(picture, classify, threshold = 0.0) {
  const reading = { number: null, reason: null, sign: "", digits: [], refused: [] };
  let found;
  try {
    found = find_ink(picture, WORK_SIZE);
  } catch (error) {
    if (!(error instanceof NoInkError)) throw error;
    reading.reason = "no number: no ink found (the image is blank or has too little contrast)";
    return reading;
  }
  const line = find_line(found.ink, found.threshold);
  reading.sign = line.sign;
  if (line.problem !== null || !line.regions.length) {
    reading.reason = line.problem ?? "no number: only marks that are not digits";
    return reading;
  }
  const angle = _line_angle(line.regions, line.height);
  const typical = typical_width(line.regions);
  const pieces = [];
  for (const region of line.regions) {
    pieces.push(...await _best_split(classify, region, typical, angle, found.threshold));
  }
  const probabilities = await classify(pieces.map(([, pixels]) => pixels));
  let decisions = pieces.map(([region], i) => _decide(probabilities[i], region, line.height, threshold));
  // Small marks (less tall and less wide than half the digits' height) are not counted.
  const counted = decisions.filter((d, i) => Math.max(pieces[i][0].width, pieces[i][0].height) >= SMALL * line.height);
  const refused = counted.filter((d) => d.digit === null).length;
  if (refused > MOSTLY_REFUSED * counted.length) { // a word with a letter or two like digits
    decisions = decisions.map((d) => ({ digit: null, reason: d.reason ?? "not a digit (over a third of this line is not digits)" }));
    reading.reason = `no number: over a third of the line is not digits (${refused} of ${counted.length} pieces refused)`;
  }
  const inLine = _in_a_line_of_digits(pieces.map(([region]) => region), decisions);
  const scale = Math.max(picture.width, picture.height) / Math.max(found.ink.h, found.ink.w);
  pieces.forEach(([region, pixels], i) => {
    let { digit, reason } = decisions[i];
    const digitProbabilities = probabilities[i].slice(0, 10);
    if (digit === null && inLine[i]) { // a lone stroke may be an "l"; between digits, a 1
      digit = digitProbabilities.indexOf(Math.max(...digitProbabilities));
      reason = null;
    }
    const box = [region.x, region.y, region.width, region.height].map((v) => roundHalfEven(v * scale));
    const result = { box, digit, probabilities: digitProbabilities, pixels: Array.from(pixels.data), reason };
    (digit !== null ? reading.digits : reading.refused).push(result);
  });
  if (reading.reason === null && !reading.digits.length) {
    reading.reason = "no number: nothing in the image was read as a digit";
  } else if (reading.reason === null && _dash_between_digits(reading)) {
    reading.reason = "no number: a dash stands between the digits (a range, a date or a " +
      "phone number?); the digits read are listed";
  } else if (reading.reason === null && line.separators) {
    reading.reason = "no number: a small mark sits low among the digits, a decimal point " +
      "or a separator (1.5 or 1,500?); the digits read are listed";
  }
  reading.number = numberOf(reading);
  return reading;
}
