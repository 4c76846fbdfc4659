// argen serve: the page. Plain JavaScript, no library: it calls the JSON API of
// src/serve/api.rs and draws on canvases.
"use strict";

// ---------------------------------------------------------------- the API
const token = new URLSearchParams(location.search).get("token");

/** Calls the API; resolves to the JSON answer, rejects with the server's error message. */
async function api(path, body) {
  const headers = {};
  if (token) headers["Authorization"] = "Bearer " + token;
  const options = { headers };
  if (body !== undefined) {
    options.method = "POST";
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const answer = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

/** A query string from an object, with the token (event streams cannot send headers). */
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== undefined && v !== null) q.set(k, v);
  if (token) q.set("token", token);
  return q.toString();
}

const $ = (id) => document.getElementById(id);

function status(id, text, isError) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", !!isError);
}

// ---------------------------------------------------------------- pictures
/** The colour of pixel (row, col) of an image of levels [colour][row][column]. */
function pixelColour(levels, shape, row, col) {
  const { colours, height, width } = shape;
  const top = shape.levels - 1;
  const at = (c) => Math.round((255 * levels[(c * height + row) * width + col]) / top);
  if (colours === 1) {
    const v = at(0);
    return [v, v, v];
  }
  return [at(0), at(1), at(2)];
}

/** A canvas showing one image at `scale` pixels per pixel. */
function imageCanvas(levels, shape, scale) {
  const canvas = document.createElement("canvas");
  canvas.width = shape.width * scale;
  canvas.height = shape.height * scale;
  canvas.className = "image";
  paintImage(canvas, levels, shape, scale);
  return canvas;
}

function paintImage(canvas, levels, shape, scale) {
  const ctx = canvas.getContext("2d");
  for (let row = 0; row < shape.height; row++) {
    for (let col = 0; col < shape.width; col++) {
      const [r, g, b] = pixelColour(levels, shape, row, col);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(col * scale, row * scale, scale, scale);
    }
  }
}

function scaleFor(shape, size) {
  return Math.max(1, Math.floor(size / Math.max(shape.width, shape.height)));
}

/** A line chart: `series` of {label, colour, points: [[x, y]], dash}, `bands` of
 * {colour, points: [[x, lo, hi]]}. */
function lineChart(canvas, series, bands, xLabel) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, left = 56, right = 12, top = 12, bottom = 30;
  ctx.clearRect(0, 0, W, H);
  const xs = [], ys = [];
  for (const s of series) for (const [x, y] of s.points) if (Number.isFinite(y)) { xs.push(x); ys.push(y); }
  for (const b of bands || []) for (const [x, lo, hi] of b.points) { xs.push(x); ys.push(lo, hi); }
  if (xs.length === 0) {
    ctx.fillStyle = "#777";
    ctx.fillText("no data yet", W / 2 - 30, H / 2);
    return;
  }
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
  const px = (x) => left + ((x - x0) / (x1 - x0)) * (W - left - right);
  const py = (y) => top + (1 - (y - y0) / (y1 - y0)) * (H - top - bottom);
  ctx.strokeStyle = "#bbb"; ctx.fillStyle = "#444"; ctx.lineWidth = 1; ctx.font = "11px sans-serif";
  ctx.strokeRect(left, top, W - left - right, H - top - bottom);
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    ctx.fillText(y.toPrecision(4), 4, py(y) + 4);
    const x = x0 + ((x1 - x0) * i) / 4;
    ctx.fillText(String(Math.round(x * 100) / 100), px(x) - 8, H - 14);
  }
  ctx.fillText(xLabel, W / 2, H - 2);
  for (const b of bands || []) {
    ctx.fillStyle = b.colour; ctx.beginPath();
    b.points.forEach(([x, , hi], i) => (i ? ctx.lineTo(px(x), py(hi)) : ctx.moveTo(px(x), py(hi))));
    for (let i = b.points.length - 1; i >= 0; i--) ctx.lineTo(px(b.points[i][0]), py(b.points[i][1]));
    ctx.closePath(); ctx.fill();
  }
  let legendY = top + 14;
  for (const s of series) {
    ctx.strokeStyle = s.colour; ctx.lineWidth = s.width || 2; ctx.setLineDash(s.dash || []);
    ctx.beginPath();
    let started = false;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y)) continue;
      if (started) ctx.lineTo(px(x), py(y)); else { ctx.moveTo(px(x), py(y)); started = true; }
    }
    ctx.stroke();
    if (s.points.length === 1) { ctx.fillStyle = s.colour; ctx.fillRect(px(s.points[0][0]) - 2, py(s.points[0][1]) - 2, 5, 5); }
    ctx.setLineDash([]);
    ctx.fillStyle = s.colour; ctx.fillText(s.label, W - right - 170, legendY); legendY += 14;
  }
}

