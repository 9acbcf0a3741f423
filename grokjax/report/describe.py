"""`grokjax inspect RUN`: what a run directory holds, as text (named `describe`, not `inspect`,
so that it never shadows the standard library's module).

The saved checkpoint steps, the seeds, the config that matters, and each seed's final metrics
with its memorisation and grok steps (from summary.json, or from the latest checkpoint's
history while a run is unfinished), then each seed's phases (summary.phases: where
memorisation, circuit formation and cleanup end) and key frequencies (the final probe's, from
the summary, else from the latest `grokjax probe` report in RUN/probes). Reads only; never
changes the run and computes nothing heavy.
"""

from __future__ import annotations

import pathlib

from grokjax.grid import value_text
from grokjax.report import runs
from grokjax.report.tables import seed_table
from grokjax.saved import open_run
from grokjax.store import rundir
from grokjax.store.files import RunFiles
from grokjax.summary import n_members


def describe(run: str | pathlib.Path) -> str:
    """The text `grokjax inspect RUN` prints."""
    saved = open_run(run)
    cfg, info, steps, run = saved.config, saved.info, saved.steps, saved.dir
    m = cfg["model"]
    lines = [
        f"run          {run}",
        f"task         {cfg['task']}   p={cfg['p']}   r={cfg['train_fraction']}   "
        f"split={cfg['split']['mode']}",
        f"model        {m['arch']} ({m['variant']}), "
        + (f"{m['num_layers']} layer(s), d_model {m['d_model']}, {m['num_heads']}x"
           f"{m['d_head']} heads, d_mlp {m['d_mlp']}" if m["arch"] == "transformer" else
           f"{m['num_layers'] + 1} hidden layers of {m['d_model']}"
           + (f", d_emb {m['d_emb']}" if m["variant"] == "furuta" else "")),
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
    if saved.files.summary.exists():
        summary = saved.summary
        title = f"finished at step {summary['steps']}"
    elif steps and info:
        history = saved.checkpoint_history(steps[-1])
        if len(history["step"]):
            summary = saved.summarize(history)
        title = (f"unfinished, at step {steps[-1]} (its latest checkpoint; `grokjax train` on it "
                 "again resumes it)")
    if title:
        n = n_members(summary) if summary else 0
        lines += ["", title + (f": grokked {summary['grokked']}/{n}, memorised "
                               f"{summary['memorised']}/{n}" if summary else "")]
    if summary:
        lines += seed_table(summary)
        lines += [""] + phase_table(summary, _probe_report_keys(run), run)
    if saved.has_history:
        history = saved.history
        lines.append("")
        lines.append(f"history      {len(history['step'])} log points, steps "
                     f"{int(history['step'][0])}..{int(history['step'][-1])}; keys: "
                     + ", ".join(k for k in sorted(history) if not k.startswith("norm/"))
                     + f", norm/* ({sum(k.startswith('norm/') for k in history)})")
    return "\n".join(lines)


def _probe_report_keys(run: pathlib.Path) -> tuple[int, dict[int, list[int]]] | None:
    """(step, {member index: key frequencies}) of the latest probe report in RUN/probes, if
    there is one that has them."""
    found = runs.latest_probe_report(RunFiles(run).probes)
    if found is None:
        return None
    rep = rundir.read_json(found[1], default={})
    keys = {i: e["key_freqs"] for i, e in enumerate(rep.get("seeds", [])) if "key_freqs" in e}
    return (found[0], keys) if keys else None


def phase_table(summary: dict, probe_keys: tuple[int, dict] | None = None,
                run: str | pathlib.Path = "RUN") -> list[str]:
    """Per seed: the steps where its phases end ('-': not reached) and its key frequencies
    (the final probe's in the summary; else those of a probe report, `probe_keys`; else a
    hint to run `grokjax probe`)."""
    axes = list(summary.get("grid", {}).get("axes", {}))
    entries = summary["seeds"]
    from_summary = [e.get("probes", {}).get("key_freqs") for e in entries]
    source = "final probe"
    if all(k is None for k in from_summary) and probe_keys:
        source = f"probe report, step {probe_keys[0]}"
        from_summary = [probe_keys[1].get(i) for i in range(len(entries))]
    has_keys = any(k is not None for k in from_summary)
    lines = ["phases: the step each ends ('-': not reached; circuit formed / cleaned up: the "
             "test loss 10% / 90% of the way down in log)",
             "".join(f"{a:>15}" for a in axes) + f"{'seed':>6}"
             + "".join(f"  {label}" for label, _ in runs.PHASES)
             + (f"  key frequencies ({source})" if has_keys else "")]
    for e, keys in zip(entries, from_summary):
        cells = runs.phase_cells(e.get("phases"))
        lines.append("".join(f"{value_text(e['hparams'][a]):>15}" for a in axes)
                     + f"{e['seed']:>6}" + "".join(f"  {c:>{len(label)}}" for c, (label, _)
                                                   in zip(cells, runs.PHASES))
                     + (f"  {runs.freqs_text(keys)}" if has_keys else ""))
    if not has_keys and all("probes" in e for e in entries):
        lines.append("key frequencies: none (the probes ran without Nanda's (a, b) table "
                     "measures: they need one two-variable task on every (a, b), or a task "
                     "grid of tasks with one Fourier direction and basis)")
    elif not has_keys:
        lines.append(f"key frequencies: not recorded in this run's summary; run `grokjax probe "
                     f"{run}` (a transformer with p >= 5 and one two-variable task on every "
                     "(a, b))")
    return lines

