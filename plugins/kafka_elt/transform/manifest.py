"""The dbt project's models as the DAG draws them, from ``target/manifest.json``.

Read at DAG-parse time: a JSON file, no dbt. ``make up`` refreshes the manifest with
``dbt parse`` whenever a model changes (``kafka_elt.stack.dbt.ensure_manifest``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


class ManifestError(RuntimeError):
    """The manifest is missing or unreadable; the message says how to make it."""


@dataclass(frozen=True)
class Model:
    unique_id: str  # model.<project>.<name>
    name: str
    depends_on: tuple[str, ...]  # unique ids of the models it reads
    sources: tuple[str, ...]  # "<source>.<table>" it reads directly
    tests: tuple[str, ...]  # unique ids of its data and unit tests


def _attached_model(node: dict, models: dict[str, dict]) -> str | None:
    """The model a test belongs to: dbt's attached_node, else the last model it reads
    (a relationships test belongs to the child model, whose column it checks)."""
    attached = node.get("attached_node")
    if attached in models:
        return attached
    parents = [n for n in node.get("depends_on", {}).get("nodes", []) if n in models]
    return parents[-1] if parents else None


def load_models(path: Path) -> list[Model]:
    """Every model of the manifest with its dependencies and tests, in manifest order."""
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ManifestError(
            f"dbt manifest {path} not found: run `make up` (it runs `dbt parse`), or `dbt parse` "
            "in the dbt project with dbt's venv"
        ) from exc
    except json.JSONDecodeError as exc:
        raise ManifestError(f"dbt manifest {path} is not valid JSON ({exc}); run `dbt parse` again") from exc
    nodes = manifest.get("nodes", {})
    models = {uid: node for uid, node in nodes.items() if node.get("resource_type") == "model"}
    tests: dict[str, list[str]] = {uid: [] for uid in models}
    for uid, node in nodes.items():
        if node.get("resource_type") == "test" and (owner := _attached_model(node, models)):
            tests[owner].append(uid)
    by_name = {node["name"]: uid for uid, node in models.items()}
    for uid, unit in manifest.get("unit_tests", {}).items():
        owner = by_name.get(unit.get("model", ""))
        if owner:
            tests[owner].append(uid)
    result = []
    for uid, node in models.items():
        upstream = node.get("depends_on", {}).get("nodes", [])
        result.append(
            Model(
                unique_id=uid,
                name=node["name"],
                depends_on=tuple(n for n in upstream if n in models),
                sources=tuple(".".join(n.split(".")[-2:]) for n in upstream if n.startswith("source.")),
                tests=tuple(sorted(tests[uid])),
            )
        )
    return result
