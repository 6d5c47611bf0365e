/* Tools page: search, a form from the tool's schema (schema-form.js), the call and its
 * result, the same call as curl and CLI commands. Text only: see console.js. */
'use strict';

(function () {
  const { el, $, clear, setStatus, ApiError, api, showError, usernameParam, query, enc, ticker } = window.MCPGW;
  const { field } = window.MCPGW.lib.schemaForm;

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
    // A call runs as an async run (POST with "async": true, then GET /runs/{id}) so the page
    // can show the tool's progress notifications; Cancel is DELETE /runs/{id}.
    let runId = null;
    let cancelled = false;
    const pause = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
    function progressText(p) {
      if (!p) return '';
      return (p.total ? Math.round((100 * p.progress) / p.total) + '%' : String(p.progress)) + (p.message ? ' ' + p.message : '');
    }
    async function follow(result) {
      for (;;) {
        await pause(300);
        const run = (await api('GET', '/runs/' + enc(runId))).run;
        $('tool-run-progress').textContent = progressText(run.progress);
        if (run.status === 'pending' || run.status === 'running') continue;
        if (run.result) renderResult(result, run.result);
        else {
          const error = run.error || {};
          showError(result, new ApiError(error.status || 0, { error: error.error || ('the run ended ' + run.status), code: error.code || run.status }));
        }
        return;
      }
    }
    $('tool-cancel').addEventListener('click', async () => {
      if (controller) controller.abort();
      if (runId && !cancelled) {
        cancelled = true;
        try { await api('DELETE', '/runs/' + enc(runId)); } catch (err) { setStatus(err.message, true); }
      }
    });
    $('tool-call').addEventListener('click', async () => {
      if (!current) return;
      const result = $('tool-result');
      let body;
      try { body = callBody(); } catch (err) { showError(result, err); return; }
      controller = new AbortController();
      runId = null;
      cancelled = false;
      $('tool-call').disabled = true;
      $('tool-cancel').hidden = false;
      clear(result);
      const stop = ticker($('tool-progress'), 'Calling…');
      try {
        const data = await api('POST', '/mcp/tool/call', { ...body, async: true }, controller.signal);
        if (data.runId) {
          runId = data.runId;
          await follow(result);
        } else {
          renderResult(result, data.data);  // answered at once
        }
      } catch (err) {
        if (err.name === 'AbortError') showError(result, new Error('cancelled in the browser'));
        else showError(result, err);
      } finally {
        stop();
        controller = null;
        runId = null;
        $('tool-run-progress').textContent = '';
        $('tool-call').disabled = false;
        $('tool-cancel').hidden = true;
      }
    });
    load();
  }

  window.MCPGW.pages.tools = toolsPage;
})();
