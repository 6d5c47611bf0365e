# mcp-gateway with Node.js (for npm MCP servers) and Python (for PyPI ones).
# Not built in CI (no Docker engine on the team's machines): keep it simple and reviewable.
#
# Sandbox (docs/security.md): the container starts as root only to exec setpriv, which switches
# to the unprivileged `gateway` user keeping exactly CAP_SETUID, CAP_SETGID and CAP_KILL as
# ambient capabilities: enough to start each MCP server under its own uid (setpriv + bubblewrap)
# and to stop it, nothing else (no DAC override: the gateway cannot read what it does not own).
# compose.yaml grants only those three capabilities and relaxes seccomp/AppArmor/masked /proc
# paths so that bubblewrap can create its namespaces; without that the gateway still starts,
# warns loudly and reports "sandbox": {"enabled": false} in /healthz.
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm bubblewrap util-linux \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 gateway

WORKDIR /app
COPY pyproject.toml README.md ./
COPY mcp_gateway ./mcp_gateway
# /data (store, keys) is the gateway's alone (0700); /packages must stay readable and
# traversable by the sandbox uids, so it lives outside /data (0755).
RUN pip install --no-cache-dir . uv \
 && mkdir -p /data /packages \
 && chown gateway:gateway /data /packages \
 && chmod 0700 /data \
 && chmod 0755 /packages

ENV MCPGW_HOST=0.0.0.0 \
    MCPGW_PORT=8080 \
    MCPGW_DATA_DIR=/data \
    MCPGW_PACKAGES_DIR=/packages \
    MCPGW_SANDBOX=auto
VOLUME ["/data", "/packages"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2)" || exit 1
# USER stays root for this one exec: setpriv drops to `gateway` before Python starts.
ENTRYPOINT ["setpriv", "--reuid=gateway", "--regid=gateway", "--init-groups", \
            "--inh-caps=-all,+setuid,+setgid,+kill", "--ambient-caps=-all,+setuid,+setgid,+kill", \
            "--", "mcp-gateway"]
CMD ["serve"]
