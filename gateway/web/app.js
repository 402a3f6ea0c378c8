// The page: tabs of forms (forms.js), one run at a time with live progress and a cancel button, and a
// gallery of results. Every request is a plain call of the public API; errors show the API's own words.
import { apiError, describe } from "./errors.js";
import { FORMS, fieldTable, formBody, renderForm } from "./forms.js";
import { Jobs } from "./jobs.js";
import { readEvents } from "./sse.js";

const KEY_STORAGE = "imagery-gateway.api-key";
const $ = (selector) => document.querySelector(selector);

let current = null; // the run in progress: {controller, title}
let jobs = null;

async function main() {
  const config = await (await fetch("/web/config.json")).json();
  setUpKey(config.api_keys);
  jobs = new Jobs($("#jobs"), headers);
  const table = fieldTable(config);
  for (const spec of FORMS) addTab(spec, table, config.served[spec.model]);
  $("#cancel").addEventListener("click", () => current?.controller.abort());
  selectTab(FORMS[0].id);
  document.body.dataset.ready = "true";
}

function setUpKey(required) {
  const field = $("#key-field");
  const input = $("#api-key");
  field.hidden = !required;
  input.value = localStorage.getItem(KEY_STORAGE) ?? "";
  input.addEventListener("input", () => localStorage.setItem(KEY_STORAGE, input.value.trim()));
}

function headers() {
  const key = $("#api-key").value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function addTab(spec, table, served) {
  const tab = document.createElement("button");
  tab.type = "button";
  tab.setAttribute("role", "tab");
  tab.id = `tab-${spec.id}`;
  tab.textContent = spec.title;
  tab.addEventListener("click", () => selectTab(spec.id));
  $("#tabs").append(tab);
  const panel = document.createElement("section");
  panel.className = "panel";
  panel.id = `panel-${spec.id}`;
  panel.setAttribute("role", "tabpanel");
  const heading = document.createElement("h2");
  heading.textContent = `${spec.title}  `;
  const route = document.createElement("code");
  route.textContent = `POST ${spec.route}`;
  heading.append(route);
  panel.append(heading);
  if (!served) {
    const note = document.createElement("p");
    note.className = "note";
    note.textContent = `No replica serves ${spec.model} right now; the API will say so.`;
    panel.append(note);
  }
  const form = renderForm(spec, table);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(spec, form);
  });
  panel.append(form);
  $("#panels").append(panel);
}

