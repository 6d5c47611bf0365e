# mcp-gateway with Node.js (for npm MCP servers) and Python (for PyPI ones).
# Not built in CI (no Docker engine on the team's machines): keep it simple and reviewable.
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 gateway

WORKDIR /app
COPY pyproject.toml README.md ./
COPY mcp_gateway ./mcp_gateway
RUN pip install --no-cache-dir . uv \
 && mkdir -p /data \
 && chown gateway:gateway /data \
 && chmod 0700 /data

USER gateway
ENV MCPGW_HOST=0.0.0.0 \
    MCPGW_PORT=8080 \
    MCPGW_DATA_DIR=/data \
    MCPGW_PACKAGES_DIR=/data/packages
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2)" || exit 1
ENTRYPOINT ["mcp-gateway"]
CMD ["serve"]
