// The moe_system web UI: one plain ES module, no build step, nothing fetched from the internet.
//
// Pages by URL hash: #chat, #experts, #training, #metrics, #memory. The API key is asked for once and kept in
// localStorage; fetches send it as `Authorization: Bearer`, the chat WebSocket as `?token=`. Every text that
// comes from the server or the user is inserted with textContent (never innerHTML), and the page's
// Content-Security-Policy allows no inline script.

const KEY_STORE = "moe.apiKey";
const POLL_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";

const state = {
  key: localStorage.getItem(KEY_STORE) || "",
  page: null,
  timer: null, // the current page's poll
  conversationId: null,
  socket: null,
  turn: null, // the chat answer being streamed
  selectedJob: null,
};

const $ = (id) => document.getElementById(id);

// ---- DOM helpers

// An element with properties (text, class, dataset, on<event>, other attributes) and children (strings become
// text nodes).
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function svg(tag, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

function facts(target, pairs) {
  target.replaceChildren(...pairs.flatMap(([name, value]) => [
    el("dt", { text: name }),
    el("dd", { text: String(value ?? "—"), dataset: { fact: name } }),
  ]));
}

function setStatus(target, text, kind = "") {
  target.textContent = text;
  target.className = `status ${kind}`;
}

function showError(message) {
  const banner = $("error-banner");
  banner.textContent = message;
  banner.hidden = false;
}

function clearError() {
  $("error-banner").hidden = true;
}

const when = (seconds) => (seconds ? new Date(seconds * 1000).toLocaleString() : "—");
const round = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : "—");

function numberOrNull(id) {
  const value = $(id).value.trim();
  return value === "" ? null : Number(value);
}

// ---- API

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function errorMessage(body, response) {
  if (body && typeof body === "object") {
    if (body.error && body.error.message) return body.error.message;
    if (typeof body.detail === "string") return body.detail;
    if (body.detail) return JSON.stringify(body.detail);
  }
  return `${response.status} ${response.statusText}`;
}

// JSON (or text, for /metrics) from the API; an error answer throws ApiError with the server's message.
async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (state.key) headers.set("Authorization", `Bearer ${state.key}`);
  const response = await fetch(path, { ...options, headers });
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (response.status === 401) {
    askKey(state.key ? "The key was not accepted." : "");
    throw new ApiError(401, errorMessage(body, response));
  }
  if (!response.ok) throw new ApiError(response.status, errorMessage(body, response));
  return body;
}

const postJson = (path, data) =>
  api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });

// Run a page action, showing its failure in the banner (a 401 shows the key form instead).
async function guard(action) {
  try {
    await action();
  } catch (error) {
    if (error.status !== 401) showError(error.message);
  }
}

// ---- API key

function askKey(message) {
  $("key-page").hidden = false;
  $("pages").hidden = true;
  $("key-status").textContent = message;
  $("key-input").focus();
}

// Whether the server answers with the current key (or without one); fills the header's model line.
async function probe() {
  try {
    const status = await api("/status");
    $("server-model").textContent = `${status.model} · ${status.backend}`;
    $("key-page").hidden = true;
    $("pages").hidden = false;
    return true;
  } catch (error) {
    if (error.status !== 401) showError(error.message);
    return false;
  }
}

async function saveKey(event) {
  event.preventDefault();
  state.key = $("key-input").value.trim();
  localStorage.setItem(KEY_STORE, state.key);
  $("key-input").value = "";
  closeSocket();
  if (await probe()) route();
}

// ---- pages

const PAGES = {
  chat: showChat,
  experts: showExperts,
  training: showTraining,
  metrics: showMetrics,
  memory: showMemory,
};

function route() {
  const name = location.hash.slice(1) in PAGES ? location.hash.slice(1) : "chat";
  clearTimeout(state.timer);
  clearError();
  state.page = name;
  for (const section of document.querySelectorAll("section.page[data-page]")) {
    section.hidden = section.dataset.page !== name;
  }
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  guard(PAGES[name]);
}

// Call `refresh` again in POLL_MS while `page` is still shown.
function poll(page, refresh) {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => {
    if (state.page === page) guard(refresh);
  }, POLL_MS);
}

// ---- chat

async function showChat() {
  await Promise.all([loadModels(), loadConversations()]);
  $("chat-input").focus();
}

async function loadModels() {
  const models = (await api("/v1/models")).data.map((model) => model.id);
  const select = $("model-select");
  const current = select.value || "auto";
  select.replaceChildren(...models.map((id) => el("option", { value: id, text: id })));
  select.value = models.includes(current) ? current : "auto";
}

