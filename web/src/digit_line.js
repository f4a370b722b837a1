// mnist_helpers.digit_line in JavaScript: finding the line of writing in one image's ink (the
// pieces the model must read as digits, and the marks that are not digits). The SAME
// algorithm, step by step; each function is named like its Python twin and says which one it
// is. Grids are { h, w, data } in rows (ndimage.js); a box is x0, y0 (its first column and
// row) and x1, y1 (one past its last).
import { binaryErosion, distanceTransformEdt, findObjects, label } from "./ndimage.js";
import { opening_along } from "./preprocess.js";

/** digit_line.MAX_PIECES: a line of more pieces than this is not one number. */
export const MAX_PIECES = 30;
/** digit_line.ELONGATED: a stroke is at least this many times as long as the pen is thick. */
export const ELONGATED = 2.0;
/** digit_line.SPECK, SPECK_AREA: marks smaller than these shares are specks. */
export const SPECK = 0.6;
export const SPECK_AREA = 0.02;
/** digit_line.SMALL: marks less tall and wide than this share of the digits' height. */
export const SMALL = 0.5;
/** digit_line.FLAT, LONG, TOUCHING: underlines and rules. */
export const FLAT = 0.35;
export const LONG = 1.3;
export const TOUCHING = 2.2;
/** digit_line.LOW: a mark whose centre sits below this share of the line's height sits low. */
export const LOW = 0.7;
/** digit_line.OFF_LINE: pieces this many digit heights off the line are not in it. */
export const OFF_LINE = 0.75;
/** digit_line.LOOK_BACK: joining looks back at this many groups at most. */
export const LOOK_BACK = 8;
/** digit_line.NOISE_MARKS: more marks than this share of the pixels is noise. */
export const NOISE_MARKS = 1 / 50;
/** digit_line.MOSTLY_OFF_THE_LINE: more pieces off the line than this share is no line. */
export const MOSTLY_OFF_THE_LINE = 1 / 3;

/** digit_line.Group: connected strokes that belong together, their box, labels, ink,
 * outline and pen thickness. */
export class Group {
  constructor(x0, y0, x1, y1, ids, area, outline, thickness) {
    Object.assign(this, { x0, y0, x1, y1, ids, area, outline, thickness });
  }

  /** Group.width: columns from the left edge to the right. */
  get width() { return this.x1 - this.x0; }

  /** Group.height: rows from the top to the bottom. */
  get height() { return this.y1 - this.y0; }

  /** Group.join: take ``other``'s strokes into this group. */
  join(other) {
    this.x0 = Math.min(this.x0, other.x0);
    this.y0 = Math.min(this.y0, other.y0);
    this.x1 = Math.max(this.x1, other.x1);
    this.y1 = Math.max(this.y1, other.y1);
    this.ids = this.ids.concat(other.ids);
    this.area += other.area;
    this.outline += other.outline;
    this.thickness = Math.max(this.thickness, other.thickness);
  }
}