// ---------------------------------------------------------------- runs
let current = null;       // the selected run's summary
let metricsStream = null; // its metrics event stream
let shownImage = null;    // the image the receptive-field card shows: {levels, shape}

async function loadRuns() {
  let answer;
  try { answer = await api("/api/runs"); } catch (e) { return; }
  const list = $("runs");
  const names = answer.runs.map((r) => r.name).join("\n");
  $("runs-empty").hidden = answer.runs.length > 0;
  if (list.dataset.names === names) {
    // Refresh the figures that change while a run trains.
    for (const run of answer.runs) {
      const item = list.querySelector(`[data-name="${CSS.escape(run.name)}"] .figures`);
      if (item) item.textContent = runFigures(run);
    }
    return;
  }
  list.dataset.names = names;
  list.replaceChildren();
  for (const run of answer.runs) {
    const item = document.createElement("li");
    item.dataset.name = run.name;
    item.className = "run-item";
    item.innerHTML = `<strong></strong> <span class="kind"></span><br><span class="figures"></span>`;
    item.querySelector("strong").textContent = run.name;
    item.querySelector(".kind").textContent = `${run.model} · ${run.data}`;
    item.querySelector(".figures").textContent = runFigures(run);
    item.addEventListener("click", () => selectRun(run.name));
    if (current && current.name === run.name) item.classList.add("selected");
    list.appendChild(item);
  }
  if (!current && answer.runs.length > 0) {
    const wanted = new URLSearchParams(location.search).get("run");
    const first = answer.runs.find((r) => r.name === wanted) || answer.runs[0];
    selectRun(first.name);
  }
}

function runFigures(run) {
  const parts = [];
  if (run.epochs_done !== null && run.epochs_done !== undefined) parts.push(`epoch ${run.epochs_done}/${run.epochs ?? "?"}`);
  if (run.best_valid !== null && run.best_valid !== undefined) parts.push(`valid ${run.best_valid.toFixed(4)} ${run.unit}`);
  if (run.writer) parts.push("training now");
  return parts.join(" · ");
}

async function selectRun(name) {
  const details = await api("/api/run?" + query({ run: name }));
  current = details.summary;
  for (const item of document.querySelectorAll(".run-item")) item.classList.toggle("selected", item.dataset.name === name);
  $("run").hidden = false;
  $("run-title").textContent = current.name;
  const params = details.parameters ? `${details.parameters.toLocaleString("en")} parameters · ` : "";
  $("run-facts").textContent = `${current.describe} · data ${current.data} · ${params}test NLL: computing…`;
  const trained = current.kind === "classic" || current.epochs_done > 0;
  if (!trained) $("run-facts").textContent = `${current.describe} · data ${current.data} · ${params}test NLL: after the first epoch`;
  else api("/api/eval?" + query({ run: name })).then(
    (report) => { if (current && current.name === name) $("run-facts").textContent = `${current.describe} · data ${current.data} · ${params}test NLL ${report.nats_per_dim.toFixed(4)} nats/dim = ${report.bits_per_dim.toFixed(4)} bits/dim (${report.examples} ${report.kind === "image" ? "images" : "examples"})`; },
    (e) => { if (current && current.name === name) $("run-facts").textContent = `${current.describe} · data ${current.data} · ${params}test NLL: ${e.message}`; });
  const views = new Set(current.views);
  $("sample-card").hidden = !views.has("sample");
  $("complete-card").hidden = !views.has("complete");
  $("field-card").hidden = !views.has("receptive-field");
  $("sequence-card").hidden = !views.has("sequence");
  $("forecast-card").hidden = !views.has("forecast");
  $("curves-card").hidden = current.kind === "classic";
  for (const el of document.querySelectorAll(".class-only")) el.hidden = !current.classes;
  $("samples").replaceChildren(); $("completions").replaceChildren(); $("sequences").replaceChildren();
  for (const id of ["sample-status", "complete-status", "field-status", "sequence-status", "forecast-status"]) status(id, "");
  watchMetrics(name);
  if (views.has("complete")) await loadTestImage();
  else if (views.has("receptive-field")) { shownImage = null; drawField(null); }
}