async function loadConversations() {
  const conversations = await api("/conversations");
  conversations.sort((a, b) => b.created - a.created);
  $("conversations").replaceChildren(...conversations.map((conversation) => {
    const id = conversation.conversation_id;
    return el("li", {
      class: id === state.conversationId ? "active" : "",
      dataset: { testid: "conversation", id },
    },
    el("button", {
      type: "button", class: "link", text: conversation.title || id.slice(0, 12),
      onclick: () => guard(() => openConversation(id)),
    }),
    el("span", { class: "muted small", text: `${conversation.messages} messages · ${when(conversation.created)}` }));
  }));
}

async function openConversation(id) {
  const conversation = await api(`/conversations/${encodeURIComponent(id)}`);
  setConversation(id);
  $("chat-log").replaceChildren();
  for (const message of conversation.messages) addMessage(message.role, message.content).dataset.state = "done";
  await loadConversations();
}

function setConversation(id) {
  state.conversationId = id;
  $("conversation-id").textContent = id ? `conversation ${id}` : "new conversation";
}

function newConversation() {
  setConversation(null);
  $("chat-log").replaceChildren();
  for (const item of $("conversations").children) item.classList.remove("active");
  $("chat-input").focus();
}

function addMessage(role, text) {
  const message = el("div", { class: `msg ${role}`, dataset: { testid: "message", role } },
    el("div", { class: "msg-text", dataset: { testid: "message-text" }, text }),
    el("div", { class: "msg-routing", dataset: { testid: "routing" } }),
    el("div", { class: "msg-meta muted small", dataset: { testid: "message-meta" } }));
  $("chat-log").append(message);
  message.scrollIntoView({ block: "end" });
  return message;
}

function openSocket() {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) return Promise.resolve(state.socket);
  closeSocket();
  const url = new URL("/ws/chat", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  if (state.key) url.searchParams.set("token", state.key);
  const socket = new WebSocket(url);
  state.socket = socket;
  socket.addEventListener("message", (event) => onChatEvent(JSON.parse(event.data)));
  socket.addEventListener("close", (event) => {
    if (state.socket === socket) state.socket = null;
    const reason = event.code === 1008 ? "the chat connection was refused: check the API key"
      : `the chat connection closed (code ${event.code}${event.reason ? `: ${event.reason}` : ""})`;
    endTurn("error", reason);
  });
  return new Promise((resolve, reject) => {
    socket.addEventListener("open", () => resolve(socket), { once: true });
    socket.addEventListener("error", () => reject(new Error("cannot open the chat connection")), { once: true });
  });
}

function closeSocket() {
  if (state.socket) state.socket.close();
  state.socket = null;
}

async function sendMessage(event) {
  event.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (state.turn || !text) return;
  const model = $("model-select").value || "auto";
  const request = {
    message: text, conversation_id: state.conversationId, model,
    max_tokens: numberOrNull("max-tokens"), temperature: numberOrNull("temperature"),
  };
  addMessage("user", text).dataset.state = "done";
  const answer = addMessage("assistant", "");
  answer.dataset.state = "waiting";
  answer.dataset.deltas = "0";
  state.turn = { model, answer, text: "" };
  input.value = "";
  $("chat-send").disabled = true;
  try {
    (await openSocket()).send(JSON.stringify(request));
  } catch (error) {
    endTurn("error", error.message);
  }
}

function onChatEvent(event) {
  const turn = state.turn;
  if (!turn) return;
  const answer = turn.answer;
  if (event.type === "start") {
    setConversation(event.conversation_id);
    answer.dataset.state = "streaming";
    showRouting(turn, event.routing);
  } else if (event.type === "delta") {
    turn.text += event.text;
    answer.querySelector(".msg-text").textContent = turn.text;
    answer.dataset.deltas = String(Number(answer.dataset.deltas) + 1);
    answer.scrollIntoView({ block: "end" });
  } else if (event.type === "done") {
    answer.querySelector(".msg-text").textContent = event.text; // after the expert's tools, maybe not the stream
    showRouting(turn, event.routing);
    const usage = event.usage || {};
    const timings = event.timings || {};
    answer.querySelector(".msg-meta").textContent = [
      event.expert || "base", `${usage.completion_tokens ?? "?"} tokens`, `TTFT ${round(timings.ttft_ms, 0)} ms`,
      `${round(timings.tokens_per_s)} tok/s`, event.finish_reason,
    ].join(" · ");
    endTurn("done");
    guard(loadConversations);
  } else if (event.type === "error") {
    endTurn("error", (event.error && event.error.message) || "the answer failed");
  }
}

