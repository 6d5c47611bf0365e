/* Servers page: live status, logs (admin), enable/disable/restart, add/edit (admin). Text only: see console.js. */
'use strict';

(function () {
  const { el, $, clear, setStatus, ApiError, api, showError, enc, duration, cssToken, isAdmin } = window.MCPGW;

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
        const facts = [s.transportType, 'isolation ' + s.isolation];
        if (s.pid) facts.push('pid ' + s.pid);
        if (s.instances > 1) facts.push(s.instances + ' instances');
        if (s.nextRestartAt) facts.push('next restart ' + new Date(s.nextRestartAt * 1000).toLocaleTimeString());
        if (s.lastError) facts.push('last error: ' + s.lastError);
        $('detail-meta').textContent = facts.join(' · ');
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

    async function act(path, method) {
      if (!selected) return;
      try {
        await api(method || 'PUT', '/mcp/servers/' + enc(selected) + path);
        setStatus('');
      } catch (err) { setStatus(err.message, true); }
      await refresh();
    }
    $('btn-enable').addEventListener('click', () => act('/enable'));
    $('btn-disable').addEventListener('click', () => act('/disable'));
    $('btn-restart').addEventListener('click', () => act('/restart', 'POST'));
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

  window.MCPGW.pages.servers = serversPage;
})();