// ---------------------------------------------------------------- training curves
function watchMetrics(name) {
  if (metricsStream) metricsStream.close();
  $("curves").dataset.points = "0";
  $("curves-status").textContent = "";
  lineChart($("curves"), [], [], "epoch");
  if (current.kind === "classic") return;
  metricsStream = new EventSource("/api/metrics/stream?" + query({ run: name }));
  metricsStream.addEventListener("metrics", (e) => {
    const m = JSON.parse(e.data);
    drawCurves(m);
    $("curves-status").textContent = m.writer ? `(training now, process ${m.writer}; ${m.rows.length} epochs)` : `(${m.rows.length} epochs)`;
    $("curves").dataset.points = String(m.rows.length);
  });
}

function drawCurves(m) {
  const unit = m.header.some((h) => h.endsWith("bits_per_dim")) ? "bits_per_dim" : "nats_per_step";
  const column = (prefix) => m.header.indexOf(`${prefix}_${unit}`);
  const series = [["train", "#1f77b4"], ["valid", "#ff7f0e"]]
    .filter(([prefix]) => column(prefix) >= 0)
    .map(([prefix, colour]) => ({
      label: `${prefix} ${unit.replaceAll("_", " ")}`,
      colour,
      points: m.rows.map((row) => [row[0], row[column(prefix)]]),
    }));
  lineChart($("curves"), series, [], "epoch");
}

// ---------------------------------------------------------------- sampling
let sampleStream = null;

