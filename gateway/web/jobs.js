// Catalog jobs: each job the gateway has is a card that follows GET /v1/jobs/{id}/events (progress, one
// `item` per article, `end`), with Cancel (DELETE /v1/jobs/{id}) and a zip of its results. Every call
// carries the page's API key, so downloads are fetched and saved rather than plain links.
import { apiError } from "./errors.js";
import { readEvents } from "./sse.js";

const FINAL = new Set(["done", "cancelled", "failed"]);

export class Jobs {
  constructor(section, headers) {
    this.section = section;
    this.list = section.querySelector("#job-list");
    this.headers = headers;
    this.cards = new Map(); // job id -> its card's elements
    this.loaded = false;
  }

  /** The gateway's jobs, newest first (once, when the tab is first opened); the unfinished ones are followed. */
  async load() {
    if (this.loaded) return;
    this.loaded = true;
    const response = await fetch("/v1/jobs", { headers: this.headers() });
    if (!response.ok) return; // e.g. 401 until a key is typed; the upload shows such errors
    const { jobs } = await response.json();
    for (const job of jobs.reverse()) this.show(job);
  }

  show(job) {
    const card = this.cards.get(job.id) ?? this.create(job);
    update(card, job);
    if (!FINAL.has(job.state) && !card.followed) this.follow(card);
  }

  create(job) {
    const root = document.createElement("article");
    root.className = "job";
    root.dataset.jobId = job.id;
    root.innerHTML = `<div class="job-head"><strong></strong><span class="state"></span></div>
      <progress max="1" value="0"></progress><div class="counts"></div>
      <div class="job-actions"><button type="button" class="cancel-job">Cancel job</button>
      <button type="button" class="download">Download results (zip)</button></div>
      <div class="job-error" role="alert" hidden></div><ol class="items"></ol>`;
    root.querySelector("strong").textContent = `${job.input} · ${job.id}`;
    const card = { root, followed: false, id: job.id };
    root.querySelector(".cancel-job").addEventListener("click", () => this.cancel(card));
    root.querySelector(".download").addEventListener("click", () => this.download(card));
    this.cards.set(job.id, card);
    this.list.prepend(root);
    this.section.hidden = false;
    return card;
  }

  async follow(card) {
    card.followed = true;
    try {
      const response = await fetch(`/v1/jobs/${card.id}/events`, { headers: this.headers() });
      if (!response.ok) return fail(card, await apiError(response));
      for await (const { event, data } of readEvents(response.body)) {
        if (event === "item") addItem(card, data);
        else update(card, data); // progress, end
      }
    } catch (error) {
      fail(card, { message: error.message, detail: "network error" });
    } finally {
      card.followed = false;
    }
  }

  async cancel(card) {
    const response = await fetch(`/v1/jobs/${card.id}`, { method: "DELETE", headers: this.headers() });
    if (!response.ok) return fail(card, await apiError(response));
    update(card, await response.json());
  }

  async download(card) {
    const response = await fetch(`/v1/jobs/${card.id}/results`, { headers: this.headers() });
    if (!response.ok) return fail(card, await apiError(response));
    const url = URL.createObjectURL(await response.blob());
    const anchor = Object.assign(document.createElement("a"), { href: url, download: `catalog-${card.id}.zip` });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
}

function update(card, job) {
  const root = card.root;
  root.dataset.state = job.state;
  root.querySelector(".state").textContent = job.state;
  root.querySelector("progress").value = job.progress;
  const { total, done, failed, passed, pending } = job.counts;
  const rate = job.items_per_minute ? ` · ${job.items_per_minute.toFixed(1)} articles/min` : "";
  const eta = job.eta_s != null && !FINAL.has(job.state) ? ` · about ${Math.round(job.eta_s)} s left` : "";
  root.querySelector(".counts").textContent =
    `${done} done (${passed} passed) · ${failed} failed · ${pending} pending of ${total}${rate}${eta}`;
  root.querySelector(".cancel-job").disabled = FINAL.has(job.state);
}

function addItem(card, item) {
  const line = document.createElement("li");
  line.dataset.state = item.state;
  const score = item.score != null ? ` · score ${item.score.toFixed(1)}${item.passed ? " · passed" : ""}` : "";
  line.textContent = `${item.id} ${item.state}${score}${item.error ? ` · ${item.error}` : ""}`;
  card.root.querySelector(".items").append(line);
}

function fail(card, { message, detail }) {
  const box = card.root.querySelector(".job-error");
  box.textContent = `${message} (${detail})`;
  box.hidden = false;
}
