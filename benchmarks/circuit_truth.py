"""Circuit discovery against circuits known by construction: every method scored, per seed.

    python benchmarks/circuit_truth.py                  # ~30 minutes on the 2-core CPU
    python benchmarks/circuit_truth.py --small          # ~10 s; a test runs it
    python benchmarks/circuit_truth.py --trained RUN    # adds a grokked run (see below)

The models (grokjax.circuits.known) compute (a + b) mod 31 by the Fourier algorithm with
weights set by hand: family 'constructed' (variants clean, redundant, distractor, constant;
three seeds each, a seed drawing the key frequencies and the inactive weights) and 'gromov'
(Gromov's random-phase MLP). Their true circuits are known exactly, per granularity and
ablation. 'trained' (with --trained RUN, a grokked run of configs/circuits.py) is scored at
the frequency-group granularity only: the MLP split by the key frequencies the probes find
(`circuits.frequency_groups`), whose groups' outputs are the truth (key groups true, 'other'
and a frequency the seed does not use false), the rest of its graph unknown and unscored.

For every family, ablation and granularity, on the whole p x p table, each method ranks the
units and is scored per member (`grokjax.circuits.scoring`): ROC AUC and average precision
against the truth; MIB's faithfulness curve of its top-k circuits (k = 0..N, faithfulness by
the logit difference, MIB's task metric), its area CPR and distance from 1 CMD; and, where the
method yields a circuit of its own (ACDC at tau 0.01, the others at |score| >= 0.01 as
`grokjax circuits` keeps them), that circuit's precision and recall. 'random' ranks at random.

    edges     exact edge patching, KL               eap-kl   EAP, KL (its gradient is 0 at
    eap       EAP, logit difference                          the clean model: float noise)
    eap-ig    EAP-IG, logit difference, 10 steps    acdc     ACDC, KL, 19 taus 1e-4..10^0.5
    prune     edge pruning, KL, 200 steps, targets 0.5..0.95 (ranked by log_alpha at
              target 0.8; on the trained run 100 steps)

Ablations: resample (corruption 'shuffle', two draws stacked on the member axis, so that
the intervals cover seeds and data; one draw on the trained run), mean (over the table), zero,
'zero-vs-resample' (the zero ablation's scores against the resample truth: what scoring
against the wrong ground truth does) and 'b+1' (a corruption that keeps a, against the shuffle
truth: edges it cannot see). Medians over members and [min, max] are printed; the JSON has
every member's value.
Results go to benchmarks/results/circuit-truth-<backend>.json; benchmarks/README.md has the
table.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from grokjax import circuits  # noqa: E402
from grokjax.circuits import corrupt as corrupt_lib  # noqa: E402
from grokjax.circuits import known, methods, prune, scoring  # noqa: E402

TAUS = np.logspace(-4, 0.5, 19)
TARGETS = (0.5, 0.65, 0.8, 0.9, 0.95)
RANK_TARGET = 0.8
DRAWS, STEPS = 2, 200  # corruption draws (resample), edge pruning's steps
THRESHOLD = 0.01
METHODS = ("edges", "eap", "eap-kl", "eap-ig", "acdc", "prune", "random")
# what the methods run under: (ablation, input corruption, {row label: the truth scored against})
SETTINGS = {"resample": ("resample", "shuffle", {"resample": "resample"}),
            "mean": ("mean", None, {"mean": "mean"}),
            "zero": ("zero", None, {"zero": "zero", "zero-vs-resample": "resample"}),
            "b+1": ("resample", "b+1", {"b+1": "resample"})}


def setup_for(fam, ablation: str, corruption: str | None, granularity: str, draws: int):
    """The methods' Setup over the family's members (x `draws` corruption draws for an
    input corruption that draws), its graph and units."""
    ab = fam["operands"]
    tok = jnp.asarray(fam["tokens"](ab))
    lab = fam["labels"](ab)
    names = fam["group_names"] if granularity == "freq" else ("",)
    g = circuits.graph(fam["cfg"], mlp_groups=names)
    groups = jnp.asarray(fam["groups"]) if granularity == "freq" else None
    units = g.units(fam.get("granularity", "edges"))
    setups = []
    for d in range(draws if corruption in ("shuffle", "resample-b") else 1):
        bad = (jnp.asarray(fam["tokens"](corrupt_lib.operands(ab, fam["p"], corruption, d)))
               if corruption else None)
        setups.append(circuits.prepare(fam["params"], fam["cfg"], g, tok, lab, corrupt_tokens=bad,
                                       ablation=ablation, table_tokens=tok, groups=groups,
                                       n_answers=fam["p"]))
    return methods.concat(setups), g, units, len(setups)


def rank(method: str, s, units, steps: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(importance [M, N], the method's own circuit [M, N] or None)."""
    if method == "edges":
        sc = np.asarray(circuits.edge_effects(s, units, "kl"))
    elif method in ("eap", "eap-kl"):
        sc = np.asarray(circuits.eap(s, units, "logit_diff" if method == "eap" else "kl"))
    elif method == "eap-ig":
        sc = np.asarray(circuits.eap_ig(s, units, "logit_diff", 10))
    elif method == "acdc":
        r = circuits.acdc(s, units, "kl", TAUS)
        own = np.asarray(r.kept)[int(np.argmin(np.abs(TAUS - THRESHOLD)))]
        return scoring.acdc_importance(r.kept, TAUS), own
    elif method == "prune":
        r = prune.edge_pruning(s, units, "kl", TARGETS, steps=steps)
        return r.log_alpha[TARGETS.index(RANK_TARGET)], None
    else:
        return np.random.default_rng(0).random((s.n_members, len(units))), None
    return scoring.importance(sc), scoring.importance(sc) >= THRESHOLD


