// grite web UI: talks to the JSON API of the server that sent it (specs/grite/ui.md).
// Everything from the repository (titles, bodies, comments, labels) goes into the page as text
// (textContent), never as HTML: any replica may have written it.
"use strict";

const $ = (id) => document.getElementById(id);
let current = null; // the issue shown, as `GET /api/issues/{id}` returned it
let me = null; // the acting actor's id: only its own comments can be edited

function token() { return sessionStorage.getItem("grite-token"); }

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token()) headers["Authorization"] = "Bearer " + token();
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) $("token-box").hidden = false;
  if (!response.ok) {
    const error = data.error || {};
    throw new Error((error.message || response.statusText) + (error.hint ? " (" + error.hint + ")" : ""));
  }
  return data;
}

function showError(err) {
  $("error").textContent = err ? String(err.message || err) : "";
  $("error").hidden = !err;
}

function when(ms) { return ms ? new Date(ms).toISOString().slice(0, 16).replace("T", " ") : "-"; }

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function showView(name) {
  for (const view of ["list-view", "create-view", "issue-view"]) $(view).hidden = view !== name;
}

async function showList() {
  showView("list-view");
  const q = $("query").value;
  const data = await api("GET", "/api/issues?q=" + encodeURIComponent(q));
  const rows = data.issues.map((issue) => {
    const row = el("tr");
    row.dataset.issueId = issue.issue_id;
    row.append(el("td", issue.issue_id.slice(0, 8)), el("td", issue.state), el("td", issue.title),
               el("td", issue.labels.join(", ")), el("td", String(issue.comment_count)));
    row.addEventListener("click", () => { location.hash = "#/issue/" + issue.issue_id; });
    return row;
  });
  $("issues").tBodies[0].replaceChildren(...rows);
  $("count").textContent = data.total + " issue(s)" +
    (data.total > data.issues.length ? ", the first " + data.issues.length + " shown" : "");
}

async function showIssue(id) {
  const data = await api("GET", "/api/issues/" + encodeURIComponent(id));
  const issue = current = data.issue;
  showView("issue-view");
  $("edit-form").hidden = true;
  $("issue-title").textContent = issue.title;
  $("issue-id").textContent = issue.issue_id;
  $("issue-state").textContent = issue.state;
  $("issue-state").className = "state " + issue.state;
  $("issue-dates").textContent = "created " + when(issue.created_ts) + ", updated " + when(issue.updated_ts);
  $("issue-labels").replaceChildren(...issue.labels.map((label) => el("li", label)));
  $("issue-facts").replaceChildren(...facts(issue));
  $("issue-body").textContent = issue.body || "(no description)";
  $("toggle-state").textContent = issue.state === "open" ? "Close issue" : "Reopen issue";
  if (me === null) me = (await api("GET", "/api/actor")).actor_id;
  $("comments").replaceChildren(...issue.comments.map(commentItem));
}

// Assignees, dependencies, links and attachments as a definition list. A link is clickable only
// when it is http(s): a `javascript:` or `data:` URL from a replica stays text.
function facts(issue) {
  const out = [];
  const add = (term, node) => { out.push(el("dt", term)); const dd = el("dd"); dd.append(node); out.push(dd); };
  if (issue.assignees.length) add("Assignees", issue.assignees.join(", "));
  for (const dep of issue.dependencies) add(dep.dep_type, dep.target.slice(0, 8));
  for (const link of issue.links) {
    const node = /^https?:\/\//i.test(link.url) ? el("a", link.url) : el("span", link.url);
    if (node.tagName === "A") { node.href = link.url; node.rel = "noopener noreferrer"; node.target = "_blank"; }
    const dd = el("span");
    dd.append(node, link.note ? " (" + link.note + ")" : "");
    add("Link", dd);
  }
  for (const att of issue.attachments) add("Attachment", att.name + " " + att.mime + " sha256:" + att.sha256);
  return out;
}

