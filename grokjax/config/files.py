"""Config files: finding `configs/*.py`, running one (or a sweep file) as a module, loading its
locked config with overrides.

``configs/polynomials.py:x2_y2`` passes ``'x2_y2'`` as the `arg` of its `get_config` (big_vision's
convention). The config is locked: an override of a key that does not exist is an error, never
a silently new field.
"""

from __future__ import annotations

import importlib.util
import pathlib

import ml_collections

from grokjax.config.overrides import apply_overrides
from grokjax.errors import GrokjaxError

CONFIG_DIR = pathlib.Path(__file__).resolve().parent.parent.parent / "configs"


def resolve_path(spec: str) -> tuple[pathlib.Path, str | None]:
    """'configs/polynomials.py:x2_y2' -> (path, 'x2_y2'); a bare 'add' finds configs/add.py,
    and 'configs/add.py' works from any directory."""
    path, _, arg = spec.partition(":")
    name = pathlib.Path(path).name
    candidates = [pathlib.Path(path), CONFIG_DIR / path, CONFIG_DIR / f"{path}.py",
                  CONFIG_DIR / name]
    for cand in candidates:
        if cand.is_file():
            return cand, (arg or None)
    known = sorted(p.stem for p in CONFIG_DIR.glob("*.py")) if CONFIG_DIR.is_dir() else []
    raise GrokjaxError(
        f"config file {path!r} not found; give a path such as configs/add.py or one of: "
        + ", ".join(known))


def exec_file(path: pathlib.Path):
    """A Python file (a config or a sweep) run as a module of its own."""
    module_spec = importlib.util.spec_from_file_location(f"grokjax_file_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def load_config(spec: str, overrides: list[str] = ()) -> ml_collections.ConfigDict:
    """The locked config of a config file (with its ':ARG'), with 'dotted.key=value' overrides."""
    path, arg = resolve_path(spec)
    module = exec_file(path)
    if not hasattr(module, "get_config"):
        raise GrokjaxError(f"config file {path} defines no get_config()")
    try:
        cfg = module.get_config(arg) if arg is not None else module.get_config()
    except (KeyError, ValueError, TypeError) as e:
        raise GrokjaxError(f"config {spec!r}: {e}") from None
    cfg.lock()
    apply_overrides(cfg, list(overrides))
    return cfg




def spec_name(spec: str) -> str:
    """The name a run or sweep directory takes from its file spec:
    'configs/polynomials.py:x2_y2' -> 'polynomials-x2_y2', 'experiments/sweep_transfer.py' ->
    'transfer'."""
    path, _, arg = spec.partition(":")
    return pathlib.Path(path).stem.removeprefix("sweep_") + (f"-{arg}" if arg else "")
