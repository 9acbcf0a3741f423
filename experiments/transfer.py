"""The paper's transfer experiments as one command: pre-train, then every downstream run.

    python experiments/transfer.py --seeds 3                              # the whole matrix
    python experiments/transfer.py --seeds 2 --sources add --targets x_x_m_y --modes pge --scratch
    python experiments/transfer.py --dry-run                               # list the runs

1. Pre-training: configs/arithmetic.py:SOURCE (r = 0.3) for each source into ROOT/pretrain/SOURCE.
2. Downstream: configs/transfer.py:MODE,SOURCE,TARGET for each mode (pge, pgt), source and
   target, into ROOT/MODE-SOURCE/TARGET, starting from ROOT/pretrain/SOURCE (target seed s from
   source seed s). With --scratch, also each target from scratch into ROOT/scratch/TARGET.
3. A table of grokked k/N, the median grok step and the median best test accuracy, printed and
   written to ROOT/transfer.md.

Every run is an ordinary run directory: running the script again skips finished runs and resumes
unfinished ones. Time: the full matrix (3 sources x 2 modes x 23 targets, 3 seeds, up to 1e5
steps each) is days on a 2-core CPU; one downstream task with 2 seeds is about an hour.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from grokjax import config as config_lib
from grokjax import run as run_lib
from grokjax.errors import GrokjaxError
from grokjax.tasks import TRANSFER_SOURCES, TRANSFER_TARGETS


def plan(args) -> list[tuple[str, str, list[str]]]:
    """(name, config spec, overrides) of every run, in order."""
    root, common = pathlib.Path(args.root), [f"seeds={args.seeds}", *args.set]
    runs = [(f"pretrain/{s}", f"configs/arithmetic.py:{s}", [*common, "train.stop_when_grokked=1",
             f"train.steps={args.pretrain_steps}"]) for s in args.sources]
    for mode in args.modes:
        for source in args.sources:
            for target in args.targets:
                runs.append((f"{mode}-{source}/{target}",
                             f"configs/transfer.py:{mode},{source},{target}",
                             [*common, f"transfer.from_run={root / 'pretrain' / source}",
                              f"train.steps={args.steps}"]))
    if args.scratch:
        runs += [(f"scratch/{t}", f"configs/transfer.py:pge,add,{t}",
                  [*common, "transfer.from_run=", "transfer.load=", "transfer.freeze=",
                   f"train.steps={args.steps}"]) for t in args.targets]
    return runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default="runs/transfer")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--sources", nargs="+", default=list(TRANSFER_SOURCES))
    ap.add_argument("--targets", nargs="+", default=list(TRANSFER_TARGETS))
    ap.add_argument("--modes", nargs="+", default=["pge", "pgt"], choices=["pge", "pgt"])
    ap.add_argument("--steps", type=int, default=100_000, help="downstream steps at most")
    ap.add_argument("--pretrain-steps", type=int, default=50_000)
    ap.add_argument("--scratch", action="store_true", help="also train each target from scratch")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="overrides for every run, e.g. train_fraction=0.3")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    rows = []
    try:
        for name, spec, overrides in plan(args):
            if args.dry_run:
                print(f"grokjax train '{spec}' --workdir {args.root}/{name} "
                      + " ".join(f"--set '{o}'" for o in overrides))
                continue
            print(f"== {name}", flush=True)
            cfg = config_lib.load_config(spec, overrides)
            s = run_lib.train(cfg, pathlib.Path(args.root) / name)
            rows.append((name, s))
    except GrokjaxError as e:
        print(f"transfer: error: {e}", file=sys.stderr)
        return 2
    if rows:
        lines = ["| run | grokked | median grok step | median best test acc |", "|---|---|---|---|"]
        for name, s in rows:
            med = f"{s['grok_step_median']:.0f}" if s["grok_step_median"] is not None else "-"
            lines.append(f"| {name} | {s['grokked']}/{s['n_seeds']} | {med} | "
                         f"{s['best_test_acc_median']:.3f} |")
        table = "\n".join(lines)
        print(table)
        (pathlib.Path(args.root) / "transfer.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
