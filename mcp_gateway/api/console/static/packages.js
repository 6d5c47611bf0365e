/* Packages page (admin): install, updates, upgrade, remove. Text only: see console.js. */
'use strict';

(function () {
  const { el, $, clear, setStatus, api, apiEvents, ApiError, enc, ticker } = window.MCPGW;

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
        // The installer's output as it comes, line by line (text only), then the answer.
        let outcome = null;
        await apiEvents('POST', '/packages/install', body, (kind, data) => {
          if (kind === 'line') log.append(document.createTextNode(data + '\n'));
          else outcome = { kind, data };
        });
        if (!outcome) throw new ApiError(0, { error: 'the install ended without an answer' });
        if (outcome.kind === 'error') throw new ApiError(outcome.data.status, outcome.data);
        setStatus('Installed ' + body.name + ' as ' + outcome.data.serverName + ' (' + outcome.data.status + ').');
      });
    });
    load();
  }

  window.MCPGW.pages.packages = packagesPage;
})();
