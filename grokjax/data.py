"""Tokenisation and train/test splits.

Token layout (Furuta's, the default; paper.md section 1.2). For modulus p:

    0 .. p-1     the numbers
    p            '='      p+1  '+'      p+2  '-'      p+3  '*'      p+4  '/'
    p+5, p+6 ..  task tokens, only in mixtures (see below)

A two-variable input is ``[x, op, y]`` and a three-variable one ``[x, op, y, op, z]``; the model
reads out at the last position. Elementary tasks use their own operator (add '+', subtract '-',
multiply '*', division '/'); polynomials use '=' as the reference's "short" form does.

Mixtures: every task of a mixture needs its own operator token, or two polynomials would see
identical inputs with different labels. Tasks are walked in the order given; a task keeps its
natural operator if no earlier task of the mixture took it, otherwise it gets the next task token
p+5, p+6, ... So ``add,subtract,multiply`` uses '+', '-', '*' exactly as the reference does, and
``x2_y2,x2_xy_y2,x2_2xy_y2`` uses '=', p+5, p+6 (vocabulary p+7).

Nanda's variant has the vocabulary p+1 (numbers, then '=' = p) and the input ``[a, b, =]``.
Prieto et al.'s MLP (`model.variant='prieto'`) has the vocabulary p and the input ``[a, b]``,
one-hot encoded by the model (its first layer is a dense layer on both operands).

Power's variant (openai/grok, `model.variant='power'`) reads ``[<|eos|>, a, op, b, =]``
(``[<|eos|>, a, op, b, op, c, =]`` for three operands) and predicts c at '='. openai/grok trains
on ``<|eos|> a op b = c <|eos|>`` with the loss on the two tokens after '=': c (predicted at '=',
from exactly these five tokens: the model is causal) and the closing <|eos|> (predicted from c,
which grokjax does not train). Its vocabulary is openai/grok's ArithmeticTokenizer's, reordered
so that the answers come first, as grokjax's labels and probes need (a permutation of the
vocabulary is a symmetry of the model: every embedding row is drawn alike)::

    0 .. p-1          the numbers (or, for an S5 task, p = 120 elements of grokjax.groups)
    p, p+1            <|eos|>, =
    p+2 .. p+21       openai/grok's 20 operator tokens, in its order (sorted)
    p+22 ..           the symbols openai/grok's vocabulary also holds but the task never uses
                      (the 120 S5 elements for a task on numbers, the numbers 0..96 for S5):
                      they stay because the softmax runs over them
    then              task tokens <task_0>, ... for a task openai/grok lacks or a mixture's repeat

so for p = 97 it is openai/grok's 239 tokens. A task's operator is its openai/grok operator
(`Task.grok_op`).

Splits. ``mode='paper'`` (the default) takes all inputs over 0..p-1 in the task's domain (y != 0
for division, no 0 for multiply_non_zero, x <= y with ``symmetric``), permutes them with numpy's
PCG64 seeded by the split seed and trains on the first ``int(r * N)``. ``mode='reference'``
reproduces ``gen_train_test`` of frt03/grok_mod_poly exactly: ordered pairs over range(p+5)
(range(p) for Nanda's code), shuffled by Python's ``random.seed(seed); random.shuffle``, so that
special-token ids act as operands (97 = 0 mod 97, ...), as in the published runs.
``mode='grok'`` reproduces openai/grok's ArithmeticDataset.splits: its equations in its order
(a-major over the operands; division's as it writes them, c = a; a = b * c), shuffled by
``np.random.RandomState(seed).shuffle`` and split at ``round(r * N)``. openai/grok always shuffles
with seed 0 (the training seed moves only torch's init and batches): split seed 0 is its split.
"""

from __future__ import annotations

import dataclasses
import itertools
import random

import numpy as np

from grokjax.errors import GrokjaxError
from grokjax.tasks import Task

OPERATORS = ("=", "+", "-", "*", "/")
EOS = "<|eos|>"
# openai/grok's VALID_OPERATORS keys, sorted as its ArithmeticTokenizer lists them.
GROK_OPERATORS = tuple(sorted((
    "+", "-", "*", "/", "**2+", "**3+", "x**2+y**2_mod_97", "x**2+y**2+x*y_mod_97",
    "x**2+y**2+x*y+x_mod_97", "x**3+x*y_mod_97", "x**3+x*y**2+y_mod_97",
    "(x._value//y)if(y._value%2==1)else(x-y)_mod_97", "s5", "s5conj", "s5aba", "+*", "+-",
    "sort", "reverse", "copy")))
GROK_NUMBERS = 97  # openai/grok's vocabulary holds the numbers 0..96 (its MODULUS)


