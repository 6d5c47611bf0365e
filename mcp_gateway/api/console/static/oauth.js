/* OAuth connections page: connect/reconnect runs the gateway's login flow. Text only: see console.js. */
'use strict';

(function () {
  const { el, $, clear, setStatus, api, usernameParam, query, enc } = window.MCPGW;

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
          const connection = el('td', { class: 'connection', text: '…' });
          tbody.append(el('tr', { 'data-server': s.name }, [el('td', { text: s.name }), el('td', { text: s.status }), connection, el('td', { text: host }), el('td', {}, [connect])]));
          const who = query({ username: usernameParam('oauth-username') });
          api('GET', '/oauth/' + enc(s.name) + '/status' + who)
            .then((st) => { connection.textContent = st.authState.replace('_', ' '); })
            .catch((err) => { connection.textContent = err.message; });
        }
        setStatus(servers.length ? '' : 'No server uses OAuth.');
      } catch (err) { setStatus(err.message, true); }
    }
    load();
  }

  window.MCPGW.pages.oauth = oauthPage;
})();
