// The explorer page: plain JavaScript, no libraries, no build step. It talks to the same server's API.
"use strict";

const state = { model: null, file: null, explained: null, selectedModule: null };
const $ = (selector) => document.querySelector(selector);
const SVG = "http://www.w3.org/2000/svg";

function element(tag, attributes = {}, text = "") {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  $("#error").hidden = true;
  $("#error").textContent = "";
}

// A JSON answer of the API, or an Error carrying its {"error": ...} message.
async function api(path, options = {}) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON: reported below */ }
  if (!response.ok) {
    const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  return body;
}

// --- The model and its readiness -----------------------------------------------------------------

async function loadModel() {
  const model = await api("/v1/model");
  state.model = model;
  const backend = model.backend ? `, backend ${model.backend}` : "";
  $("#model-info").textContent = `${model.name}: ${model.flavour} flavour${model.naive ? " (naive modules)" : ""}, ` +
    `${model.num_classes} classes, ${model.input_size}x${model.input_size} input${backend}`;
  const chooser = $("#explain-class");
  chooser.replaceChildren(...model.classes.map((name) => element("option", { value: name }, name)));
}

async function watchHealth() {
  const status = $("#status");
  for (;;) {
    let body = { status: "unreachable" };
    try { body = await (await fetch("/health")).json(); } catch (_) { /* the server is restarting */ }
    status.textContent = body.status === "ready" ? "ready" : body.status;
    status.className = `status ${body.status === "ready" ? "ready" : body.status === "failed" ? "failed" : "loading"}`;
    if (body.problem) status.title = body.problem;
    if (body.status === "ready" || body.status === "failed") {
      if (body.status === "ready") await loadModel();  // the backend is known once ready
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// --- Choosing an image ---------------------------------------------------------------------------

function setUpInput() {
  const zone = $("#drop-zone");
  $("#file-input").addEventListener("change", (event) => {
    if (event.target.files.length) useFile(event.target.files[0]);
  });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("dragging"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer.files.length) useFile(event.dataTransfer.files[0]);
  });
  $("#explain-class").addEventListener("change", () => explain());
  $("#layer").addEventListener("change", () => explain());
}

async function loadExamples() {
  const answer = await api("/v1/examples");
  $("#examples-note").textContent = `(${answer.note})`;
  const buttons = answer.examples.map((example) => {
    const button = element("button", { type: "button", title: `${example.label} (${example.split} #${example.index})`,
      "data-label": example.label });
    button.append(element("img", { src: example.url, alt: example.label }));
    button.addEventListener("click", async () => {
      const blob = await (await fetch(example.url)).blob();
      useFile(new File([blob], `example-${example.id}.png`, { type: "image/png" }));
    });
    return button;
  });
  $("#examples").replaceChildren(...buttons);
}

// The server's messages name the file already; others get its name in front.
function aboutFile(file, message) {
  return message.startsWith(`${file.name}:`) ? message : `${file.name}: ${message}`;
}

// Nothing of an earlier image stays on the page beside an error about this one.
function clearResults() {
  state.explained = null;
  $("#classes").replaceChildren(element("p", { class: "empty" }, "No image yet."));
  showFitWarnings([]);
  $("#predict-time").textContent = "";
  $("#explain-time").textContent = "";
  const canvas = $("#heatmap");
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  delete canvas.dataset.drawn;
  $("#modules").replaceChildren();
  $("#legend").replaceChildren();
  $("#module-detail").hidden = true;
  hideChannels();  // channels.js
}

async function useFile(file) {
  state.file = file;
  clearError();
  // The earlier image's explanation goes at once: a module clicked while this one is computed would
  // otherwise show the other image's channels.
  clearResults();
  try {
    await predict();
    await explain();
  } catch (error) {
    clearResults();
    showError(aboutFile(file, error.message));
  }
}

// --- Classes -------------------------------------------------------------------------------------

async function predict() {
  const form = new FormData();
  form.append("image", state.file, state.file.name);
  form.append("top_k", String(Math.min(5, state.model ? state.model.num_classes : 5)));
  const answer = await api("/v1/predict", { method: "POST", body: form });
  const top = answer.predictions[0].top_k;
  const rows = top.map((entry) => {
    const row = element("div", { class: "class-row", "data-class-name": entry.class_name });
    const bar = element("div", { class: "bar" });
    const fill = element("span");
    fill.style.width = `${(entry.probability * 100).toFixed(1)}%`;
    bar.append(fill);
    row.append(element("span", { class: "name" }, entry.class_name), bar,
      element("span", { class: "probability" }, `${(entry.probability * 100).toFixed(1)}%`));
    row.addEventListener("click", () => { $("#explain-class").value = entry.class_name; explain(); });
    return row;
  });
  $("#classes").replaceChildren(...rows);
  showFitWarnings(answer.predictions[0].warnings || []);
  $("#explain-class").value = top[0].class_name;
  $("#predict-time").textContent = `${answer.time_ms} ms on the ${answer.backend} backend`;
}

// The server's input-fit warnings (the words of googlenet predict): an image converted or resized to fit.
function showFitWarnings(messages) {
  const box = $("#fit-warnings");
  box.replaceChildren(...messages.map((message) => element("p", {}, `Warning: ${message}`)));
  box.hidden = messages.length === 0;
}

// --- Grad-CAM and the modules --------------------------------------------------------------------

async function explain() {
  if (!state.file) return;
  const form = new FormData();
  form.append("image", state.file, state.file.name);
  form.append("class", $("#explain-class").value);
  if ($("#layer").value) form.append("layer", $("#layer").value);
  let answer;
  try {
    answer = await api("/v1/explain", { method: "POST", body: form });
  } catch (error) {
    showError(aboutFile(state.file, error.message));
    return;
  }
  state.explained = answer;
  fillLayers(answer);
  for (const row of document.querySelectorAll(".class-row")) {
    row.classList.toggle("chosen", row.dataset.className === answer.class_name);
  }
  await drawHeatmap(answer);
  drawModules(answer);
  showModule(state.selectedModule || answer.gradcam_layer);
  $("#explain-time").textContent = `${answer.class_name} (${(answer.probability * 100).toFixed(1)}%), ` +
    `Grad-CAM on ${answer.gradcam_layer}, ${answer.time_ms} ms`;
}

function fillLayers(answer) {
  const select = $("#layer");
  const options = Object.entries(answer.map_sizes).map(([name, size]) =>
    element("option", { value: name }, `${name} (${size[0]}x${size[1]})`));
  select.replaceChildren(...options);
  select.value = answer.gradcam_layer;
}

function loadImage(source) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the server sent an image the browser cannot show"));
    image.src = source;
  });
}

