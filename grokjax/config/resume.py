"""The resume policy: a run's saved config.json read back as a config, and which differences
from it a resumed run may have.

Keys added to grokjax after a run was written take their defaults, so older runs can still be
resumed, inspected and transferred from; a difference in any other key than the few that only
change how long a run goes or what it keeps (`RESUMABLE_KEYS`) would compute something else.
"""

from __future__ import annotations

import ml_collections

from grokjax.config.defaults import base_config, flatten
from grokjax.errors import GrokjaxError


def from_saved(saved: dict) -> ml_collections.ConfigDict:
    """A run's config.json as a locked config; keys added to grokjax since it was written take
    their defaults, so older runs can still be resumed, inspected and transferred from."""
    cfg = base_config()
    if not isinstance(saved, dict):
        raise GrokjaxError("a run's config.json is damaged: not an object (it should hold the "
                           "config the run was trained with)")

    def fill(node, values, prefix=""):
        for key, value in values.items():
            if key not in node:
                raise GrokjaxError(f"saved config has an unknown key {prefix}{key}")
            if isinstance(node[key], ml_collections.ConfigDict):
                if not isinstance(value, dict):
                    raise GrokjaxError(f"saved config key {prefix}{key} is not a section")
                fill(node[key], value, f"{prefix}{key}.")
            else:
                node[key] = tuple(value) if isinstance(node[key], tuple) else value

    fill(cfg, saved)
    cfg.lock()
    return cfg


# Keys that may differ between a run and its resumption: they change when or how long a run
# goes, or what it keeps on disk, never a number it computes.
RESUMABLE_KEYS = ("train.steps", "train.stop_when_grokked", "checkpoint.save_every",
                  "checkpoint.keep", "checkpoint.pin", "checkpoint.async_save",
                  "tensorboard.enabled", "tensorboard.seed_runs", "tensorboard.detail_seeds",
                  "tensorboard.images", "numerics.deterministic")


def result_changes(saved: dict, cfg: ml_collections.ConfigDict) -> list[str]:
    """'key: saved -> now' for every difference that would change the results. Keys the saved
    config lacks (added to grokjax after the run was written) are not differences."""
    now = flatten(cfg)
    old = flatten(from_saved(saved))
    written = flatten(ml_collections.ConfigDict(saved))
    out = []
    for key in sorted(k for k in now if k in written):
        a, b = old[key], now[key]
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            a, b = tuple(a), tuple(b)
        if a != b and key not in RESUMABLE_KEYS:
            out.append(f"{key}: {a!r} -> {b!r}")
    return out


