"""Overrides: 'dotted.key=value' strings applied to a locked config, each value parsed as the
type of the field it replaces, and the override strings the command-line flags stand for
(`--seeds`, `--seed-list`, `--grid`), written in one place for `grokjax train` and sweeps.
"""

from __future__ import annotations

import ast
import difflib
from typing import Any, Sequence

import ml_collections

from grokjax.config.defaults import flatten
from grokjax.errors import GrokjaxError


def _parse_value(key: str, text: str, current: Any) -> Any:
    kind = type(current)
    try:
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            value = float(text) if any(c in text for c in ".eE") else int(text)
            if value != int(value):
                raise ValueError
            return int(value)
        if kind is float:
            return float(text)
        if kind is tuple:
            value = ast.literal_eval(text) if text.strip() else ()
            return tuple(value) if isinstance(value, (tuple, list)) else (value,)
        return text
    except (ValueError, SyntaxError):
        raise GrokjaxError(
            f"config key {key} expects {kind.__name__}, got {text!r}") from None


def apply_overrides(cfg: ml_collections.ConfigDict, overrides: list[str]) -> None:
    """Applies 'dotted.key=value' strings in place; unknown keys and bad values are errors."""
    known = flatten(cfg)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise GrokjaxError(f"override {item!r} is not key=value (e.g. --set model.d_model=64)")
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "see `grokjax config`"
            raise GrokjaxError(f"unknown config key {key!r}: {hint}")
        value = _parse_value(key, text.strip(), known[key])
        node = cfg
        *parents, leaf = key.split(".")
        for part in parents:
            node = node[part]
        with cfg.unlocked():
            node[leaf] = value
        known[key] = value


def seed_overrides(seeds: int | Sequence[int] | str | None) -> list[str]:
    """The overrides of a seed count (seeds 0..N-1), or of a list of seeds (a sequence, or the
    text 'a,b,c' of `--seed-list`); none for None."""
    if seeds is None:
        return []
    if isinstance(seeds, int):
        return [f"seeds={seeds}", "seed_list=()"]
    text = seeds if isinstance(seeds, str) else ",".join(str(int(s)) for s in seeds)
    return [f"seed_list=({text},)"]


def grid_override(axis: str, values: Sequence[Any] | str) -> str:
    """The override of one grid axis: its values as a sequence, or as the text 'V1,V2,...'
    (task names and polynomials are quoted, numbers written as they are)."""
    items = values.split(",") if isinstance(values, str) else list(values)
    return f"grid.{axis}=({','.join(_literal(v) for v in items)},)"


def _literal(value: Any) -> str:
    text = str(value).strip()
    try:
        float(text)
        return text
    except ValueError:
        return repr(text)
