"""The web console at ``/ui`` (issue 16): server-rendered page shells plus one vendored-free
plain-JS file that calls the same REST API as every client, authenticated by a session cookie
(:mod:`.sessions`) that :func:`mcp_gateway.api.auth.guarded` accepts in place of a bearer key."""