function showRouting(turn, routing) {
  if (turn.model !== "auto" || !routing) return;
  const line = turn.answer.querySelector(".msg-routing");
  const candidates = (routing.candidates || []).map((c) => `${c.expert ?? "base"} ${round(c.score, 2)}`);
  line.textContent = `auto → ${routing.expert ?? "base"} · confidence ${round(routing.confidence, 2)} · `
    + `${routing.strategy}${candidates.length ? ` · candidates: ${candidates.join(", ")}` : ""}`;
  line.title = routing.reason || "";
}

function endTurn(outcome, message = "") {
  const turn = state.turn;
  if (!turn) return;
  state.turn = null;
  turn.answer.dataset.state = outcome;
  if (message) turn.answer.querySelector(".msg-meta").textContent = message;
  $("chat-send").disabled = false;
}

// ---- experts

async function showExperts() {
  const experts = await api("/experts");
  $("experts-empty").hidden = experts.length > 0;
  $("experts-table").replaceChildren(...experts.map(expertRow));
}

function expertRow(expert) {
  const remove = el("button", {
    type: "button", class: "danger", text: "Remove", dataset: { testid: "remove-expert" },
    onclick: () => guard(() => removeExpert(expert.name, expert.version)),
  });
  return el("tr", { dataset: { testid: "expert-row", name: expert.name, version: expert.version } },
    el("td", { text: expert.name }),
    el("td", { text: expert.version }),
    el("td", { text: expert.kind }),
    el("td", { text: expert.category || "" }),
    el("td", { text: expert.publisher || "unsigned", title: expert.signed ? "signed" : "not signed" }),
    el("td", { class: "num", text: round(expert.size_mb, 2) }),
    el("td", { text: expert.installed_at || "" }),
    el("td", { text: expert.description || "" }),
    el("td", {}, remove));
}

async function installExpert(event) {
  event.preventDefault();
  const file = $("expert-file").files[0];
  const status = $("experts-status");
  if (!file) return;
  const form = new FormData();
  form.append("file", file, file.name);
  if ($("allow-unsigned").checked) form.append("allow_unsigned", "true");
  setStatus(status, `installing ${file.name}…`);
  $("install-expert").disabled = true;
  try {
    const expert = await api("/experts", { method: "POST", body: form });
    setStatus(status, `installed ${expert.name} ${expert.version}${expert.signed ? "" : " (unsigned)"}`, "ok");
    $("install-form").reset();
    await Promise.all([showExperts(), loadModels()]);
  } catch (error) {
    setStatus(status, error.message, "error");
  } finally {
    $("install-expert").disabled = false;
  }
}

async function removeExpert(name, version) {
  if (!confirm(`Remove expert ${name} ${version}?`)) return;
  const query = new URLSearchParams({ version });
  await api(`/experts/${encodeURIComponent(name)}?${query}`, { method: "DELETE" });
  setStatus($("experts-status"), `removed ${name} ${version}`, "ok");
  await Promise.all([showExperts(), loadModels()]);
}

// ---- training

let recipes = [];

async function showTraining() {
  await Promise.all([loadRecipes(), refreshJobs()]);
}

async function loadRecipes() {
  recipes = await api("/train/recipes");
  const select = $("recipe-select");
  const current = select.value;
  select.replaceChildren(...recipes.map((recipe) => el("option", {
    value: recipe.name, text: `${recipe.name} → ${recipe.expert} ${recipe.version} (${recipe.task})`,
  })));
  if (recipes.some((recipe) => recipe.name === current)) select.value = current;
  describeRecipe();
}

function describeRecipe() {
  const recipe = recipes.find((r) => r.name === $("recipe-select").value);
  $("recipe-description").textContent = recipe ? recipe.description || "" : "";
}

async function startTraining(event) {
  event.preventDefault();
  const status = $("train-status");
  try {
    const job = await postJson("/train", { recipe: $("recipe-select").value, max_steps: numberOrNull("max-steps") });
    setStatus(status, `job ${job.job_id} ${job.status}`, "ok");
    state.selectedJob = job.job_id;
    await refreshJobs();
  } catch (error) {
    setStatus(status, error.message, "error");
  }
}

const ACTIVE = new Set(["queued", "running"]);

async function refreshJobs() {
  const jobs = await api("/train");
  jobs.sort((a, b) => b.created - a.created);
  $("jobs").replaceChildren(...jobs.map(jobRow));
  if (state.selectedJob) await showJob(state.selectedJob);
  if (jobs.some((job) => ACTIVE.has(job.status))) poll("training", refreshJobs);
}

