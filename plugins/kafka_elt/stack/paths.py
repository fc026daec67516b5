"""Where each part of the local stack keeps its files, all under STACK_DIR."""

from __future__ import annotations

from pathlib import Path

from kafka_elt.stack.config import StackConfig


def state(cfg: StackConfig, *parts: str) -> Path:
    return cfg.state_dir.joinpath(*parts)


def log_file(cfg: StackConfig, name: str) -> Path:
    return state(cfg, "logs", f"{name}.log")


def pid_file(cfg: StackConfig, name: str) -> Path:
    return state(cfg, "run", f"{name}.pid")