/** np.median of a list of numbers. */
export function median(values) {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/** np.ptp of a list of numbers. */
function ptp(values) {
  return Math.max(...values) - Math.min(...values);
}

/** np.polyfit(x, y, 1, w=weights): [slope, offset] of the least-squares line (the weights
 * multiply the residuals, as numpy's do). Numpy solves it by SVD; this by the normal
 * equations about the weighted means, which agree with it to the last few bits. */
export function polyfit1(x, y, weights = null) {
  const w2 = x.map((_, i) => (weights === null ? 1 : weights[i] * weights[i]));
  const total = w2.reduce((a, b) => a + b, 0);
  const mx = x.reduce((a, v, i) => a + w2[i] * v, 0) / total;
  const my = y.reduce((a, v, i) => a + w2[i] * v, 0) / total;
  let sxy = 0;
  let sxx = 0;
  x.forEach((v, i) => {
    sxy += w2[i] * (v - mx) * (y[i] - my);
    sxx += w2[i] * (v - mx) * (v - mx);
  });
  const slope = sxy / sxx;
  return [slope, my - slope * mx];
}

/** np.polyval of a line [slope, offset] at ``x``. */
function polyval1([slope, offset], x) {
  return slope * x + offset;
}

/** Which pixels of ``labels`` carry one of ``ids`` (np.isin(labels, ids)). */
function isin(labels, ids) {
  const wanted = new Set(ids);
  return { h: labels.h, w: labels.w, data: Uint8Array.from(labels.data, (v) => (wanted.has(v) ? 1 : 0)) };
}

/** digit_line._components: the connected strokes (8-neighbours) of ``mask``: the label grid
 * and one Group each, numbered as scipy numbers them. */
export function _components(mask) {
  const { labels, count } = label(mask, true);
  if (count === 0) return { labels, groups: [] };
  const areas = new Float64Array(count);
  const outlines = new Float64Array(count);
  const deepest = new Float64Array(count);
  const eroded = binaryErosion(mask);
  const distance = distanceTransformEdt(mask);
  labels.data.forEach((v, i) => {
    if (v === 0) return;
    areas[v - 1] += 1;
    if (!eroded.data[i]) outlines[v - 1] += 1;
    deepest[v - 1] = Math.max(deepest[v - 1], distance.data[i]);
  });
  const groups = findObjects(labels).map(([top, bottom, left, right], i) => new Group(
    left, top, right, bottom, [i + 1], areas[i], outlines[i], 2 * deepest[i]));
  return { labels, groups };
}

/** digit_line._weighted_median: the value below which half of the weight lies. */
export function _weighted_median(values, weights) {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const cumulative = [];
  let sum = 0;
  for (const i of order) {
    sum += weights[i];
    cumulative.push(sum);
  }
  const half = cumulative[cumulative.length - 1] / 2;
  const at = cumulative.findIndex((c) => c >= half); // np.searchsorted, side "left"
  return values[order[at]];
}

/** digit_line._line_size: [how tall the digits are, how wide the pen is], or null when
 * there are only dots. */
export function _line_size(groups) {
  const strokes = groups.filter((g) => Math.max(g.width, g.height) >= ELONGATED * g.thickness);
  if (!strokes.length) return null;
  const height = _weighted_median(strokes.map((g) => g.height), strokes.map((g) => g.area));
  let area = 0;
  let outline = 0;
  for (const g of strokes) area += g.area;
  for (const g of strokes) outline += g.outline;
  return [height, (2 * area) / outline];
}

/** digit_line._is_rule: a long flat stroke (an underline or a rule), not a digit. */
export function _is_rule(group, height) {
  return group.width >= LONG * height && group.height <= FLAT * group.width &&
    group.height < SMALL * height;
}

/** digit_line._long_rows: the ink in rows ``TOUCHING`` digit heights long or longer, as
 * [thin (the paper's rules), thick (a line drawn with the pen)]. */
export function _long_rows(mask, height, pen) {
  const run = Math.max(2, Math.trunc(TOUCHING * height));
  const rows = opening_along(mask, run, 1);
  const { labels, count } = label(rows, false);
  if (count === 0) return [rows, rows];
  const sums = new Float64Array(count);
  for (const v of labels.data) if (v) sums[v - 1] += 1;
  const thinIds = [];
  findObjects(labels).forEach(([, , left, right], i) => {
    if (sums[i] / (right - left) < 0.5 * pen) thinIds.push(i + 1);
  });
  const thin = isin(labels, thinIds);
  const thick = { h: rows.h, w: rows.w, data: rows.data.map((v, i) => (v && !thin.data[i] ? 1 : 0)) };
  return [thin, thick];
}

/** digit_line._join_stacked: pieces of one digit, one above the other, joined; one sweep
 * from left to right. */
export function _join_stacked(groups) {
  const joined = [];
  const sorted = [...groups].sort((a, b) => a.x0 - b.x0); // stable, as Python's sorted
  for (const g of sorted) {
    let merged = false;
    for (const other of joined.slice(-LOOK_BACK).reverse()) {
      const overlap = Math.min(g.x1, other.x1) - Math.max(g.x0, other.x0);
      const gap = Math.max(g.y0, other.y0) - Math.min(g.y1, other.y1);
      if (overlap > 0.5 * Math.min(g.width, other.width) &&
          gap <= 0.5 * Math.max(g.height, other.height)) {
        other.join(g);
        merged = true;
        break;
      }
    }
    if (!merged) joined.push(g);
  }
  return joined;
}

/** digit_line._band: the top and bottom of the line as straight lines [slope, offset]. */
export function _band(digits) {
  const x = digits.map((g) => (g.x0 + g.x1) / 2);
  const tops = digits.map((g) => g.y0);
  const bottoms = digits.map((g) => g.y1);
  if (digits.length < 2 || ptp(x) === 0) {
    const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
    return [[0.0, mean(tops)], [0.0, mean(bottoms)]];
  }
  return [polyfit1(x, tops), polyfit1(x, bottoms)];
}

/** digit_line._place: where the centre of ``group`` sits in the line (0 top, 1 bottom). */
export function _place(group, band) {
  const centre = (group.x0 + group.x1) / 2;
  const [top, bottom] = band.map((edge) => polyval1(edge, centre));
  return ((group.y0 + group.y1) / 2 - top) / Math.max(bottom - top, 1.0);
}

/** digit_line._is_minus: a short flat bar at mid-height just before the first digit. */
export function _is_minus(mark, first, band, height) {
  const place = _place(mark, band);
  return mark.height <= 0.5 * mark.width && mark.width >= 0.25 * height &&
    mark.x1 <= first.x0 + 0.2 * first.width && first.x0 - mark.x1 <= height &&
    place >= 0.25 && place <= 0.8;
}

/** digit_line._is_low_point: the size, shape and place of a full stop or a comma. */
export function _is_low_point(mark, band, height) {
  const place = _place(mark, band);
  return mark.height < SMALL * height && mark.width < SMALL * height &&
    mark.height > FLAT * mark.width && place >= LOW && place <= 1.5;
}

/** digit_line._is_broken_off: a piece broken off a digit (in a digit's columns, less than a
 * pen's width from its strokes) rather than a point. */
export function _is_broken_off(mark, digits, distance, labels, pen) {
  if (!digits.some((d) => Math.min(mark.x1, d.x1) > Math.max(mark.x0, d.x0))) return false;
  const ids = new Set(mark.ids);
  let nearest = Infinity;
  labels.data.forEach((v, i) => { if (ids.has(v)) nearest = Math.min(nearest, distance.data[i]); });
  return nearest < pen;
}

/** digit_line._sort_marks: the groups the model must read, left to right; points counted
 * in ``line.separators``, a minus sign noted in ``line.sign``. */
export function _sort_marks(groups, labels, height, pen, line) {
  const digits = groups.filter((g) => g.height >= SMALL * height);
  if (!digits.length) return groups;
  const band = _band(digits);
  const first = digits[0];
  const last = digits[digits.length - 1];
  let distance = null; // from the digits' strokes, found once there is a mark to measure
  const read = [];
  for (const g of groups) {
    if (_is_low_point(g, band, height)) {
      if (distance === null) {
        const strokes = isin(labels, digits.flatMap((d) => d.ids));
        distance = distanceTransformEdt({ h: strokes.h, w: strokes.w, data: strokes.data.map((v) => 1 - v) });
      }
      if (!_is_broken_off(g, digits, distance, labels, pen)) {
        if (g.x1 <= last.x0 + 0.5 * last.width && first.x0 - g.x1 <= height) line.separators += 1;
        continue;
      }
    }
    read.push(g);
  }
  const before = read.filter((g) => g.x1 <= first.x0 + 0.2 * first.width);
  if (before.length && _is_minus(before[before.length - 1], first, band, height)) {
    line.sign = "-";
    read.splice(read.indexOf(before[before.length - 1]), 1);
  }
  return read;
}

/** digit_line._off_the_line: how many pieces as tall as digits stand more than
 * ``OFF_LINE`` digit heights off the Theil-Sen line through the others. */
export function _off_the_line(groups, height) {
  const tall = groups.filter((g) => g.height >= SMALL * height);
  if (tall.length < 3) return 0;
  const x = tall.map((g) => (g.x0 + g.x1) / 2);
  const y = tall.map((g) => (g.y0 + g.y1) / 2);
  const slopes = [];
  for (let i = 0; i < tall.length; i++) {
    for (let j = i + 1; j < tall.length; j++) if (x[j] !== x[i]) slopes.push((y[j] - y[i]) / (x[j] - x[i]));
  }
  const slope = slopes.length ? median(slopes) : 0.0;
  const residual = y.map((v, i) => v - slope * x[i]);
  const middle = median(residual);
  return residual.filter((r) => Math.abs(r - middle) > OFF_LINE * height).length;
}

/** digit_line._region: the Region of ``group``: its box and only its own strokes' ink
 * (float32). */
export function _region(group, labels, ink) {
  const ids = new Set(group.ids);
  const { width, height } = group;
  const own = { h: height, w: width, data: new Float32Array(width * height) };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (group.y0 + y) * ink.w + group.x0 + x;
      if (ids.has(labels.data[i])) own.data[y * width + x] = ink.data[i];
    }
  }
  return { x: group.x0, y: group.y0, width, height, ink: own };
}

