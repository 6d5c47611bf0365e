/* mcp-gateway web console. Plain JavaScript, no dependencies, no build step.
 *
 * Every value that comes from the API (and so possibly from an upstream MCP server) is put
 * into the page with textContent or as an attribute value, never parsed as HTML: this file
 * never uses innerHTML, outerHTML, insertAdjacentHTML or document.write. The page's CSP
 * forbids inline scripts anyway.
 *
 * Reads and writes go to the same REST API as every client, with the session cookie; writes
 * carry the session's CSRF token in X-CSRF-Token (the server refuses them without it).
 */
'use strict';

(function () {
  const main = document.getElementById('main');
  if (!main) return;
  const page = main.dataset.page;
  const role = main.dataset.role;
  const myUsername = main.dataset.username || '';
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
    return () => { clearInterval(timer); node.textContent = ''; };
  }

  for (const node of document.querySelectorAll('.admin-only')) if (!isAdmin) node.hidden = true;
  for (const node of document.querySelectorAll('.not-user')) if (role === 'user') node.hidden = true;
  for (const button of document.querySelectorAll('.copy-btn')) {
    button.addEventListener('click', () => {
      const text = $(button.dataset.copy).textContent;
      if (navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {});
    });
  }

  // ---- Servers ----
  function serversPage() {
    const tbody = document.querySelector('#servers-table tbody');
    let selected = null;
    let editing = null;
    let stale = false;  // the status line shows a refresh's own message

    async function refresh() {
      try {
        const data = await api('GET', '/mcp/servers');
        clear(tbody);
        for (const s of data.servers) {
          const row = el('tr', { 'data-server': s.name }, [
            el('td', {}, [el('button', { type: 'button', class: 'link', text: s.name, onclick: () => select(s.name) })]),
            el('td', { text: s.transportType }),
            el('td', {}, [el('span', { class: 'badge status-' + cssToken(s.status), text: s.status })]),
            el('td', { text: s.enabled ? 'yes' : 'no' }),
            el('td', { text: s.restarts }),
            el('td', { text: duration(s.uptime) }),
            el('td', { text: (s.toolsList || []).length }),
            el('td', { class: 'last-error', text: s.lastError || '' }),
            el('td', {}, isAdmin ? [el('button', { type: 'button', text: 'Edit', onclick: () => edit(s) })] : []),
          ]);
          tbody.append(row);
        }
        // Clear only what a refresh said itself: an action's message stays until the next one.
        if (!data.servers.length) { setStatus('No servers yet.'); stale = true; } else if (stale) { setStatus(''); stale = false; }
      } catch (err) { setStatus(err.message, true); stale = true; }
      if (selected) await showDetail();
    }

    async function showDetail() {
      try {
        const data = await api('GET', '/mcp/servers/' + enc(selected));
        const s = data.server;
        $('detail-title').textContent = s.name + ': ' + s.status;
        const logs = $('logs');
        logs.textContent = (s.logs || []).join('\n');
        if ($('follow').checked) logs.scrollTop = logs.scrollHeight;
      } catch (err) { setStatus(err.message, true); }
    }

    function select(name) {
      selected = name;
      $('server-detail').hidden = false;
      showDetail();
    }

    async function act(path) {
      if (!selected) return;
      try {
        await api('PUT', '/mcp/servers/' + enc(selected) + path);
        setStatus('');
      } catch (err) { setStatus(err.message, true); }
      await refresh();
    }
    $('btn-enable').addEventListener('click', () => act('/enable'));
    $('btn-disable').addEventListener('click', () => act('/disable'));
    $('btn-restart').addEventListener('click', async () => { await act('/disable'); await act('/enable'); });
    $('btn-edit').addEventListener('click', async () => {
      if (!selected) return;
      try { edit((await api('GET', '/mcp/servers/' + enc(selected))).server); } catch (err) { setStatus(err.message, true); }
    });

    function lines(text) { return text.split('\n').map((l) => l.trim()).filter((l) => l); }
    function pairs(text, sep) {
      const out = {};
      for (const line of lines(text)) {
        const at = line.indexOf(sep);
        if (at < 1) throw new ApiError(400, { error: 'expected ' + sep + ' in "' + line + '"' });
        out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
      }
      return out;
    }
    function formBody() {
      const body = { name: $('f-name').value.trim(), transportType: $('f-transport').value, enabled: $('f-enabled').checked };
      const command = $('f-command').value.trim();
      const url = $('f-url').value.trim();
      if (command || editing) body.command = command || null;
      if (url || editing) body.url = url || null;
      body.args = lines($('f-args').value);
      body.env = pairs($('f-env').value, '=');
      body.headers = pairs($('f-headers').value, ':');
      const startup = $('f-startup').value.trim();
      if (startup) body.startupTimeout = Number(startup);
      return body;
    }
    function edit(s) {
      editing = s.name;
      $('form-title').textContent = 'Edit ' + s.name;
      $('f-name').value = s.name; $('f-name').readOnly = true;
      $('f-transport').value = s.transportType;
      $('f-command').value = s.command || '';
      $('f-args').value = (s.args || []).join('\n');
      $('f-env').value = Object.entries(s.env || {}).map(([k, v]) => k + '=' + v).join('\n');
      $('f-url').value = s.url || '';
      $('f-headers').value = Object.entries(s.headers || {}).map(([k, v]) => k + ': ' + v).join('\n');
      $('f-startup').value = s.startupTimeout || '';
      $('f-enabled').checked = s.enabled;
      $('f-submit').textContent = 'Save';
      $('f-cancel').hidden = false;
      clear($('form-errors'));
      $('server-form-card').scrollIntoView();
    }
    function resetForm() {
      editing = null;
      $('server-form').reset();
      $('f-name').readOnly = false;
      $('form-title').textContent = 'Add a server';
      $('f-submit').textContent = 'Add server';
      $('f-cancel').hidden = true;
    }
    $('f-cancel').addEventListener('click', resetForm);
    $('server-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const errors = $('form-errors');
      clear(errors);
      try {
        const body = formBody();
        if (editing) await api('PUT', '/mcp/servers/' + enc(editing), body);
        else await api('POST', '/mcp/servers', body);
        const name = body.name;
        resetForm();
        setStatus('Saved ' + name + '.');
        selected = name;
        $('server-detail').hidden = false;
        await refresh();
      } catch (err) { showError(errors, err); }
    });

    let timer = null;
    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(async () => { await refresh(); schedule(); }, $('follow').checked ? 1000 : 3000);
    }
    $('follow').addEventListener('change', schedule);
    refresh().then(schedule);
  }

  // ---- Tools: a form generated from the tool's JSON Schema ----
  function schemaType(schema) {
    let t = schema && schema.type;
    if (Array.isArray(t)) t = t.find((x) => x !== 'null');
    if (!t && schema && schema.properties) t = 'object';
    return t;
  }

  // Returns {node, get}; get() gives the value or undefined (left empty); throws on bad input.
  function field(schema, name, required, path) {
    schema = schema || {};
    const type = schemaType(schema);
    const id = 'arg-' + path.replace(/[^A-Za-z0-9_-]/g, '_');
    const label = el('span', { class: 'field-name', text: name + (required ? ' *' : '') });
    const help = schema.description ? el('small', { class: 'help', text: schema.description }) : null;
    const wrap = (control) => el('div', { class: 'field', 'data-path': path }, [el('label', { for: id }, [label]), control, ...(help ? [help] : [])]);

    if (Array.isArray(schema.enum)) {
      const select = el('select', { id, name: path, required }, [
        ...(required ? [] : [el('option', { value: '', text: '(unset)' })]),
        ...schema.enum.map((v, i) => el('option', { value: String(i), text: JSON.stringify(v) })),
      ]);
      if (schema.default !== undefined) {
        const at = schema.enum.findIndex((v) => JSON.stringify(v) === JSON.stringify(schema.default));
        if (at >= 0) select.value = String(at);
      }
      return { node: wrap(select), get: () => (select.value === '' ? undefined : schema.enum[Number(select.value)]) };
    }
    if (type === 'boolean') {
      const select = el('select', { id, name: path }, [
        el('option', { value: '', text: '(unset)' }), el('option', { value: 'true', text: 'true' }), el('option', { value: 'false', text: 'false' }),
      ]);
      if (typeof schema.default === 'boolean') select.value = String(schema.default);
      return { node: wrap(select), get: () => (select.value === '' ? undefined : select.value === 'true') };
    }
    if (type === 'integer' || type === 'number') {
      const input = el('input', { id, name: path, type: 'number', step: type === 'integer' ? '1' : 'any', required });
      if (typeof schema.minimum === 'number') input.min = String(schema.minimum);
      if (typeof schema.maximum === 'number') input.max = String(schema.maximum);
      if (typeof schema.default === 'number') input.value = String(schema.default);
      return {
        node: wrap(input),
        get: () => {
          if (input.value.trim() === '') return undefined;
          const n = Number(input.value);
          if (!Number.isFinite(n) || (type === 'integer' && !Number.isInteger(n))) throw new Error(path + ': expected ' + type);
          return n;
        },
      };
    }
    if (type === 'string') {
      const long = !schema.maxLength || schema.maxLength > 200;
      const input = long ? el('textarea', { id, name: path, rows: 2, required }) : el('input', { id, name: path, required });
      if (typeof schema.default === 'string') input.value = schema.default;
      return { node: wrap(input), get: () => (input.value === '' ? undefined : input.value) };
    }
    if (type === 'object' && schema.properties) {
      const req = new Set(schema.required || []);
      const parts = Object.entries(schema.properties).map(([k, sub]) => [k, field(sub, k, req.has(k), path + '.' + k)]);
      const box = el('fieldset', { class: 'object', 'data-path': path }, [el('legend', { text: name + (required ? ' *' : '') }), ...(help ? [help] : []), ...parts.map(([, p]) => p.node)]);
      return {
        node: box,
        get: () => {
          const out = {};
          for (const [k, p] of parts) {
            const v = p.get();
            if (v !== undefined) out[k] = v;
            else if (req.has(k)) throw new Error(path + '.' + k + ' is required');
          }
          return Object.keys(out).length || required ? out : undefined;
        },
      };
    }
    if (type === 'array' && schema.items && !Array.isArray(schema.items)) {
      const items = [];
      const list = el('div', { class: 'array-items' });
      const add = el('button', { type: 'button', class: 'add-item', text: 'Add item' });
      const box = el('fieldset', { class: 'array', 'data-path': path }, [el('legend', { text: name + (required ? ' *' : '') }), ...(help ? [help] : []), list, add]);
      add.addEventListener('click', () => {
        const item = field(schema.items, name + '[' + items.length + ']', false, path + '.' + items.length);
        const row = el('div', { class: 'array-item' }, [item.node]);
        const entry = { item, row };
        row.append(el('button', { type: 'button', text: 'Remove', onclick: () => { items.splice(items.indexOf(entry), 1); row.remove(); box.dispatchEvent(new Event('input', { bubbles: true })); } }));
        items.push(entry);
        list.append(row);
        box.dispatchEvent(new Event('input', { bubbles: true }));
      });
      return {
        node: box,
        get: () => {
          const values = items.map((e) => e.item.get()).filter((v) => v !== undefined);
          return values.length || required ? values : undefined;
        },
      };
    }
    // Anything else (no type, anyOf, $ref, free-form objects): JSON typed by hand.
    const area = el('textarea', { id, name: path, rows: 3, class: 'json', placeholder: 'JSON', required });
    if (schema.default !== undefined) area.value = JSON.stringify(schema.default);
    return {
      node: wrap(area),
      get: () => {
        if (area.value.trim() === '') return undefined;
        try { return JSON.parse(area.value); } catch (e) { throw new Error(path + ': not valid JSON'); }
      },
    };
  }

  function shellQuote(s) { return "'" + String(s).replace(/'/g, "'\\''") + "'"; }

  function renderResult(target, data) {
    clear(target);
    if (data.isError) target.append(el('p', { class: 'error', text: 'The tool reported an error (isError: true).' }));
    for (const item of data.content || []) {
      if (item.type === 'text') {
        target.append(el('pre', { class: 'text-result', text: item.text }));
      } else if (item.type === 'image' && /^image\/(png|jpeg|gif|webp)$/.test(item.mimeType || '') && /^[A-Za-z0-9+/=\s]*$/.test(item.data || '')) {
        target.append(el('img', { class: 'image-result', alt: 'image result', src: 'data:' + item.mimeType + ';base64,' + item.data.replace(/\s/g, '') }));
      } else {
        target.append(el('pre', { class: 'json-result', text: JSON.stringify(item, null, 2) }));
      }
    }
    if (data.structuredContent !== undefined) {
      target.append(el('h4', { text: 'Structured content' }), el('pre', { class: 'json-result', text: JSON.stringify(data.structuredContent, null, 2) }));
    }
    target.append(el('details', {}, [el('summary', { text: 'Raw JSON' }), el('pre', { text: JSON.stringify(data, null, 2) })]));
  }

  function toolsPage() {
    let all = [];
    let current = null;
    let getArgs = () => ({});
    let controller = null;

    async function load() {
      setStatus('Loading tools…');
      try {
        const data = await api('GET', '/mcp/tools' + query({ username: usernameParam('tool-username') }));
        all = [];
        for (const entry of data.tools) for (const [server, tools] of Object.entries(entry)) for (const tool of tools) all.push({ server, tool });
        setStatus(all.length ? '' : 'No tools: add or connect a server first.');
        renderList();
      } catch (err) { setStatus(err.message, true); }
    }
    function renderList() {
      const terms = $('tool-search').value.toLowerCase().split(/\s+/).filter((t) => t);
      const list = $('tool-list');
      clear(list);
      for (const entry of all) {
        const hay = (entry.server + ' ' + entry.tool.name + ' ' + (entry.tool.description || '')).toLowerCase();
        if (!terms.every((t) => hay.includes(t))) continue;  // every word, anywhere
        list.append(el('li', {}, [el('button', {
          type: 'button', class: 'link tool-item', 'data-tool': entry.server + '/' + entry.tool.name,
          onclick: () => select(entry),
        }, [el('strong', { text: entry.tool.name }), el('span', { class: 'server-name', text: ' · ' + entry.server })])]));
      }
    }
    function callBody() {
      const body = { serverName: current.server, methodName: current.tool.name, args: getArgs() };
      const username = usernameParam('tool-username');
      if (username) body.username = username;
      return body;
    }
    function updateCommands() {
      if (!current) return;
      let body;
      try { body = callBody(); } catch (err) {
        $('tool-curl').textContent = $('tool-cli').textContent = '(fix the arguments: ' + err.message + ')';
        return;
      }
      const origin = window.location.origin;
      $('tool-curl').textContent = 'curl -sS -X POST ' + shellQuote(origin + '/mcp/tool/call') +
        ' -H "Authorization: Bearer $MCPGW_API_KEY" -H \'Content-Type: application/json\' -d ' + shellQuote(JSON.stringify(body));
      $('tool-cli').textContent = 'MCPGW_URL=' + shellQuote(origin) + ' mcp-gateway tools call ' + shellQuote(body.serverName) + ' ' +
        shellQuote(body.methodName) + ' --json-args ' + shellQuote(JSON.stringify(body.args)) + (body.username ? ' --username ' + shellQuote(body.username) : '');
    }
    function select(entry) {
      current = entry;
      $('tool-panel').hidden = false;
      $('tool-title').textContent = entry.server + ' / ' + entry.tool.name;
      $('tool-description').textContent = entry.tool.description || '';
      const form = $('tool-form');
      clear(form);
      clear($('tool-result'));
      const schema = entry.tool.inputSchema || { type: 'object' };
      if (schema.properties && Object.keys(schema.properties).length) {
        const root = field(schema, 'arguments', true, 'args');
        form.append(root.node);
        getArgs = () => root.get() || {};
      } else {
        form.append(el('p', { class: 'help', text: 'This tool takes no arguments.' }));
        getArgs = () => ({});
      }
      updateCommands();
    }
    $('tool-form').addEventListener('input', updateCommands);
    $('tool-form').addEventListener('change', updateCommands);
    $('tool-form').addEventListener('submit', (e) => e.preventDefault());
    $('tool-search').addEventListener('input', renderList);
    $('tool-reload').addEventListener('click', load);
    $('tool-cancel').addEventListener('click', () => { if (controller) controller.abort(); });
    $('tool-call').addEventListener('click', async () => {
      if (!current) return;
      const result = $('tool-result');
      let body;
      try { body = callBody(); } catch (err) { showError(result, err); return; }
      controller = new AbortController();
      $('tool-call').disabled = true;
      $('tool-cancel').hidden = false;
      const stop = ticker($('tool-progress'), 'Calling…');
      try {
        const data = await api('POST', '/mcp/tool/call', body, controller.signal);
        renderResult(result, data.data);
      } catch (err) {
        if (err.name === 'AbortError') showError(result, new Error('cancelled in the browser (the gateway stops the call when the client goes away)'));
        else showError(result, err);
      } finally {
        stop();
        controller = null;
        $('tool-call').disabled = false;
        $('tool-cancel').hidden = true;
      }
    });
    load();
  }

  // ---- Secrets ----
  function secretsPage() {
    const tbody = document.querySelector('#secrets-table tbody');
    let declared = {};  // server -> the secret names its definition injects (suggestions)
    function suggest() {
      const list = $('secret-names');
      clear(list);
      for (const name of declared[$('secret-server').value] || []) list.append(el('option', { value: name }));
    }
    async function loadServers() {
      try {
        const data = await api('GET', '/mcp/servers');
        const select = $('secret-server');
        clear(select);
        declared = {};
        for (const s of data.servers) {
          select.append(el('option', { value: s.name, text: s.name }));
          declared[s.name] = [...new Set([...(s.secretNames || []), ...(s.secrets || []).map((spec) => spec.name)])];
        }
        suggest();
        if (data.servers.length) await loadNames();
        else setStatus('No servers yet.');
      } catch (err) { setStatus(err.message, true); }
    }
    async function loadNames() {
      const server = $('secret-server').value;
      if (!server) return;
      try {
        const data = await api('GET', '/secrets' + query({ serverName: server, username: usernameParam('secret-username') }));
        clear(tbody);
        for (const name of data.secrets) {
          tbody.append(el('tr', { 'data-secret': name }, [el('td', { text: name }), el('td', {}, [el('button', {
            type: 'button', text: 'Delete', onclick: () => remove(name),
          })])]));
        }
        setStatus(data.secrets.length ? 'Secrets of ' + data.username + ' for ' + server + ':' : 'No secrets of ' + data.username + ' for ' + server + '.');
      } catch (err) { setStatus(err.message, true); }
    }
    function target() {
      const body = { serverName: $('secret-server').value };
      const username = usernameParam('secret-username');
      if (username) body.username = username;
      return body;
    }
    async function remove(name) {
      if (!window.confirm('Delete secret ' + name + '?')) return;
      try { await api('POST', '/secrets/delete', { ...target(), secretName: name }); } catch (err) { setStatus(err.message, true); return; }
      await loadNames();
    }
    $('secret-server').addEventListener('change', () => { suggest(); loadNames(); });
    $('secret-load').addEventListener('click', loadNames);
    $('secret-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const name = $('secret-name').value.trim();
      const value = $('secret-value');
      try {
        await api('POST', '/secrets/set', { ...target(), secretName: name, secretValue: value.value });
        value.value = '';  // entered once, never shown again
        $('secret-name').value = '';
        await loadNames();
        setStatus('Secret ' + name + ' set.');
      } catch (err) { setStatus(err.message, true); }
    });
    loadServers();
  }

  // ---- OAuth connections ----
  function oauthPage() {
    const tbody = document.querySelector('#oauth-table tbody');
    async function load() {
      try {
        const data = await api('GET', '/mcp/servers');
        const servers = data.servers.filter((s) => s.oauth && s.oauth.enabled);
        clear(tbody);
        for (const s of servers) {
          let host = '';
          try { host = new URL(s.oauth.authorizationEndpoint || s.oauth.issuer || s.url).host; } catch (e) { host = ''; }
          const connect = el('button', { type: 'button', text: 'Connect / reconnect', onclick: () => {
            const path = '/oauth/' + enc(s.name) + '/authorize' + query({ username: usernameParam('oauth-username') });
            window.open(path, '_blank', 'noopener');
          } });
          tbody.append(el('tr', { 'data-server': s.name }, [el('td', { text: s.name }), el('td', { text: s.status }), el('td', { text: host }), el('td', {}, [connect])]));
        }
        setStatus(servers.length ? '' : 'No server uses OAuth.');
      } catch (err) { setStatus(err.message, true); }
    }
    load();
  }

  // ---- API keys (admin) ----
  function keysPage() {
    const tbody = document.querySelector('#keys-table tbody');
    async function load() {
      try {
        const data = await api('GET', '/admin/apikeys');
        clear(tbody);
        for (const k of data.keys) {
          tbody.append(el('tr', { 'data-key': k.id }, [
            el('td', { text: k.name }), el('td', { text: k.role }), el('td', { text: k.username || '' }),
            el('td', { text: k.prefix }), el('td', { text: when(k.createdAt) }), el('td', { text: when(k.lastUsedAt) }),
            el('td', {}, [el('button', { type: 'button', text: 'Revoke', onclick: () => revoke(k) })]),
          ]));
        }
      } catch (err) { setStatus(err.message, true); }
    }
    async function revoke(k) {
      if (!window.confirm('Revoke key ' + k.name + ' (' + k.prefix + ')? Clients using it stop working at once.')) return;
      try { await api('DELETE', '/admin/apikeys/' + enc(k.id)); setStatus('Revoked ' + k.name + '.'); } catch (err) { setStatus(err.message, true); }
      await load();
    }
    $('key-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const body = { name: $('key-name').value.trim(), role: $('key-role').value };
      const username = $('key-username').value.trim();
      if (username) body.username = username;
      try {
        const data = await api('POST', '/admin/apikeys', body);
        $('key-value').textContent = data.key;  // shown once, kept nowhere else
        $('key-created').hidden = false;
        $('key-form').reset();
        setStatus('');
        await load();
      } catch (err) { setStatus(err.message, true); }
    });
    load();
  }

  // ---- Packages (admin) ----
  function packagesPage() {
    const tbody = document.querySelector('#pkg-table tbody');
    let latest = {};
    async function load() {
      try {
        const data = await api('GET', '/packages');
        clear(tbody);
        for (const p of data.packages) {
          const update = latest[p.serverName];
          tbody.append(el('tr', { 'data-server': p.serverName }, [
            el('td', { text: p.serverName }), el('td', { text: p.name }), el('td', { text: p.runtime }), el('td', { text: p.version }),
            el('td', { text: update ? (update.latestVersion || update.error || '') + (update.updateAvailable ? ' (update available)' : '') : '' }),
            el('td', {}, [
              el('button', { type: 'button', text: 'Upgrade', onclick: () => upgrade(p.serverName) }),
              el('button', { type: 'button', text: 'Remove', onclick: () => remove(p.serverName) }),
            ]),
          ]));
        }
        if (!data.packages.length) tbody.append(el('tr', {}, [el('td', { colspan: 6, class: 'empty', text: 'No packages installed.' })]));
      } catch (err) { setStatus(err.message, true); }
    }
    async function slow(label, work) {
      const log = $('pkg-log');
      log.textContent = '';
      const stop = ticker($('status'), label);
      try {
        await work(log);
        stop();
      } catch (err) {
        stop();
        setStatus(err.message + (err.code ? ' (' + err.code + ')' : ''), true);
        const details = (err.details || []).map((d) => (d.field ? d.field + ': ' : '') + (d.message || JSON.stringify(d)));
        if (details.length) log.textContent = details.join('\n');
      }
      await load();
    }
    const upgrade = (server) => slow('Upgrading ' + server + '…', async (log) => {
      const data = await api('PUT', '/packages/' + enc(server) + '/upgrade?includeLog=true');
      log.textContent = data.log || JSON.stringify(data, null, 2);
      setStatus('Upgraded ' + server + '.');
    });
    async function remove(server) {
      if (!window.confirm('Remove the package and server ' + server + '?')) return;
      await slow('Removing ' + server + '…', async () => { await api('DELETE', '/packages/' + enc(server)); setStatus('Removed ' + server + '.'); });
    }
    $('pkg-updates').addEventListener('click', () => slow('Checking the registries…', async () => {
      const data = await api('GET', '/packages/updates');
      latest = {};
      for (const u of data.updates || []) latest[u.serverName] = u;
      setStatus('Checked.');
    }));
    $('pkg-upgrade-all').addEventListener('click', () => slow('Upgrading every outdated package…', async (log) => {
      const data = await api('PUT', '/packages/upgrade-all');
      log.textContent = JSON.stringify(data, null, 2);
      setStatus('Done.');
    }));
    $('pkg-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const body = { name: $('pkg-name').value.trim(), serverName: $('pkg-server').value.trim(), runtime: $('pkg-runtime').value };
      const version = $('pkg-version').value.trim();
      if (version) body.version = version;
      slow('Installing ' + body.name + '…', async (log) => {
        const data = await api('POST', '/packages/install?includeLog=true', body);
        log.textContent = data.log || '';
        setStatus('Installed ' + body.name + ' as ' + data.serverName + ' (' + data.status + ').');
      });
    });
    load();
  }

  const pages = { servers: serversPage, tools: toolsPage, secrets: secretsPage, oauth: oauthPage, keys: keysPage, packages: packagesPage };
  if (pages[page]) pages[page]();
})();
