// The page: a canvas to draw on, a file input for photos, and what the model sees and says;
// in number mode, a wider canvas and the whole number read (number_reading.js).
import { NoInkError, preprocess_image, to_model_input } from "./preprocess.js";
import {
  batchProbabilities, decide, loadMetadata, loadModel, logits, refusalThreshold, softmax,
} from "./model.js";
import { read_number } from "./number_reading.js";

// rasterize_strokes draws 18-pixel strokes on a 280-pixel canvas: the same share here.
const CANVAS = 280;
// In number mode the canvas is three digits wide, as high, with the same pen.
const NUMBER_WIDTH = 840;
const LINE_WIDTH = 18;
// A photo larger than this a side is drawn smaller before it is read (the JPEG decoder in
// Python decodes big photos at reduced scale too; see images.open_image).
const MAX_PHOTO_SIDE = 4096;

const $ = (id) => document.getElementById(id);
const state = { session: null, metadata: null, threshold: 0, times: [], numberTimes: [], numberMode: false };

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

/** The class probabilities of many 28x28 inputs, in one batch (number_reading's classify). */
async function classify(pixelsList) {
  const { mean, std } = state.metadata.normalization;
  return batchProbabilities(state.session, pixelsList.map((pixels) => to_model_input(pixels, mean, std)));
}

/** Read the whole number in one decoded picture { width, height, channels, data }:
 * number_reading.read_number with the page's model. Returns its reading (the number or why
 * there is none, every piece's box, digit, probabilities and 28x28 input) and ``ms``. */
export async function readNumber(picture) {
  const t0 = performance.now();
  const reading = await read_number(picture, classify, state.threshold);
  reading.ms = performance.now() - t0;
  state.numberTimes.push(reading.ms);
  return reading;
}

// Readings run one after another (one model session); a drawing read while a newer stroke
// was already finished is skipped, since the newer one will be read.
let queue = Promise.resolve();
function inTurn(task) {
  queue = queue.then(task, task);
  return queue;
}

/** A 28x28 input (0..1, row after row) drawn onto a 28x28 canvas. */
function paint28(canvas, pixels) {
  const view = canvas.getContext("2d");
  const image = view.createImageData(28, 28);
  (pixels ?? new Array(784).fill(0)).forEach((v, i) => {
    const level = Math.round(255 * v);
    image.data.set([level, level, level, 255], i * 4);
  });
  view.putImageData(image, 0, 0);
}

/** Show a number's reading: the picture with every piece's box (green with the digit read,
 * red when refused), each piece's 28x28 input, the number or why there is none. */
function showNumber(reading, source) {
  const boxes = $("boxes");
  const scale = Math.min(1, NUMBER_WIDTH / source.width);
  boxes.width = Math.round(source.width * scale);
  boxes.height = Math.round(source.height * scale);
  const view = boxes.getContext("2d");
  view.drawImage(source, 0, 0, boxes.width, boxes.height);
  const pieces = [...reading.digits, ...reading.refused].sort((a, b) => a.box[0] - b.box[0]);
  view.lineWidth = 2;
  view.font = "bold 18px system-ui, sans-serif";
  for (const piece of pieces) {
    const [x, y, width, height] = piece.box.map((v) => v * scale);
    view.strokeStyle = view.fillStyle = piece.digit === null ? "#d22" : "#1a2";
    view.strokeRect(x, y, width, height);
    view.fillText(piece.digit === null ? "?" : `${piece.digit}`, x + 2, Math.max(16, y - 4));
  }
  const row = $("pieces");
  row.replaceChildren();
  for (const piece of pieces) {
    const figure = document.createElement("figure");
    figure.className = piece.digit === null ? "piece refused" : "piece";
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 28;
    paint28(canvas, piece.pixels);
    const caption = document.createElement("figcaption");
    caption.textContent = piece.digit === null ? "refused" : `${piece.digit}`;
    if (piece.reason) caption.title = piece.reason;
    figure.append(canvas, caption);
    row.append(figure);
  }
  const answer = $("number-answer");
  answer.textContent = reading.number ?? reading.reason;
  answer.dataset.number = reading.number ?? "none";
  answer.className = reading.number === null ? "refused" : "digit";
  $("number-timing").textContent = `read in ${reading.ms.toFixed(0)} ms`;
}

function show(result) {
  const answer = $("answer");
  answer.textContent = result.digit !== null ? `${result.digit}` : result.reason;
  answer.dataset.digit = result.digit === null ? "none" : `${result.digit}`;
  answer.className = result.digit === null ? "refused" : "digit";
  paint28($("input28"), result.pixels);
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
  const canvas = pad();
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  inked = false;
}

function point(event) {
  const canvas = pad();
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * (canvas.width / box.width), (event.clientY - box.top) * (canvas.height / box.height)];
}

/** The pen as rasterize_strokes draws: round, black, LINE_WIDTH wide (a canvas forgets its
 * settings when it is resized). */
function setPen(context) {
  Object.assign(context, { lineWidth: LINE_WIDTH, lineCap: "round", lineJoin: "round", strokeStyle: "#000" });
}

/** Switch between one digit and a whole number: the canvas's width, and which answer shows.
 * ``data-drawn`` counts the strokes finished, ``data-read`` the last one read in number mode. */
function setMode(numberMode) {
  state.numberMode = numberMode;
  const canvas = pad();
  canvas.width = numberMode ? NUMBER_WIDTH : CANVAS;
  canvas.classList.toggle("number", numberMode);
  setPen(canvas.getContext("2d"));
  clearPad();
  $("digit-view").hidden = numberMode;
  $("number-view").hidden = !numberMode;
}

/** Read what is on the canvas now, in the current mode. */
async function readPad() {
  const canvas = pad();
  if (!state.numberMode) {
    show(await readPicture(pictureOf(canvas)));
    return;
  }
  const version = Number(document.body.dataset.drawn);
  await inTurn(async () => {
    if (version !== Number(document.body.dataset.drawn)) return; // a newer stroke will be read
    showNumber(await readNumber(pictureOf(canvas)), canvas);
    document.body.dataset.read = `${version}`;
  });
}

function setUpPad() {
  const canvas = pad();
  const context = canvas.getContext("2d", { willReadFrequently: true });
  clearPad();
  setPen(context);
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
    document.body.dataset.drawn = `${Number(document.body.dataset.drawn ?? 0) + 1}`;
    if (state.session && inked) await readPad();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  $("clear").addEventListener("click", clearPad);
  $("number-mode").addEventListener("change", (event) => setMode(event.target.checked));
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
  return canvas;
}

function setUpPhotos() {
  $("photo").addEventListener("change", async (event) => {
    const [file] = event.target.files;
    if (!file || !state.session) return;
    clearPad(); // the answer is about the photo now, not the drawing
    let canvas;
    try {
      canvas = await readFile(file);
    } catch (error) {
      const answer = $(state.numberMode ? "number-answer" : "answer");
      answer.textContent = `${file.name}: not an image the browser can read (${error.message})`;
      answer.dataset[state.numberMode ? "number" : "digit"] = "error";
      return;
    }
    if (state.numberMode) await inTurn(async () => showNumber(await readNumber(pictureOf(canvas)), canvas));
    else show(await readPicture(pictureOf(canvas)));
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
  window.mnist = {
    readPicture, readNumber, metadata: state.metadata, model: name, readyMs: ready,
    times: state.times, numberTimes: state.numberTimes,
  };
}

start().catch((error) => {
  $("status").textContent = `could not load the model: ${error.message}`;
  document.body.dataset.ready = "error";
  console.error(error);
});
