// The exported network run by onnxruntime-web, and the decision of mnist_helpers.predict.
// Everything is served from the page's own folder: the ONNX file, its metadata (model.json,
// written by `python -m mnist_helpers export`), and onnxruntime's WebAssembly files, which
// `make web` copies there. No CDN, so the page works offline once loaded.
import * as ort from "../ort.wasm.min.mjs";

// onnxruntime's .wasm and its loader sit beside the page.
ort.env.wasm.wasmPaths = new URL("../", import.meta.url).href;
// One thread: several threads need SharedArrayBuffer, which needs cross-origin isolation
// headers that plain static hosting (GitHub Pages) cannot send.
ort.env.wasm.numThreads = 1;

/** config.NOT_A_DIGIT and config.TWO_DIGITS: the outputs after the ten digits. */
export const NOT_A_DIGIT = 10;
export const TWO_DIGITS = 11;

/** The metadata beside an ONNX file (mnist_helpers.export.export_metadata). */
export async function loadMetadata(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  return response.json();
}

/** An onnxruntime-web session for the ONNX file at ``url``, on the WASM backend. */
export async function loadModel(url) {
  return ort.InferenceSession.create(url, { executionProviders: ["wasm"] });
}

/** The logits the network gives for one normalised 28x28 input (Float32Array of 784). */
export async function logits(session, input) {
  const tensor = new ort.Tensor("float32", input, [1, 1, 28, 28]);
  const outputs = await session.run({ [session.inputNames[0]]: tensor });
  return Array.from(outputs[session.outputNames[0]].data);
}

/** Softmax of the logits (torch.softmax), in double precision. */
export function softmax(values) {
  const top = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - top));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** predict.decide: the digit the probabilities name, or null and the reason it is refused
 * (a "not a digit" or "two digits" class above every digit, or no digit reaching the
 * refusal threshold). Returns { digit, reason }. */
export function decide(probabilities, threshold = 0.0) {
  if (!probabilities.every(Number.isFinite)) {
    throw new Error("the model's output is not a number (NaN): the model is broken");
  }
  const digits = probabilities.slice(0, 10);
  let best = 0;
  for (let d = 1; d < digits.length; d++) if (digits[d] > digits[best]) best = d;
  const pct = (p) => (100 * p).toFixed(0);
  if (probabilities.length > NOT_A_DIGIT && Math.max(...probabilities.slice(NOT_A_DIGIT)) > digits[best]) {
    const twoDigits = probabilities.length > TWO_DIGITS &&
      probabilities[TWO_DIGITS] >= Math.max(...probabilities);
    if (twoDigits) {
      return { digit: null, reason: `not a digit (it looks like two digits, ${pct(probabilities[TWO_DIGITS])}%: read it as a number)` };
    }
    return { digit: null, reason: `not a digit (the model is ${pct(probabilities[NOT_A_DIGIT])}% sure it is not one)` };
  }
  if (digits[best] < threshold) {
    return { digit: null, reason: `not a digit (no digit is likely enough: a ${best} at ${pct(digits[best])}%, below ${pct(threshold)}%)` };
  }
  return { digit: best, reason: null };
}

/** Python's Refusal.from_metadata: the stored threshold when it is a number in [0, 1). */
export function refusalThreshold(metadata) {
  const value = metadata.refusal_threshold;
  return typeof value === "number" && value >= 0 && value < 1 ? value : 0.0;
}

/** The class probabilities for many 28x28 inputs at once (one session.run with a batch
 * dimension): ``inputs`` is a list of normalised Float32Arrays of 784; returns one list of
 * probabilities each, rounded to float32 as torch's softmax gives them. */
export async function batchProbabilities(session, inputs) {
  const batch = new Float32Array(inputs.length * 784);
  inputs.forEach((input, i) => batch.set(input, i * 784));
  const tensor = new ort.Tensor("float32", batch, [inputs.length, 1, 28, 28]);
  const outputs = await session.run({ [session.inputNames[0]]: tensor });
  const values = outputs[session.outputNames[0]].data;
  const classes = values.length / inputs.length;
  return inputs.map((_, i) => softmax(Array.from(values.subarray(i * classes, (i + 1) * classes))).map(Math.fround));
}
