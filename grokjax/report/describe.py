"""`grokjax inspect RUN`: what a run directory holds, as text (named `describe`, not `inspect`,
so that it never shadows the standard library's module).

The saved checkpoint steps, the seeds, the config that matters, and each seed's final metrics
with its memorisation and grok steps (from summary.json, or from the latest checkpoint's
history while a run is unfinished). Reads only; never changes the run.
"""

from __future__ import annotations

import pathlib

from grokjax import config as config_lib
from grokjax import grid as grid_lib
from grokjax import run as run_lib
from grokjax.store import rundir
from grokjax.store.checkpoint import Checkpoints
from grokjax.summary import n_members, seed_table, summarize


def describe(run: str | pathlib.Path) -> str:
    """The text `grokjax inspect RUN` prints."""
    cfg = rundir.read_config(run)
    run = pathlib.Path(run)
    info = (rundir.read_json_dict(run / "run.json", ("seeds", "split_seeds", "tasks"))
            if (run / "run.json").exists() else {})
    steps = Checkpoints(run, read_only=True).steps() if (run / "checkpoints").is_dir() else []
    m = cfg["model"]
    lines = [
        f"run          {run}",
        f"task         {cfg['task']}   p={cfg['p']}   r={cfg['train_fraction']}   "
        f"split={cfg['split']['mode']}",
        f"model        {m['arch']} ({m['variant']}), {m['num_layers']} layer(s), d_model "
        f"{m['d_model']}, {m['num_heads']}x{m['d_head']} heads, d_mlp {m['d_mlp']}",
        f"optimiser    AdamW lr {cfg['optim']['lr']} wd {cfg['optim']['weight_decay']}; "
        f"{cfg['train']['steps']} steps",
        f"seeds        {info.get('seeds', '?')}",
        f"checkpoints  {', '.join(map(str, steps)) if steps else 'none'}",
    ]
    if "grid" in info:
        axes = info["grid"]["axes"]
        lines.append(f"grid         {' x '.join(f'{a} {tuple(v)}' for a, v in axes.items())}: "
                     f"{len(info['grid']['members'])} members (their values replace those above)")
    if cfg.get("transfer", {}).get("from_run"):
        t = cfg["transfer"]
        lines.append(f"transfer     from {t['from_run']}: load {t['load'] or '-'}, freeze "
                     f"{t['freeze'] or '-'}")
    summary, title = None, ""
    if (run / "summary.json").exists():
        summary = run_lib.read_summary(run)
        title = f"finished at step {summary['steps']}"
    elif steps and info:
        history = Checkpoints(run, read_only=True).read_history(steps[-1])
        if len(history["step"]):
            resolved = config_lib.from_saved(cfg)
            members = grid_lib.members(resolved, config_lib.seeds(resolved))
            summary = summarize(resolved, info["seeds"], info["split_seeds"],
                                [t["name"] for t in info["tasks"]], history, members)
        title = (f"unfinished, at step {steps[-1]} (its latest checkpoint; `grokjax train` on it "
                 "again resumes it)")
    if title:
        n = n_members(summary) if summary else 0
        lines += ["", title + (f": grokked {summary['grokked']}/{n}, memorised "
                               f"{summary['memorised']}/{n}" if summary else "")]
    if summary:
        lines += seed_table(summary)
    if (run / "history.npz").exists():
        history = rundir.read_npz(run / "history.npz")
        lines.append(f"history      {len(history['step'])} log points, steps "
                     f"{int(history['step'][0])}..{int(history['step'][-1])}; keys: "
                     + ", ".join(k for k in sorted(history) if not k.startswith("norm/"))
                     + f", norm/* ({sum(k.startswith('norm/') for k in history)})")
    return "\n".join(lines)
