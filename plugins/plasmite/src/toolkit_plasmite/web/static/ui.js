// plasmite's browser UI: reads the /v0 API, streams a pool's messages over SSE, appends.
// Message content is only ever inserted as text (never as HTML).
"use strict";

const plasmiteUi = (() => {
  const $ = (id) => document.getElementById(id);

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  // A server started with a token needs it on every /v0 request. It is handed over once in
  // the URL fragment (`/ui#token=...`, never sent to the server nor logged), then kept in this
  // tab's sessionStorage and removed from the address bar.
  const TOKEN_KEY = "plasmite-token";
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.has("token")) {
    sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
    history.replaceState(null, "", location.pathname + location.search);
  }

  function authHeaders() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { authorization: `Bearer ${token}` } : {};
  }

  async function api(path, options = {}) {
    const headers = { ...authHeaders(), ...(options.headers || {}) };
    const res = await fetch(path, { cache: "no-store", ...options, headers });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = body.error || {};
      throw new Error(`${err.kind || res.status}: ${err.message || res.statusText}`);
    }
    return body;
  }

  function sizeText(n) {
    for (const [suffix, unit] of [["G", 1 << 30], ["M", 1 << 20], ["K", 1 << 10]]) {
      if (n >= unit) return (n % unit ? (n / unit).toFixed(1) : n / unit) + suffix;
    }
    return String(n);
  }

  async function index() {
    try {
      const { pools } = await api("/v0/ui/pools");
      const body = $("pools").tBodies[0];
      $("empty").hidden = pools.length > 0;
      for (const info of pools) {
        const row = body.insertRow();
        const link = document.createElement("a");
        link.href = "/ui/pools/" + encodeURIComponent(info.name);
        link.textContent = info.name;
        row.insertCell().append(link);
        const b = info.bounds || {};
        cell(row, String(b.oldest ? b.newest - b.oldest + 1 : 0));
        cell(row, b.oldest ? `${b.oldest}..${b.newest}` : "empty");
        cell(row, sizeText(info.file_size));
      }
    } catch (err) {
      $("status").textContent = String(err.message || err);
    }
  }

  function pool() {
    const name = decodeURIComponent(location.pathname.split("/").pop());
    document.title = `plasmite — ${name}`;
    $("name").textContent = name;
    const rows = $("log").tBodies[0];
    let lastSeq = 0;

    function matches(env) {
      const q = $("filter").value.trim().toLowerCase();
      if (!q) return true;
      return env.meta.tags.some((t) => t.toLowerCase() === q) || JSON.stringify(env.data).toLowerCase().includes(q);
    }

    function show(env) {
      if (env.seq <= lastSeq) return; // a reconnect may repeat what we have
      lastSeq = env.seq;
      const row = rows.insertRow(0);
      row.dataset.seq = String(env.seq);
      row.className = "fresh";
      row.hidden = !matches(env);
      row.envelope = env;
      cell(row, String(env.seq));
      cell(row, env.time);
      cell(row, env.meta.tags.join(", "));
      cell(row, JSON.stringify(env.data, null, 1), "data");
      setTimeout(() => row.classList.remove("fresh"), 1500);
      while (rows.rows.length > 500) rows.deleteRow(rows.rows.length - 1);
    }

    function parseEvents(buffer, onEvent) {
      // Server-sent events: blocks separated by a blank line, `event:` and `data:` fields.
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const fields = {};
        for (const line of buffer.slice(0, cut).split("\n")) {
          const colon = line.indexOf(": ");
          if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 2);
        }
        buffer = buffer.slice(cut + 2);
        if (fields.data !== undefined) onEvent(fields.event || "message", JSON.parse(fields.data));
      }
      return buffer;
    }

    async function connect(since) {
      // fetch rather than EventSource, which cannot send the bearer token. The stream ends
      // after the server's idle timeout; reopen from the next seq (no gaps, no repeats).
      const url = `/v0/ui/pools/${encodeURIComponent(name)}/events?since_seq=${since}`;
      try {
        const res = await fetch(url, { cache: "no-store", headers: authHeaders() });
        if (!res.ok) {
          const err = (await res.json().catch(() => ({}))).error || {};
          throw new Error(`${err.kind || res.status}: ${err.message || res.statusText}`);
        }
        $("live").textContent = "live";
        $("live").className = "on";
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer = parseEvents(buffer + value, (kind, body) => {
            if (kind === "message") show(body);
            else $("live").textContent = body.error.message;
          });
        }
        setTimeout(() => connect(lastSeq + 1), 0);
      } catch (err) {
        $("live").textContent = String(err.message || err);
        $("live").className = "off";
        setTimeout(() => connect(lastSeq + 1), 1000);
      }
    }

    async function start() {
      try {
        const info = await api(`/v0/ui/pools/${encodeURIComponent(name)}/info`);
        const b = info.bounds || {};
        $("facts").textContent = b.oldest
          ? `${b.newest - b.oldest + 1} messages (seq ${b.oldest}..${b.newest}), ${sizeText(info.file_size)}`
          : `empty, ${sizeText(info.file_size)}`;
        const newest = b.newest || 0;
        lastSeq = Math.max((b.oldest || 1) - 1, newest - 100); // the newest 100 first
        connect(lastSeq + 1);
      } catch (err) {
        $("live").textContent = String(err.message || err);
        $("live").className = "off";
      }
    }

    $("filter").addEventListener("input", () => {
      for (const row of rows.rows) row.hidden = !matches(row.envelope);
    });

    $("send").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      $("send-error").textContent = "";
      let data;
      try {
        data = JSON.parse($("send-data").value);
      } catch (err) {
        $("send-error").textContent = "not JSON: " + err.message;
        return;
      }
      const tags = $("send-tags").value.split(",").map((t) => t.trim()).filter(Boolean);
      try {
        await api(`/v0/pools/${encodeURIComponent(name)}/append`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ data, tags }),
        });
      } catch (err) {
        $("send-error").textContent = String(err.message || err);
      }
    });

    start();
  }

  return { index, pool };
})();
