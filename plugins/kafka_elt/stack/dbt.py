"""Keep dbt's manifest current, so the dbt_marts DAG renders its model tasks from it
without running dbt at parse time (``kafka_elt.transform.manifest``: DAG parsing stays
well under a second)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.process import StackError

_SOURCES = ("models", "macros", "tests", "seeds", "snapshots", "analyses")


def manifest_path(cfg: StackConfig) -> Path:
    return cfg.root / "dbt" / "target" / "manifest.json"


def _newest_source(project: Path) -> float:
    files = [project / "dbt_project.yml", project / "profiles.yml"]
    for folder in _SOURCES:
        files += [p for p in (project / folder).rglob("*") if p.is_file()]
    return max((p.stat().st_mtime for p in files if p.exists()), default=0.0)


def ensure_manifest(cfg: StackConfig) -> Path:
    project = cfg.root / "dbt"
    manifest = manifest_path(cfg)
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source(project):
        return manifest
    env = cfg.environment()
    print("dbt: parsing the project into target/manifest.json (the dbt_marts DAG reads it) ...", flush=True)
    result = subprocess.run(
        [env["DBT_EXECUTABLE"], "parse", "--project-dir", str(project), "--profiles-dir", str(project)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(
            f"`dbt parse` failed; fix the dbt project first:\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
        )
    return manifest
