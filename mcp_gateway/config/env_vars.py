"""The one table of environment names: each flat name (and its mcp-api aliases) and the
nested settings field it sets. ``example.env`` documents every name here (a test checks)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EnvVar:
    names: tuple[str, ...]  # first is ours, the rest are mcp-api aliases
    path: tuple[str, str]  # (section, field)
    is_list: bool = False


ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar(("MCPGW_HOST",), ("http", "host")),
    EnvVar(("MCPGW_PORT", "PORT"), ("http", "port")),
    EnvVar(("MCPGW_MAX_BODY", "PAYLOAD_LIMIT"), ("http", "max_body")),
    EnvVar(("MCPGW_BODY_TIMEOUT",), ("http", "body_timeout")),
    EnvVar(("MCPGW_STRICT_REQUESTS",), ("http", "strict_requests")),
    EnvVar(("MCPGW_CORS_ORIGINS",), ("http", "cors_origins"), is_list=True),
    EnvVar(("MCPGW_TRUSTED_PROXIES",), ("http", "trusted_proxies"), is_list=True),
    EnvVar(("MCPGW_AUTH_MODE",), ("http", "auth_mode")),
    EnvVar(("MCPGW_ADMIN_API_KEY",), ("http", "admin_api_key")),
    EnvVar(("MCPGW_LOG_LEVEL",), ("http", "log_level")),
    EnvVar(("MCPGW_LOG_FORMAT",), ("http", "log_format")),
    EnvVar(("MCPGW_REPLICA_ID",), ("http", "replica_id")),
    EnvVar(("MCPGW_CONSOLE",), ("http", "console")),
    EnvVar(("MCPGW_CONSOLE_SESSION_IDLE",), ("http", "console_session_idle")),
    EnvVar(("MCPGW_CONSOLE_SESSION_MAX_AGE",), ("http", "console_session_max_age")),
    EnvVar(("MCPGW_DATA_DIR",), ("store", "data_dir")),
    EnvVar(("MCPGW_MONGODB_URI",), ("store", "mongodb_uri")),
    EnvVar(("MCPGW_MONGODB_DB", "MONGO_DBNAME"), ("store", "mongodb_db")),
    EnvVar(("MONGO_USER",), ("store", "mongo_user")),
    EnvVar(("MONGO_PASS",), ("store", "mongo_pass")),
    EnvVar(("MONGO_HOST",), ("store", "mongo_host")),
    EnvVar(("MONGO_REPLICASET",), ("store", "mongo_replicaset")),
    EnvVar(("MCPGW_STORE_TIMEOUT",), ("store", "timeout")),
    EnvVar(("MCPGW_SECRETS_KEYS",), ("secrets", "keys")),
    EnvVar(("MCPGW_SECRETS_KEY", "SECRETS_KEY"), ("secrets", "passphrase")),
    EnvVar(("MCPGW_MAX_SECRETS_PER_USER",), ("secrets", "max_per_user")),
    EnvVar(("MCPGW_MAX_SECRET_BYTES",), ("secrets", "max_bytes")),
    # The older name (a number of days) is an alias: a bare number is days there and here.
    EnvVar(("MCPGW_AUDIT_RETENTION", "MCPGW_AUDIT_RETENTION_DAYS"), ("audit", "retention")),
    EnvVar(("MCPGW_AUDIT_MAX_EVENTS",), ("audit", "max_events")),
    EnvVar(("MCPGW_RUN_RESULT_MAX_BYTES",), ("runs", "result_max_bytes")),
    EnvVar(("MCPGW_RUN_RETENTION",), ("runs", "retention")),
    EnvVar(("MCPGW_RUN_MAX_ACTIVE",), ("runs", "max_active")),
    EnvVar(("MCPGW_RUN_REPLICA_TIMEOUT",), ("runs", "replica_timeout")),
    EnvVar(("MCPGW_USER_SESSION_IDLE",), ("upstream", "user_session_idle")),
    EnvVar(("MCPGW_BUSY_WAIT",), ("upstream", "busy_wait")),
    EnvVar(("MCPGW_MAX_MESSAGE_BYTES",), ("upstream", "max_message_bytes")),
    EnvVar(("MCPGW_MAX_CONCURRENCY_PER_USER",), ("upstream", "max_concurrency_per_user")),
    EnvVar(("MCPGW_RATE_LIMIT_PER_USER",), ("rate_limit", "per_user")),
    EnvVar(("MCPGW_RATE_LIMIT_PER_KEY",), ("rate_limit", "per_key")),
    EnvVar(("MCPGW_RATE_LIMIT_TOTAL",), ("rate_limit", "total")),
    EnvVar(("MCPGW_RATE_LIMIT_REPLICAS",), ("rate_limit", "replicas")),
    EnvVar(("MCPGW_RATE_LIMIT_MAX_BUCKETS",), ("rate_limit", "max_buckets")),
    EnvVar(("MCPGW_PACKAGES_DIR",), ("installer", "packages_dir")),
    EnvVar(("MCPGW_PYTHON_BIN", "PYTHON_BIN"), ("installer", "python_bin")),
    EnvVar(("MCPGW_PYTHON_VENV_DIR", "PYTHON_VENV_DIR"), ("installer", "python_venv_dir")),
    EnvVar(("MCPGW_PIP_INDEX_URL", "PIP_INDEX_URL"), ("installer", "pip_index_url")),
    EnvVar(
        ("MCPGW_PIP_EXTRA_INDEX_URL", "PIP_EXTRA_INDEX_URL"), ("installer", "pip_extra_index_url")
    ),
    EnvVar(("MCPGW_NPM_REGISTRY",), ("installer", "npm_registry")),
    EnvVar(("MCPGW_INSTALL_TIMEOUT",), ("installer", "install_timeout")),
    EnvVar(("MCPGW_OAUTH_ALLOWED_HOSTS",), ("oauth", "allowed_hosts"), is_list=True),
    EnvVar(("MCPGW_PUBLIC_URL",), ("oauth", "public_url")),
    EnvVar(("MCPGW_EXTERNAL_ALLOWED_HOSTS",), ("oauth", "external_allowed_hosts"), is_list=True),
    EnvVar(("GOOGLE_OAUTH_CREDENTIALS",), ("oauth", "google_credentials")),
    EnvVar(("MCPGW_SANDBOX",), ("sandbox", "mode")),
    EnvVar(("MCPGW_SANDBOX_BWRAP",), ("sandbox", "bwrap")),
    EnvVar(("MCPGW_SANDBOX_UID_BASE",), ("sandbox", "uid_base")),
    EnvVar(("MCPGW_SANDBOX_UID_COUNT",), ("sandbox", "uid_count")),
    EnvVar(("MCPGW_METRICS_KEY",), ("telemetry", "metrics_key")),
    EnvVar(("MCPGW_METRICS_MAX_TOOLS",), ("telemetry", "metrics_max_tools")),
    EnvVar(("MCPGW_OTEL",), ("telemetry", "otel")),
    EnvVar(("MCPGW_ALLOWED_ORIGINS",), ("endpoint", "allowed_origins"), is_list=True),
    EnvVar(("MCPGW_ALLOWED_HOSTS",), ("endpoint", "allowed_hosts"), is_list=True),
    EnvVar(("MCPGW_MCP_SESSION_IDLE",), ("endpoint", "session_idle")),
    EnvVar(("MCPGW_MCP_MAX_SESSIONS",), ("endpoint", "max_sessions")),
    EnvVar(("MCPGW_MCP_MAX_SESSIONS_PER_CALLER",), ("endpoint", "max_sessions_per_caller")),
    EnvVar(("MCPGW_TOOL_SEARCH_THRESHOLD",), ("endpoint", "tool_search_threshold")),
    EnvVar(("MCPGW_MCP_RESUME_EVENTS",), ("endpoint", "resume_events")),
    EnvVar(("MCPGW_MCP_RESUME_BYTES",), ("endpoint", "resume_bytes")),
    EnvVar(("MCPGW_MCP_RESUME_EVENTS_PER_STREAM",), ("endpoint", "resume_events_per_stream")),
    EnvVar(("MCPGW_MCP_RESUME_GRACE",), ("endpoint", "resume_grace")),
    EnvVar(("MCPGW_MCP_SSE_RETRY_MS",), ("endpoint", "sse_retry_ms")),
    EnvVar(("MCPGW_CHANGE_FEED",), ("cluster", "change_feed")),
    EnvVar(("MCPGW_CHANGE_POLL_INTERVAL",), ("cluster", "change_poll_interval")),
    EnvVar(("MCPGW_INSTALL_LEASE_TTL",), ("cluster", "install_lease_ttl")),
    EnvVar(("MCPGW_DRAIN_TIMEOUT",), ("cluster", "drain_timeout")),
)
