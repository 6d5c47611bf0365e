/* mcp-gateway web console: the shared helpers, loaded first; each page's own script
 * (servers.js, tools.js, ...) registers itself in MCPGW.pages. Plain JavaScript, no
 * dependencies, no build step.
 *
 * Every value that comes from the API (and so possibly from an upstream MCP server) is put
 * into the page with textContent or as an attribute value, never parsed as HTML: no console
 * script uses innerHTML, outerHTML, insertAdjacentHTML or document.write. The page's CSP
 * forbids inline scripts anyway.
 *
 * Reads and writes go to the same REST API as every client, with the session cookie; writes
 * carry the session's CSRF token in X-CSRF-Token (the server refuses them without it).
 */
'use strict';

(function () {
  const main = document.getElementById('main');
  const data = main ? main.dataset : {};
  const page = data.page || '';
  const role = data.role || '';
  const myUsername = data.username || '';
  const isAdmin = role === 'admin';
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.getAttribute('content') : '';

  // ---- DOM helpers (text only) ----
  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'text') node.textContent = String(value);
      else if (key === 'class') node.className = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else if (key in node && typeof value !== 'string') node[key] = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children || []) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const $ = (id) => document.getElementById(id);
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function setStatus(text, isError) {
    const node = $('status');
    if (!node) return;
    node.textContent = text || '';
    node.classList.toggle('error', Boolean(isError));
  }

  // ---- API ----
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error) || ('HTTP ' + status));
      this.status = status;
      this.code = body && body.code;
      this.details = (body && Array.isArray(body.details)) ? body.details : [];
    }
  }

  async function api(method, path, body, signal) {
    const headers = { 'Accept': 'application/json' };
    if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const resp = await fetch(path, {
      method, headers, credentials: 'same-origin', signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (resp.status === 401) {
      window.location.assign('/ui/login');
      throw new ApiError(401, { error: 'session ended: log in again' });
    }
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok || (data && data.success === false)) throw new ApiError(resp.status, data);
    return data;
  }

  // A request answered with server-sent events (the installer's output): onEvent(kind, data)
  // per event; a refusal before the stream starts throws ApiError like api() does.
  async function apiEvents(method, path, body, onEvent) {
    const headers = { 'Accept': 'text/event-stream', 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' };
    const resp = await fetch(path, { method, headers, credentials: 'same-origin', body: JSON.stringify(body) });
    if (!resp.ok) {
      let data = null;
      try { data = await resp.json(); } catch (e) { data = null; }
      throw new ApiError(resp.status, data);
    }
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let end;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        let kind = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) kind = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) onEvent(kind, JSON.parse(data));
      }
    }
  }

  // A failed request as text: the API's message, then its validation details.
  function errorNode(err) {
    const box = el('div', { class: 'error' }, [el('p', { text: err.message + (err.code ? ' (' + err.code + ')' : '') })]);
    if (err.details && err.details.length) {
      box.append(el('ul', {}, err.details.map((d) => el('li', {
        text: typeof d === 'object' && d ? (d.field || '') + ': ' + (d.message || JSON.stringify(d)) : String(d),
      }))));
    }
    return box;
  }
  function showError(target, err) { clear(target); target.append(errorNode(err)); }

  function usernameParam(inputId) {
    const input = $(inputId);
    if (role === 'user' || !input) return '';
    return input.value.trim();
  }
  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
    const s = q.toString();
    return s ? '?' + s : '';
  }
  const enc = encodeURIComponent;

  function duration(ms) {
    if (ms === null || ms === undefined) return '';
    let s = Math.floor(ms / 1000);
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + s + 's';
  }
  function when(epoch) { return epoch ? new Date(epoch * 1000).toLocaleString() : 'never'; }
  function cssToken(s) { return String(s || '').replace(/[^a-z_]/gi, ''); }

  // Elapsed time while a slow request runs; returns a stop function.
  function ticker(node, label) {
    const started = Date.now();
    const tick = () => { node.textContent = label + ' ' + ((Date.now() - started) / 1000).toFixed(1) + ' s'; };
    tick();
    const timer = setInterval(tick, 100);
    // Stopping clears only the ticker's own text: a message the work set meanwhile stays.
    return () => { clearInterval(timer); if (node.textContent.startsWith(label)) node.textContent = ''; };
  }

  for (const node of document.querySelectorAll('.admin-only')) if (!isAdmin) node.hidden = true;
  for (const node of document.querySelectorAll('.not-user')) if (role === 'user') node.hidden = true;
  for (const button of document.querySelectorAll('.copy-btn')) {
    button.addEventListener('click', () => {
      const text = $(button.dataset.copy).textContent;
      if (navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {});
    });
  }

  // Each page's script (loaded after this one, all deferred) registers itself in pages;
  // shared parts (schema-form.js) in lib.
  const pages = {};
  const lib = {};
  window.MCPGW = Object.freeze({
    el, $, clear, setStatus, ApiError, api, apiEvents, errorNode, showError, usernameParam, query, enc,
    duration, when, cssToken, ticker, role, isAdmin, myUsername, pages, lib,
  });
  document.addEventListener('DOMContentLoaded', () => { if (main && pages[page]) pages[page](); });
})();
