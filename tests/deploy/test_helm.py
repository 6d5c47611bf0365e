"""deploy/helm/mcp-gateway, linted and rendered by Helm itself (issue 14, "Deployment").

Helm here is PyPI's ``helm-python-sdk``: Helm's official Go SDK (v4) built as a C library and
bound with ctypes, so ``lint`` and ``render`` are ``helm lint`` and ``helm template`` (same
template engine, sprig functions, values coalescing), without a cluster. ``.ci/run`` installs
it; without it every test here skips. On the rendered objects the tests then check what a
cluster would only show at run time: every object against Kubernetes 1.30's strict JSON
schemas (vendored in schemas/: no unknown or mistyped field), the kinds and API versions, probe
paths and ports, selectors matching the pod labels, the PDB and HPA aimed at the Deployment,
every Secret reference resolving, the preStop drain fitting in the grace period, the replica
id from the pod name, every variable being a real setting, and no secret value in plain text.
Not checked: a real API server's admission (policies, quotas), images, a running gateway.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mcp_gateway.config import load_settings
from mcp_gateway.config.env_vars import ENV_VARS

helm = pytest.importorskip(
    "helm_python", reason="helm-python-sdk (Helm's Go SDK) is not installed; .ci/run installs it"
)

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "mcp-gateway"
# Kubernetes 1.30's strict schemas of the five kinds (schemas/README.md).
KUBERNETES = json.loads(
    (Path(__file__).parent / "schemas" / "kubernetes-1.30-strict.json").read_text()
)
URI = "mongodb://gateway:canary-mongo-password@mongo-0.mongo:27017/?replicaSet=rs0"
KEYRING = "k1:Y2FuYXJ5LWtleXJpbmctMzItYnl0ZXMtbG9uZy0xMjM="
REQUIRED = {"mongodb": {"uri": URI}, "secretsKeys": {"value": KEYRING}}
KINDS = {
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("v1", "Secret"),
}


def merged(*overrides: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for override in (REQUIRED, *overrides):
        for key, value in override.items():
            if isinstance(value, dict) and isinstance(values.get(key), dict):
                values[key] = {**values[key], **value}
            else:
                values[key] = value
    return values


def render_text(values: dict[str, Any]) -> dict[str, str]:
    with helm.Chart.load(str(CHART)) as chart:
        manifests: dict[str, str] = chart.render(
            values, name="prod", namespace="gw", is_install=True
        )
    return manifests


def render(*overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The rendered objects by kind (one of each here)."""
    objects: dict[str, dict[str, Any]] = {}
    for path, text in render_text(merged(*overrides)).items():
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                assert doc["kind"] not in objects, f"two {doc['kind']}s"
                objects[doc["kind"]] = doc
    return objects


def kubernetes_errors(obj: dict[str, Any]) -> list[str]:
    kind = KUBERNETES["kinds"][f"{obj['apiVersion']}/{obj['kind']}"]
    schema = {"$schema": jsonschema.Draft202012Validator.META_SCHEMA["$id"]}
    validator = jsonschema.Draft202012Validator({**schema, "$defs": KUBERNETES["$defs"], **kind})
    return [
        f"{obj['kind']} {'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(obj)
    ]


def container(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (only,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only


def env_of(objects: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(objects)["env"]}


def test_helm_lint_strict_finds_nothing_above_info() -> None:
    report = helm.lint(str(CHART), REQUIRED, strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] > 1] == []


def test_chart_renders_a_deployment_service_pdb_hpa_and_secret() -> None:
    objects = render()
    assert {(o["apiVersion"], o["kind"]) for o in objects.values()} == KINDS
    assert {o["metadata"]["name"] for o in objects.values()} == {"prod-mcp-gateway"}


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {
            "autoscaling": {"enabled": False},
            "adminApiKey": {"value": "canary-admin-key"},
            "env": {"MCPGW_LOG_FORMAT": "json"},
            "imagePullSecrets": [{"name": "registry"}],
            "nodeSelector": {"pool": "gateways"},
        },
    ],
)
def test_rendered_objects_match_the_kubernetes_schemas(overrides: dict[str, Any]) -> None:
    objects = render(overrides)
    assert [e for obj in objects.values() for e in kubernetes_errors(obj)] == []


def test_the_kubernetes_schema_check_rejects_a_misspelt_field() -> None:
    deployment = copy.deepcopy(render()["Deployment"])
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe["httpGet"]["paht"] = probe["httpGet"].pop("path")
    deployment["spec"]["replicas"] = "two"
    errors = kubernetes_errors(deployment)
    assert any("paht" in e for e in errors), errors
    assert any("spec/replicas" in e for e in errors), errors


def test_probes_ask_readyz_and_healthz_on_the_served_port() -> None:
    gateway = container(render())
    (port,) = gateway["ports"]
    assert env_of(render())["MCPGW_PORT"]["value"] == str(port["containerPort"])
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    service = render()["Service"]["spec"]
    assert service["sessionAffinity"] == "None"
    assert [p["targetPort"] for p in service["ports"]] == [port["name"]]