async function drawHeatmap(answer) {
  const canvas = $("#heatmap");
  const context = canvas.getContext("2d");
  const [view, heat] = await Promise.all([loadImage(answer.view_png), loadImage(answer.heatmap_png)]);
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.imageSmoothingEnabled = false;  // the model's pixels, as they are
  context.drawImage(view, 0, 0, canvas.width, canvas.height);
  context.imageSmoothingEnabled = true;
  context.drawImage(heat, 0, 0, canvas.width, canvas.height);
  canvas.dataset.drawn = answer.gradcam_layer;
}

function drawLegend(branches) {
  const items = branches.map((branch, index) => {
    const item = element("span");
    item.append(element("i", { class: `branch${index + 1}` }), document.createTextNode(branch.label));
    return item;
  });
  $("#legend").replaceChildren(...items);
}

function drawModules(answer) {
  const svg = $("#modules");
  const rowHeight = 30, labelWidth = 110, barWidth = 640, top = 8;
  svg.setAttribute("viewBox", `0 0 ${labelWidth + barWidth + 20} ${top + rowHeight * answer.modules.length + 6}`);
  drawLegend(answer.modules[0].branches);
  const groups = answer.modules.map((module, row) => {
    const y = top + row * rowHeight;
    const group = element("svg:g", { class: "module", "data-module": module.name });
    group.append(element("svg:rect", { class: "background", x: 0, y: y - 3, width: labelWidth + barWidth + 20,
      height: rowHeight, fill: "transparent" }));
    group.append(element("svg:text", { x: 4, y: y + 17 }, `${module.name} ${module.map_size.join("x")}`));
    let x = labelWidth;
    module.branches.forEach((branch, index) => {
      const width = branch.share * barWidth;
      const rect = element("svg:rect", { class: `branch${index + 1}`, x, y, width: Math.max(width, 0), height: 22 });
      rect.append(element("svg:title", {}, `${module.name} ${branch.label}: ${(branch.share * 100).toFixed(1)}% ` +
        `(gradient x activation ${branch.attribution.toPrecision(3)})`));
      group.append(rect);
      x += width;
    });
    group.addEventListener("click", () => showModule(module.name));
    return group;
  });
  svg.replaceChildren(...groups);
}

