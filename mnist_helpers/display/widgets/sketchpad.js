function render({ model, el }) {
  const size = model.get("size");
  const wide = model.get("width") || size;
  const canvas = document.createElement("canvas");
  canvas.width = wide;
  canvas.height = size;
  canvas.className = "mnist-sketchpad";
  canvas.style.cssText = `width:${wide}px;height:${size}px;border:2px solid #888;` +
    "border-radius:4px;cursor:crosshair;touch-action:none;background:white";
  el.appendChild(canvas);
  const ctx = canvas.getContext("2d");
  let strokes = (model.get("strokes") || []).map((s) => s.map((p) => p.slice()));
  let current = null;
  let lastSync = 0;
  let timer = null;

  function paint() {
    ctx.fillStyle = "white";
    ctx.fillRect(0, 0, wide, size);
    const width = model.get("line_width");
    ctx.strokeStyle = "black";
    ctx.fillStyle = "black";
    ctx.lineWidth = width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const stroke of strokes) {
      if (stroke.length === 0) continue;
      ctx.beginPath();
      if (stroke.length === 1) {
        ctx.arc(stroke[0][0], stroke[0][1], width / 2, 0, 2 * Math.PI);
        ctx.fill();
        continue;
      }
      ctx.moveTo(stroke[0][0], stroke[0][1]);
      for (const [x, y] of stroke.slice(1)) ctx.lineTo(x, y);
      ctx.stroke();
    }
  }
  function sync() {
    if (timer !== null) { clearTimeout(timer); timer = null; }
    lastSync = Date.now();
    model.set("strokes", strokes.map((s) => s.map((p) => p.slice())));
    model.save_changes();
  }
  function syncSoon() {  // at most every 100 ms while drawing: predictions follow the pen
    const wait = 100 - (Date.now() - lastSync);
    if (wait <= 0) sync();
    else if (timer === null) timer = setTimeout(sync, wait);
  }
  function point(event) {
    const box = canvas.getBoundingClientRect();
    const x = ((event.clientX - box.left) * wide) / box.width;
    const y = ((event.clientY - box.top) * size) / box.height;
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  }
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    current = [point(event)];
    strokes.push(current);
    paint();
    syncSoon();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (current === null) return;
    current.push(point(event));
    paint();
    syncSoon();
  });
  const end = () => {
    if (current === null) return;
    current = null;
    sync();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  model.on("change:strokes", () => {
    if (current !== null) return;  // the pen is down: what is on screen is newer
    strokes = (model.get("strokes") || []).map((s) => s.map((p) => p.slice()));
    paint();
  });
  model.on("change:line_width", paint);
  paint();
  return () => { if (timer !== null) clearTimeout(timer); };
}
export default { render };
