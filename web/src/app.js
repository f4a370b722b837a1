// The page: a canvas to draw on, a file input for photos, and what the model sees and says.
import { NoInkError, preprocess_image, to_model_input } from "./preprocess.js";
import { decide, loadMetadata, loadModel, logits, refusalThreshold, softmax } from "./model.js";

// rasterize_strokes draws 18-pixel strokes on a 280-pixel canvas: the same share here.
const CANVAS = 280;
const LINE_WIDTH = 18;
// A photo larger than this a side is drawn smaller before it is read (the JPEG decoder in
// Python decodes big photos at reduced scale too; see images.open_image).
const MAX_PHOTO_SIDE = 4096;

const $ = (id) => document.getElementById(id);
const state = { session: null, metadata: null, threshold: 0, times: [] };

/** The model's file: model_int8.onnx (the default), or model.onnx with ?model=float. */
function modelName() {
  return new URLSearchParams(location.search).get("model") === "float" ? "model.onnx" : "model_int8.onnx";
}

/** Read one decoded picture { width, height, channels, data }: preprocessing, the network,
 * the decision. Returns everything the page shows (and the tests compare). */
export async function readPicture(picture) {
  const t0 = performance.now();
  let prepared;
  try {
    prepared = preprocess_image(picture);
  } catch (error) {
    if (!(error instanceof NoInkError)) throw error;
    return { digit: null, reason: `not a digit: ${error.reason}`, probabilities: null, pixels: null, ms: performance.now() - t0 };
  }
  const mean = state.metadata.normalization.mean;
  const std = state.metadata.normalization.std;
  const probabilities = softmax(await logits(state.session, to_model_input(prepared.pixels, mean, std)));
  const { digit, reason } = decide(probabilities, state.threshold);
  const ms = performance.now() - t0;
  state.times.push(ms);
  return { digit, reason, probabilities, pixels: Array.from(prepared.pixels.data), ms };
}

function show(result) {
  const answer = $("answer");
  answer.textContent = result.digit !== null ? `${result.digit}` : result.reason;
  answer.dataset.digit = result.digit === null ? "none" : `${result.digit}`;
  answer.className = result.digit === null ? "refused" : "digit";
  const view = $("input28").getContext("2d");
  const image = view.createImageData(28, 28);
  (result.pixels ?? new Array(784).fill(0)).forEach((v, i) => {
    const level = Math.round(255 * v);
    image.data.set([level, level, level, 255], i * 4);
  });
  view.putImageData(image, 0, 0);
  const bars = $("bars");
  bars.replaceChildren();
  for (let d = 0; d < 10; d++) {
    const p = result.probabilities ? result.probabilities[d] : 0;
    const row = document.createElement("div");
    row.className = d === result.digit ? "bar best" : "bar";
    row.innerHTML = `<span class="label">${d}</span><span class="track"><span class="fill" style="width:${(100 * p).toFixed(1)}%"></span></span><span class="value">${(100 * p).toFixed(1)}%</span>`;
    bars.append(row);
  }
  $("timing").textContent = `read in ${result.ms.toFixed(0)} ms`;
  document.body.dataset.readings = `${Number(document.body.dataset.readings ?? 0) + 1}`;
}

function pictureOf(canvas) {
  const { width, height } = canvas;
  const data = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  return { width, height, channels: 4, data };
}

// ---- drawing -------------------------------------------------------------------------
const pad = () => $("pad");
let drawing = false;
let inked = false;

function clearPad() {
  const context = pad().getContext("2d");
  context.fillStyle = "#fff";
  context.fillRect(0, 0, CANVAS, CANVAS);
  inked = false;
}

function point(event) {
  const box = pad().getBoundingClientRect();
  return [(event.clientX - box.left) * (CANVAS / box.width), (event.clientY - box.top) * (CANVAS / box.height)];
}

function setUpPad() {
  const canvas = pad();
  const context = canvas.getContext("2d", { willReadFrequently: true });
  clearPad();
  Object.assign(context, { lineWidth: LINE_WIDTH, lineCap: "round", lineJoin: "round", strokeStyle: "#000" });
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    inked = true;
    canvas.setPointerCapture(event.pointerId);
    const [x, y] = point(event);
    context.beginPath();
    context.moveTo(x, y);
    context.lineTo(x, y); // a dot, for a tap
    context.stroke();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const [x, y] = point(event);
    context.lineTo(x, y);
    context.stroke();
  });
  const finish = async () => {
    if (!drawing) return;
    drawing = false;
    if (state.session && inked) show(await readPicture(pictureOf(canvas)));
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  $("clear").addEventListener("click", clearPad);
}

// ---- photos --------------------------------------------------------------------------
async function readFile(file) {
  // EXIF orientation applied, as images.to_grayscale does.
  let bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  const side = Math.max(bitmap.width, bitmap.height);
  if (side > MAX_PHOTO_SIDE) {
    const scale = MAX_PHOTO_SIDE / side;
    bitmap = await createImageBitmap(bitmap, {
      resizeWidth: Math.round(bitmap.width * scale), resizeHeight: Math.round(bitmap.height * scale), resizeQuality: "medium",
    });
  }
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
  return pictureOf(canvas);
}

function setUpPhotos() {
  $("photo").addEventListener("change", async (event) => {
    const [file] = event.target.files;
    if (!file || !state.session) return;
    clearPad(); // the answer is about the photo now, not the drawing
    try {
      show(await readFile(file).then(readPicture));
    } catch (error) {
      $("answer").textContent = `${file.name}: not an image the browser can read (${error.message})`;
      $("answer").dataset.digit = "error";
    }
  });
}

// ---- start ---------------------------------------------------------------------------
async function start() {
  setUpPad();
  setUpPhotos();
  const name = modelName();
  state.metadata = await loadMetadata(name.replace(/\.onnx$/, ".json"));
  state.threshold = refusalThreshold(state.metadata);
  state.session = await loadModel(name);
  // One reading of a blank input, so the first real reading does not pay for warming up.
  await logits(state.session, new Float32Array(784));
  // performance.now() counts from the start of navigation: page load to ready.
  const ready = performance.now();
  $("status").textContent = `ready (${name}, loaded in ${ready.toFixed(0)} ms)`;
  document.body.dataset.ready = "1";
  window.mnist = { readPicture, metadata: state.metadata, model: name, readyMs: ready, times: state.times };
}

start().catch((error) => {
  $("status").textContent = `could not load the model: ${error.message}`;
  document.body.dataset.ready = "error";
  console.error(error);
});