$("sample-form").addEventListener("submit", (e) => {
  e.preventDefault();
  if (sampleStream) sampleStream.close();
  const form = new FormData(e.target);
  const params = { run: current.name, n: form.get("n"), seed: form.get("seed"), temperature: form.get("temperature"), class: current.classes ? form.get("class") : "" };
  const grid = $("samples");
  grid.replaceChildren();
  grid.dataset.done = "false";
  status("sample-status", "starting…");
  const started = performance.now();
  let first = null, canvases = [], shape = null, scale = 1, values = 0;
  sampleStream = new EventSource("/api/sample/stream?" + query(params));
  sampleStream.addEventListener("start", (e) => {
    const s = JSON.parse(e.data);
    shape = { colours: s.colours, height: s.height, width: s.width, levels: s.levels };
    scale = scaleFor(shape, s.images > 16 ? 48 : 96);
    grid.style.gridTemplateColumns = `repeat(${s.columns}, auto)`;
    canvases = Array.from({ length: s.images }, () => {
      const c = imageCanvas(new Array(shape.colours * shape.height * shape.width).fill(0), shape, scale);
      grid.appendChild(c);
      return c;
    });
  });
  sampleStream.addEventListener("step", (e) => {
    const step = JSON.parse(e.data);
    if (first === null) first = performance.now() - started;
    values += 1;
    step.levels.forEach((level, i) => {
      const canvas = canvases[step.first + i];
      const ctx = canvas.getContext("2d");
      // Colour by colour: show the channel drawn so far (grey: the level itself).
      const v = Math.round((255 * level) / (shape.levels - 1));
      const old = ctx.getImageData(step.col * scale, step.row * scale, 1, 1).data;
      const rgb = shape.colours === 1 ? [v, v, v] : [0, 1, 2].map((c) => (c === step.colour ? v : c < step.colour ? old[c] : 0));
      ctx.fillStyle = `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;
      ctx.fillRect(step.col * scale, step.row * scale, scale, scale);
    });
    if (values % 16 === 0) status("sample-status", `drawing: value ${values} of ${shape.height * shape.width * shape.colours}`);
  });
  sampleStream.addEventListener("done", (e) => {
    const d = JSON.parse(e.data);
    const size = shape.colours * shape.height * shape.width;
    canvases.forEach((c, i) => paintImage(c, d.levels.slice(i * size, (i + 1) * size), shape, scale));
    shownImage = { levels: d.levels.slice(0, size), shape };
    status("sample-status", `${canvases.length} images in ${d.seconds.toFixed(2)} s of generation; first value after ${(first ?? 0).toFixed(0)} ms`);
    grid.dataset.done = "true";
    sampleStream.close();
  });
  sampleStream.addEventListener("error", (e) => {
    if (e.data) status("sample-status", JSON.parse(e.data).error, true);
    else if (grid.dataset.done !== "true") status("sample-status", "the stream was interrupted", true);
    sampleStream.close();
  });
});

// ---------------------------------------------------------------- completion
const editor = { levels: null, kept: null, shape: null, scale: 1, painting: false };

async function loadTestImage() {
  const index = Number(new FormData($("complete-form")).get("index")) || 0;
  try {
    const answer = await api("/api/test-images?" + query({ run: current.name, n: Math.min(index + 1, 64) }));
    const image = answer.images[Math.min(index, answer.images.length - 1)];
    editor.shape = current.shape;
    editor.levels = image.slice();
    editor.kept = image.map(() => true);
    editor.scale = scaleFor(editor.shape, 256);
    shownImage = { levels: image.slice(), shape: current.shape };
    paintEditor();
    drawField(null);
  } catch (e) {
    status("complete-status", e.message, true);
  }
}

function paintEditor() {
  const canvas = $("editor");
  const { shape, scale } = editor;
  canvas.width = shape.width * scale;
  canvas.height = shape.height * scale;
  paintImage(canvas, editor.levels, shape, scale);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "rgba(220, 30, 30, 0.75)";
  for (let row = 0; row < shape.height; row++)
    for (let col = 0; col < shape.width; col++)
      if (!editor.kept[row * shape.width + col]) ctx.fillRect(col * scale, row * scale, scale, scale);
}

function editAt(event) {
  const canvas = $("editor");
  const rect = canvas.getBoundingClientRect();
  const col = Math.floor(((event.clientX - rect.left) / rect.width) * editor.shape.width);
  const row = Math.floor(((event.clientY - rect.top) / rect.height) * editor.shape.height);
  const form = new FormData($("complete-form"));
  const tool = form.get("tool");
  const brush = Math.max(1, Number(form.get("brush")) || 1);
  const { height, width, colours, levels } = editor.shape;
  for (let r = row - brush + 1; r < row + brush; r++)
    for (let c = col - brush + 1; c < col + brush; c++) {
      if (r < 0 || c < 0 || r >= height || c >= width) continue;
      const p = r * width + c;
      if (tool === "erase") editor.kept[p] = false;
      else {
        editor.kept[p] = true;
        if (tool === "paint" || tool === "dark")
          for (let k = 0; k < colours; k++) editor.levels[(k * height + r) * width + c] = tool === "paint" ? levels - 1 : 0;
      }
    }
  paintEditor();
}

$("editor").addEventListener("mousedown", (e) => { editor.painting = true; editAt(e); });
$("editor").addEventListener("mousemove", (e) => { if (editor.painting) editAt(e); });
window.addEventListener("mouseup", () => { editor.painting = false; });
$("complete-form").elements.index.addEventListener("change", loadTestImage);
$("erase-bottom").addEventListener("click", () => {
  const { height, width } = editor.shape;
  editor.kept = editor.kept.map((_, p) => Math.floor(p / width) < Math.floor(height / 2));
  paintEditor();
});

$("complete-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const { colours } = editor.shape;
  // One flag per value: every colour of a pixel is kept or drawn together.
  const kept = [];
  for (let k = 0; k < colours; k++) kept.push(...editor.kept);
  const out = $("completions");
  out.replaceChildren();
  status("complete-status", "completing…");
  try {
    const answer = await api("/api/complete", {
      run: current.name, image: editor.levels, kept,
      samples: Number(form.get("samples")), seed: Number(form.get("seed")),
    });
    const scale = scaleFor(editor.shape, 96);
    for (const levels of answer.completions) out.appendChild(imageCanvas(levels, editor.shape, scale));
    out.dataset.count = String(answer.completions.length);
    status("complete-status", `${answer.completions.length} completions in ${answer.seconds.toFixed(2)} s`);
  } catch (err) {
    status("complete-status", err.message, true);
  }
});

// ---------------------------------------------------------------- receptive field
function drawField(answer) {
  const canvas = $("field");
  const shape = current.shape;
  const scale = scaleFor(shape, 256);
  canvas.width = shape.width * scale;
  canvas.height = shape.height * scale;
  const ctx = canvas.getContext("2d");
  if (shownImage) paintImage(canvas, shownImage.levels, shownImage.shape, scale);
  else { ctx.fillStyle = "#222"; ctx.fillRect(0, 0, canvas.width, canvas.height); }
  if (!answer) return;
  const f = answer.field;
  const top = Math.max(...f.influence) || 1;
  ctx.fillStyle = "rgba(0,0,0,0.65)";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < f.influence.length; i++) {
    const [row, col] = [Math.floor(i / f.width), i % f.width];
    if (f.influence[i] > 0) {
      const v = Math.round(60 + 195 * Math.sqrt(f.influence[i] / top));
      ctx.fillStyle = `rgb(${v},${v},${Math.round(v * 0.6)})`;
      ctx.fillRect(col * scale, row * scale, scale, scale);
    }
    if (answer.nominal[i]) {
      ctx.strokeStyle = "rgba(120,200,255,0.6)";
      ctx.strokeRect(col * scale + 0.5, row * scale + 0.5, scale - 1, scale - 1);
    }
  }
  ctx.fillStyle = "rgb(230,40,40)";
  for (const [row, col] of answer.blind_spot) ctx.fillRect(col * scale + 2, row * scale + 2, scale - 4, scale - 4);
  const [tr, tc] = f.target;
  ctx.fillStyle = "rgb(40,110,255)";
  ctx.fillRect(tc * scale, tr * scale, scale, scale);
}

$("field").addEventListener("click", async (event) => {
  const canvas = $("field");
  const rect = canvas.getBoundingClientRect();
  const shape = current.shape;
  const col = Math.floor(((event.clientX - rect.left) / rect.width) * shape.width);
  const row = Math.floor(((event.clientY - rect.top) / rect.height) * shape.height);
  status("field-status", `measuring pixel ${row},${col}…`);
  try {
    const answer = await api("/api/receptive-field", { run: current.name, row, col });
    drawField(answer);
    const depends = answer.field.influence.filter((v) => v > 0).length;
    const blind = answer.blind_spot.length;
    status("field-status", `pixel ${row},${col} depends on ${depends} pixels; blind spot: ${blind ? blind + " pixels" : "none"}; leaks: ${answer.leaks.length ? answer.leaks.length : "none"}`);
    canvas.dataset.measured = "true";
  } catch (e) {
    status("field-status", e.message, true);
  }
});

// ---------------------------------------------------------------- sequences
$("sequence-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const out = $("sequences");
  out.replaceChildren();
  status("sequence-status", "drawing…");
  try {
    const a = await api("/api/sequence/sample?" + query({ run: current.name, n: form.get("n"), length: form.get("length"), seed: form.get("seed"), temperature: form.get("temperature") }));
    if (a.form === "text") for (const t of a.texts) { const pre = document.createElement("pre"); pre.textContent = t; out.appendChild(pre); }
    else if (a.form === "images") for (const levels of a.images) out.appendChild(imageCanvas(levels, a.shape, 8));
    else if (a.form === "piano-rolls") for (const roll of a.rolls) out.appendChild(pianoRoll(roll, a.keys));
    else if (a.form === "values") out.appendChild(valuesChart(a.rows.map((r) => r.map((v, t) => [t, v])), "t"));
    else if (a.form === "audio") out.appendChild(valuesChart(a.clips.map((c) => c.map((v, t) => [t / a.sample_rate, v])), "seconds"));
    status("sequence-status", `${a.form}, drawn in ${a.seconds.toFixed(2)} s`);
  } catch (err) {
    status("sequence-status", err.message, true);
  }
});

function pianoRoll(roll, keys) {
  const canvas = document.createElement("canvas");
  const sx = Math.max(1, Math.min(6, Math.floor(720 / roll.length))), sy = 3;
  canvas.width = roll.length * sx; canvas.height = keys * sy; canvas.className = "roll";
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#111"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#f5c542";
  roll.forEach((notes, t) => notes.forEach((k) => ctx.fillRect(t * sx, (keys - 1 - k) * sy, sx, sy)));
  return canvas;
}

function valuesChart(rows, xLabel) {
  const canvas = document.createElement("canvas");
  canvas.width = 720; canvas.height = 220;
  const colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
  lineChart(canvas, rows.map((points, i) => ({ label: `sample ${i}`, colour: colours[i % colours.length], points, width: 1 })), [], xLabel);
  return canvas;
}

// ---------------------------------------------------------------- forecasts
$("forecast-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  status("forecast-status", "forecasting…");
  try {
    const f = await api("/api/forecast?" + query({ run: current.name, horizon: form.get("horizon"), paths: form.get("paths"), level: form.get("level") }));
    const from = Math.max(0, f.origin - 3 * f.mean.length);
    const to = Math.min(f.observed.length, f.origin + f.mean.length);
    const observed = [];
    for (let t = from; t < to; t++) observed.push([t, f.observed[t]]);
    lineChart($("forecast"), [
      { label: "observed", colour: "#444", points: observed, width: 1 },
      { label: "forecast mean", colour: "#1f5fc8", points: f.mean.map((v, i) => [f.origin + i, v]) },
    ], [{ colour: "rgba(31,95,200,0.2)", points: f.mean.map((_, i) => [f.origin + i, f.lo[i], f.hi[i]]) }], "t");
    status("forecast-status", `${Math.round(f.level * 100)}% intervals: ${f.method}`);
  } catch (err) {
    status("forecast-status", err.message, true);
  }
});

loadRuns();
setInterval(loadRuns, 2000);
