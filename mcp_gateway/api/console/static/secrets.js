/* Secrets page: names per server and user; values are write-only. Text only: see console.js. */
'use strict';

(function () {
  const { el, $, clear, setStatus, api, usernameParam, query } = window.MCPGW;

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

  window.MCPGW.pages.secrets = secretsPage;
})();