function commentItem(comment) {
  const item = el("li");
  item.dataset.commentId = comment.event_id;
  const meta = comment.actor.slice(0, 8) + " at " + when(comment.ts) + (comment.edited ? " (edited)" : "");
  const text = el("div", comment.body, "text");
  item.append(el("div", meta, "meta"), text);
  if (comment.actor !== me) return item;
  const edit = el("button", "Edit comment");
  edit.type = "button";
  edit.addEventListener("click", () => {
    const form = el("form", undefined, "comment-edit");
    const area = el("textarea");
    area.value = comment.body;
    area.rows = 4;
    area.setAttribute("aria-label", "comment text");
    const save = el("button", "Save comment");
    save.type = "submit";
    form.append(area, save);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      write(() => api("PATCH", "/api/issues/" + current.issue_id + "/comments/" + comment.event_id,
                      { body: area.value }));
    });
    edit.replaceWith(form);
    area.focus();
  });
  item.append(edit);
  return item;
}

async function route() {
  showError(null);
  const match = location.hash.match(/^#\/issue\/([0-9a-f]+)$/);
  try {
    if (match) await showIssue(match[1]);
    else if (location.hash === "#/new") showView("create-view");
    else await showList();
  } catch (err) { showError(err); }
}

// Run a write, then show the result; a refusal stays on screen and changes nothing.
async function write(action, after) {
  showError(null);
  try {
    const result = await action();
    await (after ? after(result) : showIssue(current.issue_id));
    return true;
  } catch (err) { showError(err); return false; }
}

function wire() {
  $("query-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (location.hash === "#/" || location.hash === "") route(); else location.hash = "#/";
  });
  $("new-issue").addEventListener("click", () => { location.hash = "#/new"; });
  $("create-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const labels = $("create-labels").value.split(",").map((s) => s.trim()).filter(Boolean);
    const body = { title: $("create-title").value, body: $("create-body").value, labels };
    const ok = await write(() => api("POST", "/api/issues", body),
                           (created) => { location.hash = "#/issue/" + created.issue_id; });
    if (ok) $("create-form").reset();
  });
  $("toggle-state").addEventListener("click", () => write(() => api(
    "POST", "/api/issues/" + current.issue_id + "/state", { state: current.state === "open" ? "closed" : "open" })));
  $("remove-issue").addEventListener("click", () => {
    if (!confirm("Remove this issue? It can be restored with `grite issue restore`.")) return;
    write(() => api("DELETE", "/api/issues/" + current.issue_id), () => { location.hash = "#/"; });
  });
  $("edit-issue").addEventListener("click", () => {
    $("edit-title").value = current.title;
    $("edit-body").value = current.body;
    $("edit-form").hidden = false;
  });
  $("edit-cancel").addEventListener("click", () => { $("edit-form").hidden = true; });
  $("edit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const change = {};
    if ($("edit-title").value !== current.title) change.title = $("edit-title").value;
    if ($("edit-body").value !== current.body) change.body = $("edit-body").value;
    if (Object.keys(change).length === 0) { $("edit-form").hidden = true; return; }
    write(() => api("PATCH", "/api/issues/" + current.issue_id, change));
  });
  $("label-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = event.submitter && event.submitter.value === "remove" ? "remove" : "add";
    const ok = await write(() => api("POST", "/api/issues/" + current.issue_id + "/labels",
                                     { [action]: [$("label-name").value] }));
    if (ok) $("label-form").reset();
  });
  $("comment-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const ok = await write(() => api("POST", "/api/issues/" + current.issue_id + "/comments",
                                     { body: $("comment-body").value }));
    if (ok) $("comment-form").reset();
  });
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("grite-token", $("token").value);
    $("token-box").hidden = true;
    route();
  });
  window.addEventListener("hashchange", route);
  route();
}

document.addEventListener("DOMContentLoaded", wire);