@dataclasses.dataclass(frozen=True)
class Vocab:
    """Where every token lives. `op_tokens[i]` is the operator token of the mixture's task i
    (-1: Prieto's variant reads no operator).
    `names` (Power's variant only) names the tokens p, p+1, ..., d_vocab-1."""

    p: int
    d_vocab: int
    op_tokens: tuple[int, ...]
    variant: str  # 'furuta' | 'nanda' | 'power' | 'prieto'
    names: tuple[str, ...] = ()

    def describe(self) -> dict[str, int]:
        if self.variant == "power":
            return {name: self.p + i for i, name in enumerate(self.names)}
        if self.variant == "prieto":
            return {}
        names = {"=": self.p}
        if self.variant == "furuta":
            names.update({op: self.p + i for i, op in enumerate(OPERATORS)})
            for k in range(self.p + len(OPERATORS), self.d_vocab):
                names[f"<task_{k - self.p - len(OPERATORS)}>"] = k
        return names


def _power_vocab(tasks: tuple[Task, ...], p: int) -> Vocab:
    """openai/grok's vocabulary, answers first (the module docstring)."""
    if any(t.group for t in tasks):  # S5 elements are the answers; openai/grok's numbers idle
        unused = [f"<unused {n}>" for n in range(GROK_NUMBERS)]
    else:  # numbers are the answers; openai/grok's S5 tokens, rendered as it does ("01234"), idle
        unused = [f"<unused {''.join(map(str, e))}>" for e in itertools.permutations(range(5))]
    names = [EOS, "="] + list(GROK_OPERATORS) + unused
    ops, used = [], set()
    for task in tasks:
        if task.grok_op is not None and task.grok_op not in used:
            used.add(task.grok_op)
            ops.append(p + names.index(task.grok_op))
        else:
            names.append(f"<task_{len(names) - len(GROK_OPERATORS) - len(unused) - 2}>")
            ops.append(p + len(names) - 1)
    return Vocab(p=p, d_vocab=p + len(names), op_tokens=tuple(ops), variant="power",
                 names=tuple(names))


def make_vocab(tasks: tuple[Task, ...], p: int, variant: str = "furuta") -> Vocab:
    if variant == "power":
        return _power_vocab(tasks, p)
    if variant == "nanda":
        if len(tasks) != 1 or tasks[0].arity != 2:
            raise GrokjaxError(
                "model.variant='nanda' reads [a, b, =] with the vocabulary p+1, so it takes one "
                "two-variable task; use model.variant='furuta' for mixtures and three operands")
        return Vocab(p=p, d_vocab=p + 1, op_tokens=(p,), variant=variant)
    if variant == "prieto":
        if len(tasks) != 1 or tasks[0].arity != 2 or tasks[0].group is not None:
            raise GrokjaxError(
                "model.variant='prieto' reads one-hot [a, b] with the vocabulary p, so it takes "
                "one two-variable task on numbers; use model.variant='furuta' for the others")
        return Vocab(p=p, d_vocab=p, op_tokens=(-1,), variant=variant)
    used: set[int] = set()
    ops, next_task_token = [], p + len(OPERATORS)
    for task in tasks:
        tok = p + OPERATORS.index(task.op)
        if tok in used:
            tok, next_task_token = next_task_token, next_task_token + 1
        used.add(tok)
        ops.append(tok)
    return Vocab(p=p, d_vocab=max(p + len(OPERATORS), next_task_token), op_tokens=tuple(ops),
                 variant=variant)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Every input of a run: operands (N, arity), tokens (T, N, n_ctx), labels (T, N)."""

    tasks: tuple[Task, ...]
    vocab: Vocab
    operands: np.ndarray
    tokens: np.ndarray
    labels: np.ndarray

    @property
    def n_ctx(self) -> int:
        return self.tokens.shape[-1]

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)


def all_operands(p: int, arity: int) -> np.ndarray:
    """Every operand tuple over 0..p-1, the first operand slowest: [p**arity, arity]. For two
    operands this is the probes' (a, b) table, row a * p + b."""
    return np.array(list(itertools.product(range(p), repeat=arity)), dtype=np.int64)


def tokenize(operands: np.ndarray, op_token: int, vocab: Vocab) -> np.ndarray:
    """(N, arity) operands -> (N, n_ctx) tokens in the layout of the module docstring."""
    n, arity = operands.shape
    if vocab.variant == "nanda":
        return np.concatenate([operands, np.full((n, 1), vocab.p)], axis=1).astype(np.int32)
    if vocab.variant == "prieto":
        return operands.astype(np.int32)
    cols = [operands[:, 0]]
    for i in range(1, arity):
        cols += [np.full(n, op_token), operands[:, i]]
    if vocab.variant == "power":  # <|eos|> x op y =, read out at '='
        cols = [np.full(n, vocab.p)] + cols + [np.full(n, vocab.p + 1)]
    return np.stack(cols, axis=1).astype(np.int32)