function jobRow(job) {
  const progress = job.progress ?? 0;
  const select = () => {
    state.selectedJob = job.job_id;
    guard(refreshJobs);
  };
  const cancel = (event) => {
    event.stopPropagation();
    guard(async () => {
      await api(`/train/${encodeURIComponent(job.job_id)}`, { method: "DELETE" });
      await refreshJobs();
    });
  };
  const percent = `${Math.round(progress * 100)}% (${job.step ?? 0}/${job.max_steps ?? "?"})`;
  return el("tr", {
    class: job.job_id === state.selectedJob ? "selected clickable" : "clickable",
    dataset: { testid: "job-row", job: job.job_id, status: job.status },
    onclick: select,
  },
  el("td", { text: job.job_id.slice(0, 12), title: job.job_id }),
  el("td", { text: job.recipe || "" }),
  el("td", { text: `${job.expert || ""} ${job.version || ""}` }),
  el("td", {}, el("span", { class: `badge ${job.status}`, text: job.status })),
  el("td", {},
    el("progress", { value: String(progress), max: "1" }),
    el("span", { class: "small", text: ` ${percent}` })),
  el("td", { text: when(job.created) }),
  el("td", {}, ACTIVE.has(job.status) ? el("button", {
    type: "button", class: "danger", text: "Cancel", dataset: { testid: "cancel-job" }, onclick: cancel,
  }) : ""));
}

async function showJob(id) {
  const job = await api(`/train/${encodeURIComponent(id)}`);
  $("job-detail").hidden = false;
  $("job-title").textContent = `${job.expert || job.recipe} ${job.version || ""} — ${job.status}`;
  $("loss-chart").replaceChildren(lossChart(job.loss || [], job.max_steps));
  const lastEval = (job.eval || []).at(-1);
  const pairs = [
    ["job", job.job_id], ["recipe", job.recipe], ["step", `${job.step ?? 0} / ${job.max_steps ?? "?"}`],
    ["last loss", job.loss && job.loss.length ? round(job.loss.at(-1).loss, 4) : "—"],
    ["started", when(job.started)], ["finished", when(job.finished)],
  ];
  if (lastEval) pairs.push(["last eval", Object.entries(lastEval).map(([k, v]) => `${k} ${v}`).join(", ")]);
  if (job.error) pairs.push(["error", job.error]);
  if (job.result) pairs.push(["result", JSON.stringify(job.result)]);
  facts($("job-facts"), pairs);
}

// The loss curve as inline SVG: steps on x (up to the job's last step, so the curve grows as it runs), loss on y,
// with the ends of both axes labelled.
function lossChart(points, maxSteps) {
  const width = 640;
  const height = 240;
  const pad = { left: 56, right: 16, top: 12, bottom: 28 };
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "data-testid": "loss-svg",
    "data-points": String(points.length), "aria-label": "training loss by step" });
  if (!points.length) {
    chart.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "axis" }, "no loss yet"));
    return chart;
  }
  const steps = points.map((p) => p.step);
  const losses = points.map((p) => p.loss);
  const [x0, x1] = [Math.min(...steps), Math.max(...steps, maxSteps || 0)];
  const [y0, y1] = [Math.min(...losses), Math.max(...losses)];
  const x = (step) => pad.left + ((step - x0) / (x1 - x0 || 1)) * (width - pad.left - pad.right);
  const y = (loss) => pad.top + (1 - (loss - y0) / (y1 - y0 || 1)) * (height - pad.top - pad.bottom);
  const bottom = height - pad.bottom;
  chart.append(
    svg("line", { x1: pad.left, y1: bottom, x2: width - pad.right, y2: bottom, class: "axis-line" }),
    svg("line", { x1: pad.left, y1: pad.top, x2: pad.left, y2: bottom, class: "axis-line" }),
    svg("text", { x: pad.left - 6, y: pad.top + 10, "text-anchor": "end", class: "axis" }, y1.toFixed(3)),
    svg("text", { x: pad.left - 6, y: bottom, "text-anchor": "end", class: "axis" }, y0.toFixed(3)),
    svg("text", { x: pad.left, y: height - 8, "text-anchor": "start", class: "axis" }, `step ${x0}`),
    svg("text", { x: width - pad.right, y: height - 8, "text-anchor": "end", class: "axis" }, `step ${x1}`),
    svg("polyline", { class: "curve", points: points.map((p) => `${x(p.step)},${y(p.loss)}`).join(" ") }),
  );
  return chart;
}

// ---- metrics