/** digit_line.find_line: the regions of a white-on-black ink grid that the model must read,
 * left to right, and { height, sign, separators, problem } of the line. */
export function find_line(ink, threshold) {
  let mask = { h: ink.h, w: ink.w, data: Uint8Array.from(ink.data, (v) => (v > threshold ? 1 : 0)) };
  let { labels, groups } = _components(mask);
  const line = { regions: [], height: 0.0, sign: "", separators: 0, problem: null };
  const size = _line_size(groups);
  if (size === null) {
    line.problem = groups.length
      ? `no number: only ${groups.length} small dots or specks, no strokes as long as a digit's`
      : "no number: no ink found";
    return line;
  }
  if (groups.length > Math.max(10 * MAX_PIECES, NOISE_MARKS * mask.data.length)) {
    line.problem = `no number: ${groups.length} separate marks; is it a page of noise, dots or text?`;
    return line;
  }
  const [height, pen] = size;
  line.height = height;
  const [thin, thick] = _long_rows(mask, height, pen);
  if (thin.data.some((v) => v)) { // the paper's rules or edges: erased, strokes found again
    mask = { h: mask.h, w: mask.w, data: mask.data.map((v, i) => (v && !thin.data[i] ? 1 : 0)) };
    ink = { h: ink.h, w: ink.w, data: ink.data.map((v, i) => (thin.data[i] ? 0 : v)) };
    ({ labels, groups } = _components(mask));
  }
  const biggest = groups.reduce((m, g) => Math.max(m, g.area), 0.0);
  const kept = groups.filter((g) => g.area >= SPECK_AREA * biggest &&
    Math.max(g.width, g.height) >= SPECK * pen && !_is_rule(g, height));
  groups = _join_stacked(kept);
  if (groups.length > MAX_PIECES) {
    line.problem = `no number: ${groups.length} separate pieces, too many for one line of ` +
      `digits (at most ${MAX_PIECES}); is it a page of noise, dots or text?`;
    return line;
  }
  const off = _off_the_line(groups, height);
  if (off > MOSTLY_OFF_THE_LINE * groups.length) {
    line.problem = `no number: ${off} of ${groups.length} pieces do not stand in one line ` +
      "with the others; is it a page of noise, dots or text?";
    return line;
  }
  const ids = new Set(groups.flatMap((g) => g.ids));
  if (labels.data.some((v, i) => thick.data[i] && ids.has(v))) {
    line.problem = "no number: a line drawn under or through the digits touches them; " +
      "leave a gap below the digits or crop the line away";
    return line;
  }
  line.regions = _sort_marks(groups, labels, height, pen, line).map((g) => _region(g, labels, ink));
  return line;
}

/** digit_line.typical_width: how wide one digit of this line is (0.7 of the regions' median
 * height). */
export function typical_width(regions) {
  return 0.7 * median(regions.map((r) => r.height));
}