def _in_domain(operands: np.ndarray, tasks: tuple[Task, ...], symmetric: bool) -> np.ndarray:
    keep = np.ones(len(operands), dtype=bool)
    domains = {t.domain for t in tasks}
    if "y_nonzero" in domains:
        keep &= operands[:, 1] != 0
    if "nonzero" in domains:
        keep &= (operands != 0).all(axis=1)
    if symmetric:
        keep &= (np.diff(operands, axis=1) >= 0).all(axis=1)
    return keep


def _reference_operands(tasks: tuple[Task, ...], num: int, symmetric: bool) -> np.ndarray:
    """The pair list of gen_train_test in frt03/grok_mod_poly, before its shuffle."""
    if tasks[0].arity != 2:
        raise GrokjaxError(
            "split.mode='reference' cannot express three-variable tasks (the reference code "
            "never produces triples for them); use split.mode='paper'")
    division = len(tasks) == 1 and tasks[0].name == "division"  # fn_name == 'division'
    non_zero = any("non_zero" in t.name for t in tasks)  # 'non_zero' in fn_name
    pairs = [(i, j) for i in range(num) for j in range(num)
             if (i <= j or not symmetric) and (j != 0 or not division)]
    if non_zero:
        pairs = [pair for pair in pairs if 0 not in pair]
    return np.array(pairs, dtype=np.int64)


def _grok_division_operands(p: int) -> np.ndarray:
    """openai/grok's division equations in its order: for a in 0..p-1, b in 1..p-1 it writes
    (b * a) / b = a, so the operands are (b * a mod p, b)."""
    a, b = np.meshgrid(np.arange(p), np.arange(1, p), indexing="ij")
    return np.stack([(a * b % p).ravel(), b.ravel()], axis=1).astype(np.int64)


def make_dataset(tasks: tuple[Task, ...], p: int, *, variant: str = "furuta",
                 split_mode: str = "paper", symmetric: bool = False) -> Dataset:
    """All inputs of the run with their tokens and per-task labels, in canonical order."""
    vocab = make_vocab(tasks, p, variant)
    arity = tasks[0].arity
    if split_mode == "reference":
        num = p + len(OPERATORS) if variant == "furuta" else p
        operands = _reference_operands(tasks, num, symmetric)
    elif split_mode == "grok" and len(tasks) == 1 and tasks[0].name == "division":
        operands = _grok_division_operands(p)
        operands = operands[_in_domain(operands, tasks, symmetric)]
    else:
        operands = all_operands(p, arity)
        operands = operands[_in_domain(operands, tasks, symmetric)]
    tokens = np.stack([tokenize(operands, op, vocab) for op in vocab.op_tokens])
    labels = np.stack([t.labels(operands, p) for t in tasks])
    return Dataset(tasks=tasks, vocab=vocab, operands=operands.astype(np.int32),
                   tokens=tokens, labels=labels)


def split_indices(n: int, fraction: float, seed: int, mode: str = "paper"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices into the dataset's N inputs for one split seed."""
    n_train = int(fraction * n)
    if mode == "reference":
        order = list(range(n))
        random.seed(seed)  # exactly the reference: random.seed(seed); random.shuffle(pairs)
        random.shuffle(order)
        order = np.array(order, dtype=np.int32)
    elif mode == "grok":
        # openai/grok: np.random.RandomState(seed).shuffle(equations), then the first
        # round(N * train_pct / 100) train (Python's round: half to even). Shuffling the indices
        # draws what shuffling its list of strings does (legacy Fisher-Yates, one draw per i).
        order = np.arange(n, dtype=np.int32)
        np.random.RandomState(seed).shuffle(order)
        n_train = round(n * fraction)
    else:
        order = np.random.default_rng(seed).permutation(n).astype(np.int32)
    if n_train < 1 or n_train >= n:
        raise GrokjaxError(
            f"train_fraction={fraction} leaves an empty train or test set of {n} inputs; "
            "choose a fraction so that both are non-empty")
    return order[:n_train], order[n_train:]


def make_splits(dataset: Dataset, fraction: float, split_seeds: list[int], mode: str = "paper"
                ) -> tuple[np.ndarray, np.ndarray]:
    """Stacked (S, n_train) and (S, n_test) indices, one row per seed."""
    pairs = [split_indices(len(dataset.operands), fraction, s, mode) for s in split_seeds]
    return np.stack([tr for tr, _ in pairs]), np.stack([te for _, te in pairs])