function showModule(name) {
  const answer = state.explained;
  const module = answer && answer.modules.find((item) => item.name === name);
  if (!module) return;
  state.selectedModule = name;
  for (const group of document.querySelectorAll("#modules .module")) {
    group.classList.toggle("selected", group.dataset.module === name);
  }
  const detail = $("#module-detail");
  const columns = module.branches.map((branch, index) => {
    const column = element("div", { class: "branch" });
    const heading = element("h4", {}, `${branch.label}: ${(branch.share * 100).toFixed(1)}% of the evidence, ` +
      `${branch.channels} channels`);
    heading.prepend(element("i", { class: `branch${index + 1}`, style: "display:inline-block;width:.8rem;" +
      "height:.8rem;margin-right:.3rem;border-radius:2px" }));
    const maps = element("div", { class: "maps" });
    for (const channel of branch.strongest) {
      const figure = element("figure");
      figure.append(element("img", { src: channel.png, alt: `channel ${channel.channel}` }),
        element("figcaption", {}, `#${channel.channel}`));
      maps.append(figure);
    }
    const sheet = element("button", { class: "channels-button", type: "button" }, "its channels");
    sheet.addEventListener("click", () => showChannels(name, branch));  // channels.js
    column.append(heading, maps, sheet);
    return column;
  });
  const grid = element("div", { class: "branches" });
  grid.append(...columns);
  detail.replaceChildren(element("h3", {}, `${name}: each branch's strongest activation maps ` +
    `(${module.map_size.join("x")}, the channels with the highest mean activation)`), grid);
  detail.hidden = false;
}

// --- Table 1 -------------------------------------------------------------------------------------

const COLUMNS = [
  ["name", "row"], ["type", "type"], ["patch_stride", "patch/stride"], ["output_size", "output"],
  ["paper_output_side", "paper output"], ["depth", "depth"], ["ch1x1", "#1x1"], ["ch3x3_reduce", "#3x3 reduce"],
  ["ch3x3", "#3x3"], ["ch5x5_reduce", "#5x5 reduce"], ["ch5x5", "#5x5"], ["pool_proj", "pool proj"],
  ["params", "params"], ["printed_params_k", "printed K"], ["ops", "ops (M)"], ["printed_ops_m", "printed M"],
];

function cell(key, value) {
  if (value === null || value === undefined || value === 0 && key !== "depth") return "";
  if (key === "params") return value.toLocaleString("en");
  if (key === "ops") return (value / 1e6).toFixed(1);
  if (key === "paper_output_side") return `${value}x${value}`;
  return String(value);
}

async function loadArchitecture() {
  const table = await api("/v1/architecture");
  const head = element("tr");
  for (const [, title] of COLUMNS) head.append(element("th", {}, title));
  const rows = table.rows.map((row) => {
    const line = element("tr", { class: row.type === "inception" ? "inception" : "" });
    for (const [key] of COLUMNS) line.append(element("td", {}, cell(key, row[key])));
    return line;
  });
  $("#table1").replaceChildren(element("thead"), element("tbody"));
  $("#table1 thead").append(head);
  $("#table1 tbody").append(...rows);
  const comparison = table.module_comparison;
  $("#comparison").textContent = `Why the 1x1 reductions: on a 256-channel 28x28 input, a naive Inception module ` +
    `(1x1, 3x3, 5x5 with 64 filters each, and pooling) has ${comparison.naive_params.toLocaleString("en")} ` +
    `parameters; the reduced module of 3a (64, 96, 128, 16, 32, 32) has ` +
    `${comparison.reduced_params.toLocaleString("en")}: ` +
    `${(comparison.naive_params / comparison.reduced_params).toFixed(2)}x fewer.`;
  $("#table-note").textContent = `Table 1 measured on this ${table.flavour} network at ${table.input_size}x` +
    `${table.input_size}: ${table.total_params.toLocaleString("en")} parameters, ` +
    `${(table.total_ops / 1e6).toFixed(1)} M multiply-adds. ${table.note}`;
}

// --- Start ---------------------------------------------------------------------------------------

async function start() {
  setUpInput();
  const report = (what) => (error) => showError(`${what}: ${error.message}`);
  await loadModel().catch(report("the model"));
  await Promise.all([
    watchHealth(),
    loadExamples().catch(report("examples")),
    loadArchitecture().catch(report("Table 1")),
  ]);
}

document.addEventListener("DOMContentLoaded", start);