function selectTab(id) {
  if (id === "jobs") jobs.load();
  for (const tab of document.querySelectorAll("#tabs [role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.id === `tab-${id}`));
  }
  for (const panel of document.querySelectorAll("#panels .panel")) panel.hidden = panel.id !== `panel-${id}`;
}

// ---- one run: request, progress, result or error ----

function setState(state, text) {
  const status = $("#status");
  status.dataset.state = state;
  status.textContent = text;
  const running = state === "running";
  $("#cancel").disabled = !running;
  for (const button of document.querySelectorAll("form button[type=submit]")) button.disabled = running;
}

function resetRun() {
  $("#error").hidden = true;
  $("#progress").value = 0;
  $("#progress").max = 1;
  $("#progress-label").textContent = "";
  $("#progress-log").replaceChildren();
}

async function run(spec, form) {
  if (current) return;
  const { body, params } = formBody(form, spec.stream);
  const controller = new AbortController();
  current = { controller, title: spec.title };
  const started = performance.now();
  resetRun();
  setState("running", `${spec.title}: waiting for the server…`);
  try {
    const response = await fetch(spec.route, { method: "POST", body, headers: headers(), signal: controller.signal });
    if (!response.ok) {
      const { message, detail } = await apiError(response);
      showError(message, detail);
    } else if (spec.job) {
      const job = await response.json();
      jobs.show(job);
      setState("done", `${spec.title}: job ${job.id} ${job.state}`);
    } else if ((response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
      await follow(spec, response, params, started);
    } else {
      showObjects(spec, await response.json(), form);
      setState("done", `${spec.title}: done in ${seconds(started)}`);
    }
  } catch (error) {
    if (error.name === "AbortError") setState("cancelled", `${spec.title}: cancelled after ${seconds(started)}`);
    else showError(`${error.message}`, "network error");
  } finally {
    current = null;
    $("#cancel").disabled = true;
    for (const button of document.querySelectorAll("form button[type=submit]")) button.disabled = false;
  }
}

async function follow(spec, response, params, started) {
  setState("running", `${spec.title}: running`);
  for await (const { event, data } of readEvents(response.body)) {
    if (event === "progress") showProgress(data);
    else if (event === "error") return showError(data.error.message, describe(null, data.error));
    else if (event === "image") {
      addResults(spec, data, params);
      setState("done", `${spec.title}: done in ${seconds(started)}`);
      return;
    }
  }
  showError("the stream ended before the image arrived", "stream closed");
}

function showProgress({ stage, step, total, elapsed }) {
  const bar = $("#progress");
  bar.max = total;
  bar.value = step;
  const text = `${stage} ${step} / ${total} · ${elapsed.toFixed(2)} s`;
  $("#progress-label").textContent = text;
  const item = document.createElement("li");
  item.dataset.stage = stage;
  item.textContent = text;
  const log = $("#progress-log");
  log.append(item);
  log.scrollTop = log.scrollHeight;
}

function showError(message, detail) {
  $("#error-message").textContent = message;
  $("#error-detail").textContent = detail;
  $("#error").hidden = false;
  setState("error", `${current?.title ?? "request"}: failed`);
}

function seconds(started) {
  return `${((performance.now() - started) / 1000).toFixed(1)} s`;
}

// ---- the gallery ----

function pngUrl(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return URL.createObjectURL(new Blob([bytes], { type: "image/png" }));
}

function link(url, text, filename) {
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.download = filename;
  anchor.textContent = text;
  return anchor;
}

function card(title, imageUrl, alt) {
  const figure = document.createElement("figure");
  figure.className = "card";
  const img = document.createElement("img");
  img.src = imageUrl;
  img.alt = alt;
  const caption = document.createElement("figcaption");
  const heading = document.createElement("strong");
  heading.textContent = title;
  caption.append(heading);
  figure.append(img, caption);
  return { figure, caption };
}

function parameterList(entries) {
  const list = document.createElement("dl");
  for (const [name, value] of entries) {
    const term = document.createElement("dt");
    term.textContent = name;
    const detail = document.createElement("dd");
    detail.textContent = Array.isArray(value) ? value.join(", ") : String(value);
    list.append(term, detail);
  }
  return list;
}

function addResults(spec, data, params) {
  const shown = Object.entries(params).filter(([name]) => name !== "seed");
  data.images.forEach((image, index) => {
    const url = pngUrl(image.b64_json);
    const name = `${spec.id}-seed${data.seed}-${index}`;
    const { figure, caption } = card(spec.title, url, `${spec.title} result, seed ${data.seed}`);
    figure.dataset.seed = data.seed;
    caption.append(parameterList([["seed", data.seed], ["size", `${data.width}×${data.height}`], ...shown]));
    const links = document.createElement("p");
    links.className = "links";
    links.append(link(url, "Download PNG", `${name}.png`));
    for (const [kind, base64] of Object.entries(data.intermediates ?? {})) {
      const thumb = link(pngUrl(base64), kind, `${name}-${kind}.png`);
      thumb.className = "thumb";
      thumb.prepend(Object.assign(document.createElement("img"), { src: thumb.href, alt: kind }));
      links.append(thumb);
    }
    caption.append(links);
    $("#gallery").prepend(figure);
  });
}

function showObjects(spec, data, form) {
  const photo = form.querySelector("input[name=image]").files[0];
  const { figure, caption } = card(spec.title, URL.createObjectURL(photo), "photo with the objects found");
  figure.classList.add("finder");
  const frame = document.createElement("div"); // the photo with the boxes drawn over it
  frame.className = "frame";
  const img = figure.querySelector("img");
  img.replaceWith(frame);
  frame.append(img);
  const summary = document.createElement("p");
  summary.textContent = data.objects.length
    ? `${data.objects.length} found in ${data.width}×${data.height}`
    : `nothing found in ${data.width}×${data.height}`;
  caption.append(summary);
  const list = document.createElement("ol");
  data.objects.forEach((object, index) => {
    const [x1, y1, x2, y2] = object.box;
    const box = document.createElement("div");
    box.className = "box";
    Object.assign(box.style, { left: `${(100 * x1) / data.width}%`, top: `${(100 * y1) / data.height}%`,
                               width: `${(100 * (x2 - x1 + 1)) / data.width}%`,
                               height: `${(100 * (y2 - y1 + 1)) / data.height}%` });
    box.title = object.label;
    frame.append(box);
    const item = document.createElement("li");
    item.textContent = `${object.label} ${object.score.toFixed(2)} [${object.box.join(", ")}] `;
    item.append(link(pngUrl(object.mask), "mask", `${index + 1}-${object.label}.png`));
    list.append(item);
  });
  caption.append(list);
  $("#gallery").prepend(figure);
}

main();
