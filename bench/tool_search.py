"""Tool search (``gateway__search_tools``) at 10,000 tools: recall and latency.

The catalogue: every tool of the real servers captured in bench/data/real_tools.json (names
``<server>__<tool>`` as ``/mcp`` shows them), padded to ``--tools`` with synthetic tools of
plausible SaaS servers (Jira, Stripe, Notion, Kubernetes, ...: verbs x resources, with
descriptions and parameters in the style of real ones, deterministic). The padding is made of
distractors: many synthetic tools do what a real one does on another product (``jira`` issues,
``dropbox`` files, ``discord`` messages), so a query has to find the right product too.

Queries (bench/data/tool_search_queries.json) are requests written by hand, each with the real
tool(s) that serve it. Reports recall@1/@5/@10 (a hit: any expected tool in the top k), the
index build time (one segment per server, as the gateway builds it), and the ranking latency
per query (p50/p99 over ``--repeat`` passes). ``--e2e`` then measures searches through the MCP
handlers of a real gateway (bench/tool_search_e2e.py).

Run: .venv/bin/python bench/tool_search.py --tools 10000 --repeat 50 [--e2e]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import anyio
import tool_search_e2e

from mcp_gateway.domain import tool_names
from mcp_gateway.domain.tool_search import IndexSegment, SearchDoc, ToolIndex
from mcp_gateway.services.catalogue_view import search_doc

DATA = Path(__file__).resolve().parent / "data"

SERVICES = {
    "jira": ("issue", "project", "sprint", "comment", "board", "epic", "user", "attachment"),
    "linear": ("issue", "team", "cycle", "project", "label", "comment"),
    "gitea": ("repository", "issue", "pull_request", "branch", "release", "webhook"),
    "bitbucket": ("repository", "pull_request", "pipeline", "branch", "commit", "comment"),
    "confluence": ("page", "space", "comment", "attachment", "label", "template"),
    "notion": ("page", "database", "block", "comment", "user", "property"),
    "gdocs": ("document", "paragraph", "comment", "suggestion", "revision", "template"),
    "dropbox": ("file", "folder", "shared_link", "revision", "file_request", "paper_doc"),
    "onedrive": ("file", "folder", "permission", "thumbnail", "drive", "version"),
    "s3": ("bucket", "object", "lifecycle_rule", "bucket_policy", "multipart_upload", "tag"),
    "gcs": ("bucket", "object", "notification", "hmac_key", "acl", "retention_policy"),
    "discord": ("message", "channel", "guild", "role", "member", "reaction", "thread"),
    "teams": ("message", "channel", "team", "meeting", "chat", "member"),
    "telegram": ("message", "chat", "sticker", "poll", "bot_command", "invite_link"),
    "twilio": ("sms", "call", "phone_number", "recording", "conversation", "verification"),
    "sendgrid": ("email", "template", "contact", "list", "campaign", "bounce"),
    "gmail": ("email", "draft", "label", "thread", "filter", "attachment"),
    "outlook": ("email", "calendar_event", "contact", "folder", "rule", "attachment"),
    "gcal": ("event", "calendar", "attendee", "reminder", "free_busy", "acl_rule"),
    "zoom": ("meeting", "webinar", "recording", "participant", "registrant", "user"),
    "stripe": (
        "customer",
        "invoice",
        "payment_intent",
        "subscription",
        "refund",
        "product",
        "price",
        "charge",
        "coupon",
        "payout",
    ),
    "paypal": ("order", "payment", "payout", "dispute", "invoice", "subscription"),
    "shopify": (
        "product",
        "order",
        "customer",
        "inventory_item",
        "collection",
        "discount",
        "fulfillment",
        "variant",
    ),
    "woocommerce": ("product", "order", "coupon", "customer", "shipping_zone", "tax_rate"),
    "salesforce": ("account", "contact", "lead", "opportunity", "case", "campaign", "task"),
    "hubspot": ("contact", "company", "deal", "ticket", "email_campaign", "owner", "note"),
    "zendesk": ("ticket", "user", "organization", "macro", "view", "satisfaction_rating"),
    "intercom": ("conversation", "contact", "company", "article", "tag", "segment"),
    "k8s": (
        "pod",
        "deployment",
        "service",
        "namespace",
        "config_map",
        "secret",
        "node",
        "ingress",
        "job",
        "cron_job",
    ),
    "docker": ("container", "image", "volume", "network", "compose_project", "registry"),
    "aws_ec2": ("instance", "security_group", "key_pair", "snapshot", "volume", "elastic_ip"),
    "aws_lambda": ("function", "alias", "layer", "event_source_mapping", "invocation"),
    "gcp_compute": ("instance", "disk", "firewall_rule", "network", "snapshot", "image"),
    "azure_vm": ("virtual_machine", "disk", "network_interface", "availability_set"),
    "terraform": ("workspace", "run", "state_version", "variable", "plan", "module"),
    "datadog": ("monitor", "dashboard", "metric", "log", "incident", "slo", "event"),
    "pagerduty": ("incident", "service", "schedule", "escalation_policy", "on_call", "alert"),
    "sentry": ("issue", "event", "project", "release", "alert_rule", "team"),
    "grafana": ("dashboard", "datasource", "alert", "folder", "annotation", "panel"),
    "prometheus": ("query", "target", "rule", "alert", "series", "label"),
    "mysql": ("table", "row", "index", "query", "schema", "user"),
    "mongodb": ("collection", "document", "index", "aggregation", "database", "user"),
    "snowflake": ("warehouse", "table", "query", "stage", "pipe", "role"),
    "bigquery": ("dataset", "table", "job", "query", "routine", "view"),
    "elastic": ("index", "document", "alias", "mapping", "snapshot", "pipeline"),
    "airtable": ("base", "table", "record", "field", "view", "comment"),
    "sheets": ("spreadsheet", "sheet", "cell_range", "chart", "named_range", "filter_view"),
    "figma": ("file", "component", "comment", "frame", "style", "project"),
    "canva": ("design", "template", "asset", "folder", "brand_kit", "export"),
    "youtube": ("video", "playlist", "channel", "comment", "caption", "subscription"),
    "spotify": ("track", "playlist", "album", "artist", "queue", "device"),
    "twitter": ("tweet", "user", "list", "direct_message", "bookmark", "follower"),
    "reddit": ("post", "comment", "subreddit", "message", "vote", "flair"),
    "weather": ("forecast", "current_conditions", "alert", "air_quality", "historical_data"),
    "openweather": ("forecast", "uv_index", "weather_map", "geocoding_result"),
    "translate": ("text", "document", "glossary", "language", "detection"),
    "wolfram": ("query", "plot", "unit_conversion", "formula", "step_by_step_solution"),
    "arxiv": ("paper", "author", "category", "citation", "abstract"),
    "pubmed": ("article", "author", "mesh_term", "citation", "journal"),
    "wikipedia": ("article", "summary", "section", "revision", "category"),
    "hackernews": ("story", "comment", "user", "job_posting", "poll"),
    "todoist": ("task", "project", "section", "label", "comment", "filter"),
    "trello": ("board", "card", "list", "checklist", "label", "member"),
    "asana": ("task", "project", "section", "tag", "portfolio", "goal"),
    "clickup": ("task", "list", "folder", "space", "goal", "time_entry"),
    "obsidian": ("note", "vault", "tag", "backlink", "template", "daily_note"),
    "evernote": ("note", "notebook", "tag", "reminder", "attachment"),
    "quickbooks": ("invoice", "bill", "customer", "vendor", "account", "payment", "estimate"),
    "xero": ("invoice", "contact", "bank_transaction", "payroll_run", "account", "quote"),
    "bamboohr": ("employee", "time_off_request", "report", "job_opening", "benefit"),
    "greenhouse": ("candidate", "application", "job", "interview", "scorecard", "offer"),
    "okta": ("user", "group", "application", "policy", "factor", "session"),
    "auth0": ("user", "role", "connection", "client", "rule", "log"),
    "vault": ("secret", "policy", "token", "lease", "auth_method", "audit_device"),
    "cloudflare": ("dns_record", "zone", "firewall_rule", "worker", "page_rule", "certificate"),
    "vercel": ("deployment", "project", "domain", "environment_variable", "log", "alias"),
    "netlify": ("site", "deploy", "form", "function", "build_hook", "dns_zone"),
    "heroku": ("app", "dyno", "addon", "release", "config_var", "pipeline"),
    "npm_registry": ("package", "version", "maintainer", "dist_tag", "download_count"),
    "pypi_registry": ("package", "release", "file", "maintainer", "classifier"),
    "jenkins": ("job", "build", "node", "plugin", "pipeline", "artifact"),
    "circleci": ("pipeline", "workflow", "job", "artifact", "context", "environment_variable"),
    "redis_cloud": ("key", "stream", "hash", "list", "subscription", "database"),
    "kafka": ("topic", "consumer_group", "partition", "message", "schema", "connector"),
    "rabbitmq": ("queue", "exchange", "binding", "message", "vhost", "policy"),
    "mailchimp": ("audience", "campaign", "member", "template", "segment", "automation"),
    "typeform": ("form", "response", "webhook", "theme", "workspace", "image"),
    "calendly": ("event_type", "scheduled_event", "invitee", "availability", "webhook"),
    "docusign": ("envelope", "template", "recipient", "document", "signature"),
    "box": ("file", "folder", "collaboration", "comment", "metadata", "web_link"),
    "miro": ("board", "sticky_note", "shape", "connector", "frame", "tag"),
    "home_assistant": ("light", "switch", "sensor", "automation", "scene", "thermostat"),
    "philips_hue": ("light", "room", "scene", "schedule", "sensor"),
    "tesla": ("vehicle", "charge_state", "climate", "location", "trip"),
    "openai": ("completion", "embedding", "image", "file", "fine_tune_job", "assistant"),
    "huggingface": ("model", "dataset", "space", "inference", "collection"),
    "pinecone": ("index", "vector", "namespace", "collection", "query"),
    "qdrant": ("collection", "point", "snapshot", "payload_index", "alias"),
    "lighthouse": ("audit", "report", "performance_score", "accessibility_issue"),
    "playwright": ("page", "element", "screenshot", "cookie", "network_request", "pdf"),
    "selenium": ("session", "element", "window", "cookie", "alert", "screenshot"),
    "ssh": ("command", "session", "file_transfer", "tunnel", "host_key"),
    "ftp": ("file", "directory", "transfer", "permission", "connection"),
    "sqlite_tools": ("table", "row", "query", "index", "schema", "backup"),
}

VERBS = {
    "list": ("List {res}s in {svc}", ("limit", "cursor", "filter")),
    "get": ("Get a {res} from {svc} by its id", ("{res}_id",)),
    "create": ("Create a new {res} in {svc}", ("name", "description", "properties")),
    "update": ("Update fields of an existing {svc} {res}", ("{res}_id", "fields")),
    "delete": ("Delete a {res} from {svc} permanently", ("{res}_id", "confirm")),
    "search": ("Search {svc} {res}s matching a query", ("query", "limit", "sort")),
    "archive": ("Archive a {svc} {res} so it no longer shows in lists", ("{res}_id",)),
    "export": ("Export {svc} {res}s as CSV or JSON", ("format", "since", "until")),
    "count": ("Count {res}s in {svc} matching a filter", ("filter",)),
    "duplicate": ("Duplicate a {svc} {res} with all its settings", ("{res}_id", "new_name")),
    "restore": ("Restore a deleted or archived {svc} {res}", ("{res}_id",)),
    "watch": ("Subscribe to changes of a {svc} {res} via webhook", ("{res}_id", "callback_url")),
    "share": ("Share a {svc} {res} with other people", ("{res}_id", "emails", "role")),
    "move": ("Move a {svc} {res} to another parent or owner", ("{res}_id", "destination")),
    "history": ("Show the change history of a {svc} {res}", ("{res}_id", "limit")),
    "import": ("Import {res}s into {svc} from a file or URL", ("source", "mapping")),
    "tag": ("Add or remove tags on a {svc} {res}", ("{res}_id", "add", "remove")),
}
EXTRAS = (
    "Returns the result as JSON.",
    "Requires the {svc} API token of the user.",
    "Paginated: pass the cursor from the previous page.",
    "Fields not given are left unchanged.",
    "Use this when the user refers to a {res} by name; ids are resolved automatically.",
    "Rate limited by {svc} to a few requests per second.",
    "",
)


def synthetic(count: int, seed: int = 12) -> list[dict[str, Any]]:
    """``count`` plausible tools of made-up servers, deterministic for a seed."""
    rng = random.Random(seed)
    pool: list[dict[str, Any]] = []
    for svc, resources in SERVICES.items():
        label = svc.replace("_", " ").title()
        for res in resources:
            words = res.replace("_", " ")
            for verb, (text, params) in VERBS.items():
                extra = rng.choice(EXTRAS).format(svc=label, res=words)
                properties = {
                    p.format(res=res): {
                        "type": "string",
                        "description": f"{p.format(res=words).replace('_', ' ')} of the {words}",
                    }
                    for p in params
                }
                pool.append(
                    {
                        "name": tool_names.namespaced(svc, f"{verb}_{res}"),
                        "description": f"{text.format(svc=label, res=words)}. {extra}".strip(),
                        "inputSchema": {"type": "object", "properties": properties},
                    }
                )
    rng.shuffle(pool)
    if len(pool) < count:
        raise SystemExit(f"the generator makes {len(pool)} tools at most")
    return pool[:count]


def real_catalogue() -> list[dict[str, Any]]:
    data = json.loads((DATA / "real_tools.json").read_text())
    return [
        {**tool, "name": tool_names.namespaced(server["server"], tool["name"])}
        for server in data["servers"]
        for tool in server["tools"]
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tools", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=50, help="passes over the queries")
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument(
        "--e2e", action="store_true", help="through the MCP handlers (bench/tool_search_e2e.py)"
    )
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    real = real_catalogue()
    listed = real + synthetic(args.tools - len(real))
    queries = json.loads((DATA / "tool_search_queries.json").read_text())["queries"]
    names = {t["name"] for t in listed}
    for q in queries:
        missing = set(q["expect"]) - names
        assert not missing, f"expected tools not in the catalogue: {missing}"

    # As the gateway indexes a catalogue: one segment per server, searched as one.
    servers: dict[str, list[SearchDoc]] = {}
    for tool in listed:
        part = tool_names.split(tool["name"])
        assert part is not None
        servers.setdefault(part[0], []).append(search_doc(tool, *part))
    started = time.perf_counter()
    index = ToolIndex([IndexSegment.build(docs) for docs in servers.values()])
    build_ms = (time.perf_counter() - started) * 1000
    largest = max(servers.values(), key=len)
    started = time.perf_counter()
    IndexSegment.build(largest)
    segment_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    ToolIndex(index.segments)
    merge_ms = (time.perf_counter() - started) * 1000
    whole = ToolIndex.build([d for docs in servers.values() for d in docs])
    whole_recall = sum(
        bool({h.name for h in whole.search(q["query"], 5)} & set(q["expect"])) for q in queries
    )

    found = {1: 0, 5: 0, 10: 0}
    misses = []
    for q in queries:
        ranked = [hit.name for hit in index.search(q["query"], 10)]
        for k in found:
            if set(ranked[:k]) & set(q["expect"]):
                found[k] += 1
        if not set(ranked[:5]) & set(q["expect"]):
            misses.append((q["query"], q["expect"], ranked[:5]))
    latencies: list[float] = []
    cpu: list[float] = []  # this thread's CPU time: what a loaded machine's preemption hides
    for _ in range(args.repeat):
        for q in queries:
            started, cpu_started = time.perf_counter(), time.thread_time()
            index.search(q["query"], 10)
            cpu.append((time.thread_time() - cpu_started) * 1000)
            latencies.append((time.perf_counter() - started) * 1000)

    total = len(queries)
    print(f"catalogue: {len(listed)} tools ({len(real)} real from bench/data/real_tools.json)")
    print(
        f"index build: {build_ms:.0f} ms for {len(servers)} server segments; one segment "
        f"({len(largest)} tools) {segment_ms:.1f} ms; an index over built segments "
        f"{merge_ms:.2f} ms"
    )
    print(
        f"queries: {total}; recall@1 {found[1] / total:.1%}, recall@5 {found[5] / total:.1%}, "
        f"recall@10 {found[10] / total:.1%}"
    )
    print(
        f"ranking latency over {len(latencies)} searches (limit 10): "
        f"p50 {percentile(latencies, 0.5):.3f} ms, p99 {percentile(latencies, 0.99):.3f} ms, "
        f"max {max(latencies):.3f} ms"
    )
    print(
        f"ranking CPU time per search: p50 {percentile(cpu, 0.5):.3f} ms, "
        f"p99 {percentile(cpu, 0.99):.3f} ms, max {max(cpu):.3f} ms"
    )
    if args.show_misses:
        for query, expect, ranked in misses:
            print(f"MISS@5 {query!r}: expected {expect}, got {ranked}")
    print(f"recall@5 of one index over the whole catalogue: {whole_recall / total:.1%}")
    if args.e2e:
        anyio.run(tool_search_e2e.run, listed, queries, args.repeat)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
