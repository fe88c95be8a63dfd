"""Read a project and make its blueprint: pyproject.toml, the lock its `lock` names and the
base-image pins (<output-dir>/bases.lock.json). Local files only: nothing here reaches the
network."""

from __future__ import annotations

from pathlib import Path

from buildkit_slim import bases, blueprint, config, locks


def load(root: Path, cfg: config.Config | None = None,
         pins: bases.BasePins | None = None) -> tuple[config.Config, blueprint.Blueprint]:
    """`cfg`: the configuration, read already; `pins`: these instead of the file's."""
    cfg = cfg or config.load(root)
    paths = sorted({t.lock for t in cfg.targets if t.lock is not None and t.dockerfile is None})
    read = {path: locks.load(root, path) for path in paths}
    return cfg, blueprint.make_blueprint(
        cfg, {p: lock for p, lock in read.items() if lock is not None},
        pins or bases.read_pins(root, cfg.output_dir))
