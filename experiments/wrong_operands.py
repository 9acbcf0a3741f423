"""Where a member that stalls just under the grok threshold is wrong: its wrong test pairs by
operand value, to tell a few operands the model has not placed from errors spread over the
table.

    python experiments/wrong_operands.py RUN [RUN ...] [--step N] [--below 0.99]

For each member of each run whose test accuracy at the checkpoint (default the latest) is below
`--below` (on its test split as training scored it; a mixture's first task): the values of a, b,
a + b and a - b that it gets wrong in at least a quarter of their test pairs ("whole operands",
or diagonals: ten times the error rate of a member at 97.5% spread evenly over the table), the
share of all its wrong test pairs that lie in those rows, columns and diagonals, and beside it
the share of all its test pairs that lie there (what the first would be were the errors spread
evenly: far under the threshold, where every value is wrong in a quarter of its pairs, the two
meet).

Measured (experiments/results/README.md, "Plateaus under the threshold"): the members of
transfer-3seeds' PG-T(mul) ab+b and ab-b that stay at 96.6-98.3% to 10,000 steps are wrong on
whole operands: seed 1 of ab+b on b = 17 and 71 (63 and 62 of their test pairs wrong: 85% of
its errors on 2% of the pairs), its zero-factor pairs (b = 0, a = 96) right. The stalled
members of (a+b)^2, (a+b)^7, (a-b)^2 and (a+b)^2+a+b from scratch have at most one such value
(b = 11 in (a+b)^2+a+b's seed 2, with 5% of its errors).
"""

import argparse
import sys

import numpy as np

from grokjax import models
from grokjax.errors import GrokjaxError
from grokjax.saved import open_run


def whole_operands(operands: np.ndarray, right: np.ndarray, p: int, at_least: float = 0.25
                   ) -> tuple[list[tuple[str, int, int, int]], float, float]:
    """The values of a, b, a + b and a - b (mod p) wrong in at least `at_least` of their
    pairs, as (what: 'a', 'b', 'a+b' or 'a-b', value, wrong, pairs), the most wrong first; the
    share of all wrong pairs in their rows, columns or diagonals (0 with no wrong pair); and the
    share of all pairs there, which is what the first share would be were the errors spread
    evenly. `operands` [N, 2], `right` [N] bool."""
    wrong = ~np.asarray(right, bool)
    found, covered = [], np.zeros(len(wrong), bool)
    a, b = operands[:, 0], operands[:, 1]
    for name, values in (("a", a), ("b", b), ("a+b", (a + b) % p), ("a-b", (a - b) % p)):
        n_wrong = np.bincount(values[wrong], minlength=p)
        n_all = np.bincount(values, minlength=p)
        for v in np.flatnonzero((n_all > 0) & (n_wrong >= at_least * np.maximum(n_all, 1))):
            found.append((name, int(v), int(n_wrong[v]), int(n_all[v])))
            covered |= values == v
    found.sort(key=lambda f: -f[2])
    share = float((covered & wrong).sum() / wrong.sum()) if wrong.any() else 0.0
    return found, share, float(covered.mean())


def report(run_dir: str, step: int | None, below: float) -> list[str]:
    """One line per member under `below`, scored as training scored its test split."""
    run = open_run(run_dir)
    exp = run.experiment
    names = exp.members.names()
    # one model per task (a task grid's members read different tasks), all its members at once:
    # one checkpoint read and one compiled forward pass over the whole table
    tasks = np.zeros(exp.n_members, int) if exp.task_index is None else np.asarray(exp.task_index)
    lines = []
    for task in np.unique(tasks):
        members = np.flatnonzero(tasks == task).tolist()
        model = run.model(step, members=members)
        data, t = model.dataset, model.task_index
        if data.operands.shape[1] != 2:
            raise GrokjaxError(f"{run_dir}: its task has {data.operands.shape[1]} operands; "
                               "this reads two-operand tasks (a, b)")
        right_all = np.asarray(models.predicts(model(data.tokens[t]), data.labels[t][None]))
        for j, i in enumerate(members):
            # the member's test split (a fraction grid pads it to one length: the mask)
            test = exp.test_idx[i]
            if exp.test_mask is not None:
                test = test[exp.test_mask[i] > 0]
            right = right_all[j, test]
            if right.mean() >= below:
                continue
            found, share, even = whole_operands(data.operands[test], right, model.p)
            whole = ", ".join(f"{what} = {v} ({w}/{n})" for what, v, w, n in found) or "none"
            named = f" ({model.task})" if len(data.task_names) > 1 else ""
            lines.append(f"{run_dir} {names[i]}{named} at step {model.step}: test acc "
                         f"{right.mean():.4f}, {(~right).sum()} wrong; wrong in a quarter or "
                         f"more of their pairs: {whole}; they hold {share:.0%} of the wrong "
                         f"pairs ({even:.0%} of all pairs: the share were the errors spread "
                         "evenly)")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", metavar="RUN")
    ap.add_argument("--step", type=int, help="the checkpoint (default: the latest)")
    ap.add_argument("--below", type=float, default=0.99,
                    help="only the members whose test accuracy is below this (default 0.99)")
    args = ap.parse_args(argv)
    for run_dir in args.runs:
        print("\n".join(report(run_dir, args.step, args.below)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
