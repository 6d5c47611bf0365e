/* Audit page: GET /audit with its filters, newest first, "Older" pages through nextCursor.
 * Text only: see console.js. */
'use strict';

(function () {
  const { el, $, clear, setStatus, api, query } = window.MCPGW;

  function auditPage() {
    const tbody = document.querySelector('#audit-table tbody');
    let filters = {};
    let cursor = null;

    function read() {
      const value = (id) => { const input = $(id); return input && !input.closest('[hidden]') ? input.value.trim() : ''; };
      return {
        server: value('audit-server'), tool: value('audit-tool'), username: value('audit-username'),
        outcome: value('audit-outcome'), key: value('audit-key'), since: value('audit-since'), until: value('audit-until'),
      };
    }
    async function load(append) {
      try {
        const data = await api('GET', '/audit' + query({ ...filters, limit: '100', cursor: append ? cursor : '' }));
        if (!append) clear(tbody);
        for (const r of data.items) {
          tbody.append(el('tr', { 'data-action': r.action, 'data-outcome': r.outcome }, [
            el('td', { text: r.time }), el('td', { text: r.keyId }), el('td', { text: r.role }), el('td', { text: r.action }),
            el('td', { text: r.username || '' }), el('td', { text: r.server || '' }), el('td', { text: r.tool || '' }),
            el('td', { text: r.outcome }), el('td', { text: r.duration === null || r.duration === undefined ? '' : Math.round(r.duration) + ' ms' }),
            el('td', { class: 'detail', text: r.detail || '' }),
          ]));
        }
        cursor = data.nextCursor;
        $('audit-older').hidden = !cursor;
        setStatus(tbody.children.length ? '' : 'No matching records.');
      } catch (err) { setStatus(err.message + (err.code ? ' (' + err.code + ')' : ''), true); }
    }
    $('audit-form').addEventListener('submit', (event) => { event.preventDefault(); filters = read(); load(false); });
    $('audit-older').addEventListener('click', () => load(true));
    load(false);
  }

  window.MCPGW.pages.audit = auditPage;
})();
