// Renders /openapi/openapi.json as a browsable page: operations grouped by tag (method,
// path, summary, parameters, request body, responses) and the component schemas. No
// third-party code; the page works offline and under a strict Content-Security-Policy.
"use strict";

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// A schema in one line: its $ref name, or its type (with items or properties).
function schemaText(s) {
  if (!s) return "";
  if (s.$ref) return s.$ref.split("/").pop();
  if (s.type === "array") return "array of " + schemaText(s.items);
  if (s.enum) return (s.type || "") + " (" + s.enum.join(", ") + ")";
  if (s.type === "object" && s.properties) return "object {" + Object.keys(s.properties).join(", ") + "}";
  return s.type || "object";
}

function bodySchema(content) {
  if (!content) return "";
  const [mime, media] = Object.entries(content)[0] || [];
  return mime ? mime + ": " + schemaText(media && media.schema) : "";
}

function operation(doc, path, method, op) {
  const details = el("details", { class: "op", "data-search": (method + " " + path + " " + (op.summary || "") + " " + (op.tags || []).join(" ")).toLowerCase() });
  details.append(el("summary", null,
    el("span", { class: "method " + method }, method),
    el("span", { class: "path" }, path),
    el("span", { class: "summary" }, op.summary || "")));
  const body = el("div");
  if (op.description) body.append(el("p", null, op.description));
  const params = (op.parameters || []).map(p => p.$ref ? doc.components.parameters[p.$ref.split("/").pop()] : p);
  if (params.length) {
    const t = el("table", null, el("tr", null, el("th", null, "parameter"), el("th", null, "in"), el("th", null, "type"), el("th", null, "")));
    for (const p of params) {
      t.append(el("tr", null, el("td", null, el("code", null, p.name), p.required ? " *" : ""),
        el("td", null, p.in), el("td", null, schemaText(p.schema)), el("td", null, p.description || "")));
    }
    body.append(t);
  }
  if (op.requestBody) body.append(el("p", null, "Body: ", el("code", null, bodySchema(op.requestBody.content))));
  const rt = el("table", null, el("tr", null, el("th", null, "status"), el("th", null, "response")));
  for (const [code, r0] of Object.entries(op.responses || {})) {
    const r = r0.$ref ? doc.components.responses[r0.$ref.split("/").pop()] : r0;
    rt.append(el("tr", null, el("td", null, el("code", null, code)),
      el("td", null, (r && r.description) || "", r && r.content ? " — " + bodySchema(r.content) : "")));
  }
  body.append(rt);
  details.append(body);
  return details;
}

function render(doc) {
  document.getElementById("title").textContent = doc.info.title;
  document.title = doc.info.title;
  document.getElementById("version").textContent = "Version " + doc.info.version;
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of ["get", "post", "put", "patch", "delete"]) {
      const op = item[method];
      if (!op) continue;
      // Tags are grouped whatever their case ("users" and "Users").
      const tag = ((op.tags && op.tags[0]) || "other").toLowerCase();
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(doc, path, method, op));
    }
  }
  const ops = document.getElementById("operations");
  for (const [tag, list] of [...byTag.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    ops.append(el("h2", { class: "tag" }, tag), ...list);
  }
  const schemas = document.getElementById("schemas");
  for (const [name, s] of Object.entries((doc.components && doc.components.schemas) || {})) {
    const d = el("details", { class: "schema", "data-search": name.toLowerCase() }, el("summary", null, el("code", null, name)));
    const t = el("table");
    for (const [prop, ps] of Object.entries(s.properties || {})) {
      t.append(el("tr", null, el("td", null, el("code", null, prop)), el("td", null, schemaText(ps)), el("td", null, ps.description || "")));
    }
    d.append(el("div", null, s.description ? el("p", null, s.description) : null, t));
    schemas.append(d);
  }
  document.getElementById("status").textContent =
    document.querySelectorAll("details.op").length + " operations.";
}

function filter(text) {
  const q = text.trim().toLowerCase();
  for (const d of document.querySelectorAll("details[data-search]")) {
    d.classList.toggle("hidden", q !== "" && !d.dataset.search.includes(q));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("filter").addEventListener("input", e => filter(e.target.value));
  fetch("/openapi/openapi.json")
    .then(r => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(render)
    .catch(e => { document.getElementById("status").textContent = "Cannot load the API description: " + e.message; });
});
