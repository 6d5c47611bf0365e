/* API keys page (admin): create (shown once), revoke, last use. Text only: see console.js. */
'use strict';

(function () {
  const { el, $, clear, setStatus, api, enc, when } = window.MCPGW;

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

  window.MCPGW.pages.keys = keysPage;
})();