def test_service_pdb_and_hpa_aim_at_the_deployments_pods() -> None:
    objects = render()
    deployment = objects["Deployment"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    assert objects["Service"]["spec"]["selector"] == selector
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector
    assert objects["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert "replicas" not in deployment["spec"]  # the HPA owns the count
    assert "cpu" in container(objects)["resources"]["requests"]  # HPA's utilization base


def test_without_autoscaling_the_deployment_sets_the_replica_count() -> None:
    objects = render({"autoscaling": {"enabled": False}, "replicaCount": 3})
    assert "HorizontalPodAutoscaler" not in objects
    assert objects["Deployment"]["spec"]["replicas"] == 3
    assert env_of(objects)["MCPGW_RATE_LIMIT_REPLICAS"]["value"] == "3"


def _from_secret(env: dict[str, Any]) -> bool:
    return "secretKeyRef" in env.get("valueFrom", {})


def test_every_secret_reference_resolves_to_a_key_of_the_chart_secret() -> None:
    objects = render({"adminApiKey": {"value": "canary-admin-key"}})
    data = objects["Secret"]["data"]
    refs = [e["valueFrom"]["secretKeyRef"] for e in env_of(objects).values() if _from_secret(e)]
    assert {r["key"] for r in refs} == {"mongodb-uri", "secrets-keys", "admin-api-key"}
    for ref in refs:
        assert ref["name"] == objects["Secret"]["metadata"]["name"]
        assert ref["key"] in data
    assert base64.b64decode(data["secrets-keys"]).decode() == KEYRING


def test_existing_secrets_are_referenced_and_not_recreated() -> None:
    objects = render(
        {
            "mongodb": {"uri": "", "existingSecret": "mongo", "existingSecretKey": "uri"},
            "secretsKeys": {"value": "", "existingSecret": "keyring"},
        }
    )
    assert "Secret" not in objects
    env = env_of(objects)
    assert env["MCPGW_MONGODB_URI"]["valueFrom"]["secretKeyRef"] == {"name": "mongo", "key": "uri"}
    assert env["MCPGW_SECRETS_KEYS"]["valueFrom"]["secretKeyRef"] == {
        "name": "keyring",
        "key": "secrets-keys",
    }
    assert "MCPGW_ADMIN_API_KEY" not in env


@pytest.mark.parametrize("missing", ["mongodb", "secretsKeys"])
def test_render_fails_naming_a_missing_store_or_keyring(missing: str) -> None:
    values = merged({missing: {"value": "", "uri": ""}})
    with pytest.raises(helm.HelmError) as failure:
        render_text(values)
    assert f"set {missing}." in str(failure.value)


def test_no_secret_value_appears_in_plain_text() -> None:
    values = merged({"adminApiKey": {"value": "canary-admin-key"}})
    rendered = "\n".join(render_text(values).values())
    for canary in ("canary-mongo-password", KEYRING, "canary-admin-key"):
        assert canary not in rendered


@pytest.mark.parametrize("drain", [30, 120])
def test_pre_stop_and_drain_fit_in_the_grace_period(drain: int) -> None:
    objects = render({"drain": {"timeoutSeconds": drain}})
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    command = container(objects)["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    timeout = float(env_of(objects)["MCPGW_DRAIN_TIMEOUT"]["value"])
    assert timeout == drain
    assert pod["terminationGracePeriodSeconds"] > int(command[1]) + timeout


def test_replica_id_is_the_pod_name_and_every_variable_is_a_setting() -> None:
    objects = render({"env": {"MCPGW_LOG_FORMAT": "json"}})
    env = env_of(objects)
    assert env["MCPGW_REPLICA_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["MCPGW_LOG_FORMAT"]["value"] == "json"
    known = {name for var in ENV_VARS for name in var.names}
    assert set(env) - known == set()


def test_the_container_keeps_the_sandbox_capabilities_only() -> None:
    gateway = container(render())
    assert env_of(render())["MCPGW_SANDBOX"]["value"] == "required"
    context = gateway["securityContext"]
    assert context["capabilities"] == {"drop": ["ALL"], "add": ["SETUID", "SETGID", "KILL"]}
    assert context["allowPrivilegeEscalation"] is False


def test_the_pods_environment_loads_as_settings() -> None:
    """What the gateway in a pod reads: the Deployment's env, Secret references resolved from
    the chart's Secret and the pod name from the downward API."""
    objects = render({"adminApiKey": {"value": "canary-admin-key"}})
    data = objects["Secret"]["data"]
    pod_name = "prod-mcp-gateway-7d9f8b6c5-x2x9k"
    environ = {}
    for name, entry in env_of(objects).items():
        if "value" in entry:
            environ[name] = entry["value"]
        elif _from_secret(entry):
            key = entry["valueFrom"]["secretKeyRef"]["key"]
            environ[name] = base64.b64decode(data[key]).decode()
        else:
            assert entry["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
            environ[name] = pod_name
    settings = load_settings(environ)
    uri = settings.store.resolved_mongodb_uri()
    assert uri is not None and uri.get_secret_value() == URI
    assert settings.store.mongodb_db == "mcp_gateway"
    assert settings.replica_id == pod_name
    assert (settings.http.host, settings.http.port) == ("0.0.0.0", 8080)
    assert settings.cluster.drain_timeout == 30
    assert settings.rate_limit.replicas == 2


def test_the_volumes_get_the_images_owner_and_modes_before_the_gateway_starts() -> None:
    """emptyDirs start root-owned 0777: the data dir would be open to every uid in the pod."""
    objects = render()
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    script = init["command"][-1]
    assert "chown gateway:gateway /data /packages" in script
    assert "chmod 0700 /data" in script and "chmod 0755 /packages" in script
    mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    assert mounts == {m["name"]: m["mountPath"] for m in container(objects)["volumeMounts"]}
    assert {v["name"] for v in pod["volumes"]} == set(mounts)
