// PIL's resampling of 8-bit grey images (Pillow's src/libImaging/Resample.c), carried over
// so that the page shrinks, fits and smooths pixels exactly as mnist_helpers does with
// Image.resize(..., Image.Resampling.BOX / BILINEAR / LANCZOS). The arithmetic is PIL's:
// coefficients in double precision, normalised, turned into 22-bit fixed point, a horizontal
// pass rounded to 8 bits, then a vertical pass. The only possible difference is the last bit
// of Math.sin against the C library's sin (LANCZOS), which moves a fixed-point coefficient
// only if it lies within 1e-16 of a rounding boundary.

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1); // rounds the fixed-point sums

/** The filters of Resample.c: each a function and its support (half-width). */
export const FILTERS = {
  box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1.0 : 0.0) },
  bilinear: {
    support: 1.0,
    weight: (x) => {
      const a = Math.abs(x);
      return a < 1.0 ? 1.0 - a : 0.0;
    },
  },
  lanczos: {
    support: 3.0,
    weight: (x) => (x >= -3.0 && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0),
  },
};

function sinc(x) {
  if (x === 0.0) return 1.0;
  const y = x * Math.PI;
  return Math.sin(y) / y;
}

/** precompute_coeffs + normalize_coeffs_8bpc: for each output pixel, the first input pixel,
 * how many are used, and their fixed-point weights. */
function coefficients(inSize, outSize, filter) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1.0);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const weights = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1.0 / filterscale;
    let xmin = Math.trunc(center - support + 0.5); // C's (int) cast truncates
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) * ss);
      weights[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const k = ww !== 0.0 ? weights[x] / ww : weights[x];
      kk[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, kk, ksize };
}

/** clip8: a fixed-point sum back to 0..255. */
function clip8(sum) {
  if (sum >= ONE * 256) return 255;
  if (sum <= 0) return 0;
  return Math.floor(sum / ONE);
}

/** One horizontal pass (ImagingResampleHorizontal_8bpc): ``rows`` rows from ``start``. */
function horizontalPass(pixels, width, rows, start, outW, coeffs) {
  const out = new Uint8Array(outW * rows);
  for (let yy = 0; yy < rows; yy++) {
    const row = (yy + start) * width;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = coeffs.bounds[xx * 2];
      const xmax = coeffs.bounds[xx * 2 + 1];
      const k = xx * coeffs.ksize;
      let ss = HALF;
      for (let x = 0; x < xmax; x++) ss += pixels[row + x + xmin] * coeffs.kk[k + x];
      out[yy * outW + xx] = clip8(ss);
    }
  }
  return out;
}

/** One vertical pass (ImagingResampleVertical_8bpc), the rows' bounds shifted by ``offset``. */
function verticalPass(pixels, width, outH, offset, coeffs) {
  const out = new Uint8Array(width * outH);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = coeffs.bounds[yy * 2] - offset;
    const ymax = coeffs.bounds[yy * 2 + 1];
    const k = yy * coeffs.ksize;
    for (let xx = 0; xx < width; xx++) {
      let ss = HALF;
      for (let y = 0; y < ymax; y++) ss += pixels[(y + ymin) * width + xx] * coeffs.kk[k + y];
      out[yy * width + xx] = clip8(ss);
    }
  }
  return out;
}

/** Image.resize for mode "L": ``pixels`` (Uint8Array, width*height) to outW x outH. Each
 * pass rounds to 8 bits, so their order matters: Pillow 13 (python-pillow/Pillow#9549) runs
 * the vertical pass first when the height shrinks by more than twice as many pixels as the
 * width, and the horizontal pass first otherwise (Pillow 12 and older: always horizontal
 * first). */
export function resizeL(pixels, width, height, outW, outH, filterName) {
  const filter = FILTERS[filterName];
  if (!filter) throw new Error(`unknown filter ${filterName}`);
  if (outW === width && outH === height) return Uint8Array.from(pixels);
  const needH = outW !== width;
  const needV = outH !== height;
  const horiz = coefficients(width, outW, filter);
  const vert = coefficients(height, outH, filter);
  const verticalFirst = outH < height && height - outH > 2 * (width - outW);
  if (verticalFirst) {
    const tall = needV ? verticalPass(pixels, width, outH, 0, vert) : pixels;
    return needH ? horizontalPass(tall, width, outH, 0, outW, horiz) : tall;
  }
  if (!needH) return verticalPass(pixels, width, outH, 0, vert);
  // Only the rows the vertical pass will read are resampled across.
  const first = needV ? vert.bounds[0] : 0;
  const last = needV ? vert.bounds[outH * 2 - 2] + vert.bounds[outH * 2 - 1] : height;
  const wide = horizontalPass(pixels, width, last - first, first, outW, horiz);
  return needV ? verticalPass(wide, outW, outH, first, vert) : wide;
}