// Prometheus text exposition -> [{name, labels, value}].
function parseMetrics(text) {
  const samples = [];
  const line = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
  const label = /(\w+)="((?:[^"\\]|\\.)*)"/g;
  for (const row of text.split("\n")) {
    const match = row.startsWith("#") ? null : line.exec(row);
    if (!match) continue;
    const labels = {};
    for (const [, name, value] of (match[2] || "").matchAll(label)) {
      labels[name] = value.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    const raw = match[3];
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    samples.push({ name: match[1], labels, value });
  }
  return samples;
}

function total(samples, name, match = {}) {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function showMetrics() {
  try {
    await refreshMetrics();
  } finally {
    poll("metrics", showMetrics); // on, even after a failed scrape: the server may be back next time
  }
}

async function refreshMetrics() {
  const [text, status] = await Promise.all([api("/metrics"), api("/status")]);
  const samples = parseMetrics(text);
  facts($("status-facts"), [
    ["model", status.model], ["backend", status.backend], ["context length", status.context_length],
    ["experts", (status.experts || []).join(", ") || "none"], ["uptime (s)", status.uptime_s],
    ["batch", `${status.batch.active} active, ${status.batch.queued} queued, max ${status.batch.max_batch}`],
  ]);
  facts($("engine-facts"), [
    ["queue depth", total(samples, "moe_queue_depth")], ["batch active", total(samples, "moe_batch_active")],
    ["adapter loads", total(samples, "moe_adapter_loads_total")],
    ["adapter cache hits", total(samples, "moe_adapter_cache_hits_total")],
  ]);
  const experts = [...new Set(samples.filter((s) => s.name === "moe_requests_total").map((s) => s.labels.expert))];
  experts.sort();
  $("metrics-table").replaceChildren(...experts.map((expert) => {
    const count = (name, labels = {}) => total(samples, name, { expert, ...labels });
    const meanMs = (name) => (1000 * count(`${name}_sum`)) / count(`${name}_count`);
    const cell = (col, text) => el("td", { class: "num", text: String(text), dataset: { col } });
    return el("tr", { dataset: { testid: "metrics-row", expert } },
      el("td", { text: expert }),
      cell("requests", count("moe_requests_total")),
      cell("prompt-tokens", count("moe_tokens_total", { kind: "prompt" })),
      cell("completion-tokens", count("moe_tokens_total", { kind: "completion" })),
      cell("ttft", round(meanMs("moe_ttft_seconds"))),
      cell("latency", round(meanMs("moe_request_latency_seconds"))));
  }));
}

// ---- memory search

async function showMemory() {
  const conversations = await api("/conversations");
  conversations.sort((a, b) => b.created - a.created);
  const select = $("memory-conversation");
  const current = select.value || state.conversationId;
  select.replaceChildren(...conversations.map((c) => el("option", {
    value: c.conversation_id, text: `${c.title || c.conversation_id.slice(0, 12)} (${c.messages} messages)`,
  })));
  if (conversations.some((c) => c.conversation_id === current)) select.value = current;
}

async function searchMemory(event) {
  event.preventDefault();
  const query = new URLSearchParams({
    q: $("memory-query").value, conversation_id: $("memory-conversation").value,
    max_tokens: $("memory-max-tokens").value || "1000",
  });
  await guard(async () => {
    const result = await api(`/memory/search?${query}`);
    $("memory-summary").textContent = `${result.token_count} tokens in ${result.sections.length} sections`;
    $("memory-sections").replaceChildren(...result.sections.map(memorySection));
  });
}

function memorySection(section) {
  const title = el("h3", { text: `${section.title || section.name} ` },
    el("span", { class: "muted small", text: `${section.tokens} tokens` }));
  const lines = (section.lines || []).map((line) => el("li", { text: String(line) }));
  return el("div", { class: "card", dataset: { testid: "memory-section", name: section.name } },
    title, el("ul", {}, ...lines));
}

// ---- start

function start() {
  $("key-form").addEventListener("submit", saveKey);
  $("change-key").addEventListener("click", () => askKey(""));
  $("error-banner").addEventListener("click", clearError);
  $("chat-form").addEventListener("submit", sendMessage);
  $("chat-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("chat-form").requestSubmit();
    }
  });
  $("new-conversation").addEventListener("click", newConversation);
  $("install-form").addEventListener("submit", installExpert);
  $("train-form").addEventListener("submit", startTraining);
  $("recipe-select").addEventListener("change", describeRecipe);
  $("memory-form").addEventListener("submit", searchMemory);
  window.addEventListener("hashchange", route);
  setConversation(null);
  probe().then((ok) => {
    if (ok) route();
  });
}

start();
