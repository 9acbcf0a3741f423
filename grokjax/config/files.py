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


DEBUG = False  # `grokjax --debug`: a broken file raises with its traceback


def _where(path: pathlib.Path, e: BaseException) -> str:
    """'FILE, line N' of the innermost frame of `e` inside `path` (SyntaxError: its own)."""
    if isinstance(e, SyntaxError) and e.lineno:
        return f"{path}, line {e.lineno}"
    tb, line = e.__traceback__, None
    while tb is not None:
        if pathlib.Path(tb.tb_frame.f_code.co_filename).resolve() == path.resolve():
            line = tb.tb_lineno
        tb = tb.tb_next
    return f"{path}, line {line}" if line else str(path)


def _broken(path: pathlib.Path, e: BaseException, spec: str | None = None) -> GrokjaxError:
    """The one line for an error raised in a config or sweep file (`spec`: as given, with
    its ':ARG')."""
    message = e.msg if isinstance(e, SyntaxError) else str(e)
    what = f"config {spec!r} at " if spec else ""
    return GrokjaxError(f"{what}{_where(path, e)}: {type(e).__name__}: {message} (grokjax "
                        "--debug shows the traceback)")


def exec_file(path: pathlib.Path):
    """A Python file (a config or a sweep) run as a module of its own; an error in it is one
    line naming the file and the line (the traceback with `grokjax --debug`)."""
    module_spec = importlib.util.spec_from_file_location(f"grokjax_file_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001  (a syntax, import or any other error in the file)
        if DEBUG:
            raise
        raise _broken(path, e) from None
    return module


def load_config(spec: str, overrides: list[str] = ()) -> ml_collections.ConfigDict:
    """The locked config of a config file (with its ':ARG'), with 'dotted.key=value' overrides."""
    path, arg = resolve_path(spec)
    module = exec_file(path)
    if not hasattr(module, "get_config"):
        raise GrokjaxError(f"config file {path} defines no get_config()")
    try:
        cfg = module.get_config(arg) if arg is not None else module.get_config()
    except GrokjaxError:
        raise
    except Exception as e:  # noqa: BLE001  (a bad ARG, or any other error in get_config)
        if DEBUG:
            raise
        raise _broken(path, e, spec) from None
    if not isinstance(cfg, ml_collections.ConfigDict):
        raise GrokjaxError(f"{path}: get_config() returned a {type(cfg).__name__}, not a config; "
                           "return grokjax.config.base_config() with your changes")
    cfg.lock()
    apply_overrides(cfg, list(overrides))
    return cfg




def spec_name(spec: str) -> str:
    """The name a run or sweep directory takes from its file spec:
    'configs/polynomials.py:x2_y2' -> 'polynomials-x2_y2', 'experiments/sweep_transfer.py' ->
    'transfer'."""
    path, _, arg = spec.partition(":")
    return pathlib.Path(path).stem.removeprefix("sweep_") + (f"-{arg}" if arg else "")