def _summary(x: np.ndarray) -> dict:
    x = np.asarray(x, np.float64)
    ok = x[np.isfinite(x)]
    if not ok.size:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": float(np.median(ok)), "min": float(ok.min()), "max": float(ok.max()),
            "n": int(ok.size)}


def score_rows(fam, setting: str, granularity: str, draws: int, steps: int,
               only=METHODS) -> list[dict]:
    """Every method of `only` run once under `setting`, scored against each of its truths."""
    run_as, corruption, truths = SETTINGS[setting]
    s, g, units, n_draws = setup_for(fam, run_as, corruption, granularity, draws)
    scored = fam.get("scored", lambda g, u: np.ones(len(u), bool))(g, units)
    names = [f"{n}#{d}" for d in range(n_draws) for n in fam["names"]]
    rows = []
    for method in only:
        t0 = time.perf_counter()
        imp, own = rank(method, s, units, steps)
        curve = scoring.faithfulness_curve(s, units, imp, "logit_diff")
        seconds = time.perf_counter() - t0
        cpr, cmd = scoring.cpr_cmd(curve)
        for label, truth_of in truths.items():
            truth = np.tile(fam["truth"](g, units, truth_of), (n_draws, 1))[:, scored]
            auc = scoring.roc_auc(imp[:, scored], truth)
            ap = scoring.average_precision(imp[:, scored], truth)
            row = {"family": fam["name"], "ablation": label, "granularity": granularity,
                   "method": method, "units": int(scored.sum()),
                   "true_units": _summary(truth.sum(1)), "auc": _summary(auc),
                   "ap": _summary(ap), "cpr": _summary(cpr), "cmd": _summary(cmd),
                   "seconds": round(seconds, 2), "members": names,
                   "per_member": {"auc": auc.tolist(), "ap": ap.tolist(), "cpr": cpr.tolist(),
                                  "cmd": cmd.tolist()}}
            if own is not None:
                mine = own[:, scored]
                tp = (mine & truth).sum(1)
                precision = np.where(mine.sum(1) > 0, tp / np.maximum(mine.sum(1), 1), np.nan)
                recall = tp / np.maximum(truth.sum(1), 1)
                row.update(precision=_summary(precision), recall=_summary(recall),
                           size=_summary(mine.sum(1)))
                row["per_member"].update(precision=precision.tolist(), recall=recall.tolist())
            if method == "eap-kl":
                row["max_abs_score"] = float(np.max(imp))
            rows.append(row)
            print(_line(row), flush=True)
    return rows


def _fmt(x: dict | None, digits: int = 2) -> str:
    if not x or x["median"] is None:
        return "-"
    if x["min"] == x["max"]:
        return f"{x['median']:.{digits}f}"
    return f"{x['median']:.{digits}f} [{x['min']:.{digits}f}, {x['max']:.{digits}f}]"


