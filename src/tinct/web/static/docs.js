// An offline API reference: renders /openapi.json (no Swagger UI, no CDN).
import { getJSON, showBanner, showTuringLink } from "./common.js";

function node(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function resolve(spec, schema) {
  if (schema && schema.$ref) {
    return schema.$ref.split("/").slice(1).reduce((o, k) => o[k], spec);
  }
  return schema || {};
}

function typeOf(spec, schema) {
  const s = resolve(spec, schema);
  if (s.enum) return s.enum.join(" | ");
  if (s.anyOf) return s.anyOf.map((x) => typeOf(spec, x)).join(" | ");
  if (s.format === "binary") return "file";
  return s.type || "object";
}

function fieldList(spec, schema) {
  const s = resolve(spec, schema);
  const list = node("ul");
  const required = new Set(s.required || []);
  for (const [name, prop] of Object.entries(s.properties || {})) {
    const p = resolve(spec, prop);
    const li = node("li");
    li.append(node("code", "", name), ` ${typeOf(spec, prop)}`,
      required.has(name) ? " (required)" : "",
      p.description ? ` — ${p.description}` : "");
    list.append(li);
  }
  return list;
}

function operation(spec, path, method, op) {
  const box = node("article", "panel op");
  const title = node("h2");
  title.append(node("span", `method ${method}`, method.toUpperCase()), path);
  box.append(title, node("p", "", op.summary || ""));
  if (op.description && op.description !== op.summary) box.append(node("p", "", op.description));
  if (op.parameters && op.parameters.length) {
    box.append(node("h3", "", "Parameters"));
    const list = node("ul");
    for (const p of op.parameters) {
      const li = node("li");
      li.append(node("code", "", p.name), ` (${p.in}) ${typeOf(spec, p.schema)}`,
        p.description || (p.schema && p.schema.description)
          ? ` — ${p.description || p.schema.description}` : "");
      list.append(li);
    }
    box.append(list);
  }
  const body = op.requestBody && op.requestBody.content;
  if (body) {
    const [type, media] = Object.entries(body)[0];
    box.append(node("h3", "", `Request body (${type})`), fieldList(spec, media.schema));
  }
  box.append(node("h3", "", "Responses"));
  const list = node("ul");
  for (const [status, response] of Object.entries(op.responses || {})) {
    const li = node("li");
    const types = Object.keys(response.content || {}).join(", ");
    li.append(node("code", "", status), ` ${response.description || ""}`,
      types ? ` (${types})` : "");
    list.append(li);
  }
  box.append(list);
  return box;
}

async function load() {
  showTuringLink();
  const example = document.querySelector("pre.example");
  example.textContent = example.textContent.replace("http://HOST", window.location.origin);
  try {
    const spec = await getJSON("/openapi.json");
    const target = document.getElementById("operations");
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        target.append(operation(spec, path, method, op));
      }
    }
  } catch (error) {
    showBanner(error.message);
  }
}

load();
