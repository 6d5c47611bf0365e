/* Runs page: GET /runs with status/server filters, a run's detail (GET /runs/{id}) and
 * cancel (DELETE /runs/{id}). Text only: see console.js. */
'use strict';

(function () {
  const { el, $, clear, setStatus, api, query, enc } = window.MCPGW;

  function runsPage() {
    const tbody = document.querySelector('#runs-table tbody');
    let filters = {};
    let cursor = null;
    let shown = null;

    function progress(p) {
      if (!p) return '';
      return (p.total ? p.progress + ' / ' + p.total : String(p.progress)) + (p.message ? ' ' + p.message : '');
    }
    async function load(append) {
      try {
        const data = await api('GET', '/runs' + query({ ...filters, cursor: append ? cursor : '' }));
        if (!append) clear(tbody);
        for (const r of data.items) {
          const live = r.status === 'pending' || r.status === 'running';
          tbody.append(el('tr', { 'data-run': r.id, 'data-status': r.status }, [
            el('td', {}, [el('button', { type: 'button', class: 'link', text: r.createdAt, onclick: () => detail(r.id) })]),
            el('td', {}, [el('span', { class: 'badge status-' + r.status.replace(/[^a-z]/g, ''), text: r.status })]),
            el('td', { text: r.serverName }), el('td', { text: r.methodName }), el('td', { text: r.username || '' }),
            el('td', { text: progress(r.progress) }),
            el('td', { text: r.durationMs === null || r.durationMs === undefined ? '' : Math.round(r.durationMs) + ' ms' }),
            el('td', {}, live ? [el('button', { type: 'button', class: 'cancel-run', text: 'Cancel', onclick: () => cancel(r.id) })] : []),
          ]));
        }
        cursor = data.nextCursor;
        $('runs-older').hidden = !cursor;
        setStatus(tbody.children.length ? '' : 'No runs.');
      } catch (err) { setStatus(err.message + (err.code ? ' (' + err.code + ')' : ''), true); }
      if (shown) await detail(shown);
    }
    async function detail(id) {
      shown = id;
      try {
        const data = await api('GET', '/runs/' + enc(id));
        $('run-detail').hidden = false;
        $('run-title').textContent = data.run.methodName + ' on ' + data.run.serverName + ': ' + data.run.status;
        $('run-body').textContent = JSON.stringify(data.run, null, 2);
      } catch (err) { setStatus(err.message, true); }
    }
    async function cancel(id) {
      try { await api('DELETE', '/runs/' + enc(id)); } catch (err) { setStatus(err.message, true); }
      await load(false);
    }
    $('runs-form').addEventListener('submit', (event) => {
      event.preventDefault();
      filters = { status: $('runs-status').value, server: $('runs-server').value.trim() };
      load(false);
    });
    $('runs-older').addEventListener('click', () => load(true));
    load(false);
    setInterval(() => { if (!cursor || tbody.children.length <= 50) load(false); }, 3000);
  }

  window.MCPGW.pages.runs = runsPage;
})();