def _line(r: dict) -> str:
    pr = f"{_fmt(r.get('precision'))} / {_fmt(r.get('recall'))}" if "precision" in r else "-"
    return (f"| {r['family']} | {r['ablation']} | {r['granularity']} | {r['method']} | "
            f"{_fmt(r['auc'])} | {_fmt(r['ap'])} | {_fmt(r['cpr'])} | {_fmt(r['cmd'])} | {pr} | "
            f"{r['seconds']:.1f} |")


HEADER = ("| family | ablation | granularity | method | AUC | AP | CPR | CMD | "
          "precision / recall | s |\n|---|---|---|---|---|---|---|---|---|---|")


def family(name: str, small: bool) -> dict:
    """A family's members and what the scoring needs of it."""
    kw = dict(p=17, seeds=(0,), n_keys=2, n_phases=4) if small else dict(p=31, seeds=(0, 1, 2))
    variants = ("gromov",) if name == "gromov" else (("clean", "constant") if small
                                                     else known.VARIANTS[:4])
    k = known.constructed(variants=variants, **kw)
    return {"name": name, "params": k.params, "cfg": k.cfg, "p": k.p, "operands": k.operands,
            "tokens": k.tokens, "labels": k.labels, "group_names": k.group_names,
            "groups": k.groups, "truth": k.truth, "names": list(k.names)}


def trained_family(run: str) -> dict:
    """A grokked run's members, scored on its MLP frequency groups' outputs."""
    from grokjax.circuits import frequency
    from grokjax import data as data_lib
    model = circuits.load(run)
    table = model.tokens(data_lib.all_operands(model.p, 2))
    names, groups = frequency.frequency_groups(model.params, model.cfg, table, model.p)
    _, _, keys = map(np.asarray, frequency.neuron_frequencies(model.params, model.cfg, table,
                                                             model.p))

    def truth(g, units, ablation):
        out = np.zeros((len(model.names), len(units)), bool)
        for i, key in enumerate(units.keys):
            sender = g.senders[key[0]]
            if "hook_mlp_out[k=" in sender and "other" not in sender:
                k = int(sender.split("[k=")[1].rstrip("]"))
                out[:, i] = keys[:, k - 1]
        return out

    def scored(g, units):
        return np.asarray(["hook_mlp_out[k=" in g.senders[k[0]] for k in units.keys])
    return {"name": "trained", "params": model.params, "cfg": model.cfg, "p": model.p,
            "operands": data_lib.all_operands(model.p, 2), "tokens": model.tokens,
            "labels": model.labels, "group_names": names, "groups": groups, "truth": truth,
            "names": list(model.names), "granularity": "nodes", "scored": scored}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="a reduced run, well under a minute")
    ap.add_argument("--trained", help="a grokked run of configs/circuits.py to add")
    ap.add_argument("--out", help="the JSON (default benchmarks/results/"
                                  "circuit-truth-<backend>[-small].json)")
    args = ap.parse_args(argv)
    backend = jax.default_backend()
    out = pathlib.Path(args.out or pathlib.Path(__file__).parent / "results" /
                       f"circuit-truth-{backend}{'-small' if args.small else ''}.json")
    t0 = time.perf_counter()
    print(HEADER)
    rows = []
    if args.small:
        fam = family("constructed", True)
        rows += score_rows(fam, "resample", "edges", 1, 40, ("edges", "eap", "acdc", "prune"))
    else:
        for name in ("constructed", "gromov"):
            fam = family(name, False)
            for setting in SETTINGS:
                rows += score_rows(fam, setting, "edges", DRAWS, STEPS)
            for setting in ("resample", "zero"):
                rows += score_rows(fam, setting, "freq", DRAWS, STEPS)
    if args.trained:
        fam = trained_family(args.trained)
        for setting in ("resample", "mean", "zero"):
            rows += score_rows(fam, setting, "freq", 1, 100)
    result = {"backend": backend, "device": str(jax.devices()[0]), "jax": jax.__version__,
              "python": platform.python_version(), "small": args.small,
              "trained_run": args.trained, "taus": TAUS.tolist(), "targets": list(TARGETS),
              "threshold": THRESHOLD, "seconds": round(time.perf_counter() - t0, 1),
              "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out} ({result['seconds']} s)")
    return result


if __name__ == "__main__":
    main()
