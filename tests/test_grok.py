"""openai/grok's tasks, vocabulary, sequences and split (model.variant='power', split.mode=
'grok'), against a re-enactment of its grok/data.py: its equation strings built by its loop, its
ArithmeticTokenizer's vocabulary, its `np.random.RandomState(0).shuffle` of the strings and its
round(N * train_pct / 100). A grokjax dataset row, read back through the vocabulary's names, must
be openai/grok's equation, in openai/grok's train/validation order."""

import itertools

import numpy as np
import pytest

from grokjax import data, tasks
from grokjax.errors import GrokjaxError

# ---- openai/grok's grok/data.py in miniature (Python ints and tuples; MODULUS = 97) ----------
M = 97
PERMS = list(itertools.permutations(range(5)))
OPERATORS = {  # VALID_OPERATORS: key -> name
    "+": "addition", "-": "subtraction", "*": "muliplication", "/": "division",
    "**2+": "squarepoly", "**3+": "cubepoly", "x**2+y**2_mod_97": "quad1",
    "x**2+y**2+x*y_mod_97": "quad2", "x**2+y**2+x*y+x_mod_97": "quad3",
    "x**3+x*y_mod_97": "cube1", "x**3+x*y**2+y_mod_97": "cube2",
    "(x._value//y)if(y._value%2==1)else(x-y)_mod_97": "mix1", "s5": "s5", "s5conj": "s5conj",
    "s5aba": "s5aba", "+*": "even-addition_odd-multiplication",
    "+-": "even-addition_odd-subtraction", "sort": "sort", "reverse": "reverse", "copy": "copy"}
# grokjax's name for each operator that grokjax has (addition is 'add', ...)
GROKJAX_NAME = {"+": "add", "-": "subtract", "*": "multiply", **{
    k: v for k, v in OPERATORS.items() if k not in ("+", "-", "*", "sort", "reverse", "copy")}}


def render(x):
    return "".join(map(str, x)) if isinstance(x, tuple) else str(x)


def then(first, second):  # sympy's first * second: k -> second(first(k))
    return tuple(second[first[k]] for k in range(5))


def inverse(perm):
    return tuple(sorted(range(5), key=lambda k: perm[k]))


def mod_expression(expression, a, b):
    """Its `_mod_` operators on mod.Mod numbers: x**n, +, * are arithmetic mod 97, and
    `x._value // y` is Mod.__rfloordiv__: x * y^-1 mod 97 (mod 0.3.0)."""
    if expression.startswith("(x._value//y)"):
        return a * pow(b, -1, M) % M if b % 2 == 1 else (a - b) % M
    return eval(expression, {}, {"x": a, "y": b}) % M  # trusted: the keys above


def equations(op):
    """_make_binary_operation_data's strings 'a op b = c', in its order."""
    operands = PERMS if op.startswith("s5") else range(M)
    out = []
    for a, b in itertools.product(operands, repeat=2):
        if op == "/":
            if b == 0:
                continue
            c, a = a, (b * a) % M
        elif op == "s5":
            c = tuple(b[a[k]] for k in range(5))  # numpy's b[a]
        elif op == "s5conj":
            c = then(then(a, b), inverse(a))
        elif op == "s5aba":
            c = then(then(a, b), a)
        elif op == "+*":
            c = (a + b) % M if a % 2 == 0 else (a * b) % M
        elif op == "+-":
            c = (a + b) % M if a % 2 == 0 else (a - b) % M
        elif "_mod_" in op:
            c = mod_expression(op.split("_mod_")[0], a, b)
        else:
            c = eval(f"({a} {op} {b}) % {M}")
        out.append(" ".join(map(render, [a, op, b, "=", c])))
    return out


def grok_split(op, train_pct):
    """ArithmeticDataset.splits: make_data (shuffle with seed 0, wrap in <|eos|>), then the first
    round(N * train_pct / 100) equations train."""
    eqs = equations(op)
    np.random.RandomState(seed=0).shuffle(eqs)
    eqs = [f"<|eos|> {eq} <|eos|>" for eq in eqs]
    n_train = round(len(eqs) * (train_pct / 100.0))
    return eqs[:n_train], eqs[n_train:]


TOKENS = (["<|eos|>", "="] + sorted(OPERATORS) + [str(n) for n in range(M)]
          + [render(p) for p in PERMS])  # ArithmeticTokenizer.get_tokens


# ---- grokjax's dataset, read back as names --------------------------------------------------

def names_of(vocab, group):
    """Token id -> its name: answers first (numbers, or S5 elements rendered as openai/grok
    does), then Vocab.describe's names, '<unused X>' read as X."""
    answers = [render(p) for p in PERMS] if group else [str(n) for n in range(vocab.p)]
    rest = {i: n.removeprefix("<unused ").removesuffix(">") if n.startswith("<unused ") else n
            for n, i in vocab.describe().items()}
    return answers + [rest[i] for i in range(vocab.p, vocab.d_vocab)]


@pytest.mark.parametrize("op", [k for k in OPERATORS if k not in ("sort", "reverse", "copy")])
def test_grokjax_reproduces_openai_grok_equations_vocabulary_and_split(op):
    task = tasks.get_task(GROKJAX_NAME[op])
    p = 120 if op.startswith("s5") else M
    ds = data.make_dataset((task,), p, variant="power", split_mode="grok")
    names = names_of(ds.vocab, task.group)
    assert sorted(names) == sorted(TOKENS)  # the same 239 tokens, answers first
    assert task.grok_op == op
    train_idx, test_idx = data.split_indices(len(ds.operands), 0.5, 0, mode="grok")
    want_train, want_test = grok_split(op, 50)
    for idx, want in ((train_idx, want_train), (test_idx, want_test)):
        got = [" ".join(names[t] for t in [*row, label]) + " <|eos|>"
               for row, label in zip(ds.tokens[0, idx], ds.labels[0, idx])]
        assert got == want


def test_the_power_sequence_is_eos_a_op_b_equals_read_out_at_equals():
    ds = data.make_dataset((tasks.get_task("add"),), 11, variant="power")
    vocab = ds.vocab
    assert vocab.d_vocab == 11 + 2 + 20 + 120 and ds.n_ctx == 5
    eos, eq, plus = 11, 12, 11 + vocab.names.index("+")
    row = ds.tokens[0][(ds.operands == [3, 4]).all(axis=1)][0]
    assert row.tolist() == [eos, 3, plus, 4, eq] and vocab.describe()["="] == eq


def test_a_task_openai_grok_lacks_and_a_mixture_get_task_tokens():
    ds = data.make_dataset(tasks.parse_task_spec("x_x_y,add"), 7, variant="power")
    base = 7 + 2 + 20 + 120
    assert ds.vocab.op_tokens == (base, 7 + ds.vocab.names.index("+"))
    assert ds.vocab.d_vocab == base + 1 and ds.vocab.describe()["<task_0>"] == base
    three = data.make_dataset((tasks.get_task("add_z"),), 5, variant="power")
    op = three.vocab.op_tokens[0]
    assert three.tokens[0, 7].tolist() == [5, 0, op, 1, op, 2, 6]  # operands (0, 1, 2)


def test_the_grok_split_rounds_half_to_even_and_keeps_division_in_its_order():
    train, test = data.split_indices(9, 0.5, 0, mode="grok")  # 4.5 -> 4
    assert len(train) == 4 and sorted([*train, *test]) == list(range(9))
    ds = data.make_dataset((tasks.get_task("division"),), 5, split_mode="grok")
    # c = a; a = b * c: for a in 0..4, b in 1..4 the operands (b * a mod 5, b)
    assert ds.operands[:5].tolist() == [[0, 1], [0, 2], [0, 3], [0, 4], [1, 1]]
    assert ds.operands[4:8].tolist() == [[1, 1], [2, 2], [3, 3], [4, 4]]


def test_division_has_openai_grok_triples():
    """openai/grok's c = a; a = b * c builds the same (x, y, x / y) set as grokjax's division on
    y != 0 (in another order)."""
    paper = data.make_dataset((tasks.get_task("division"),), M)
    got = {(x, y, c) for (x, y), c in zip(paper.operands.tolist(), paper.labels[0].tolist())}
    want = {tuple(int(s) for s in eq.split()[::2]) for eq in equations("/")}
    assert got == want and len(got) == 97 * 96


@pytest.mark.parametrize("name", ["s5", "s5conj", "s5aba"])
def test_group_tasks_need_p_120_and_claim_no_fourier_basis(name):
    task = tasks.get_task(name, p=120)
    assert task.group == "S5" and task.key_basis(120) is None
    assert not task.shows_discrete_log(120)
    with pytest.raises(GrokjaxError, match="set p=120"):
        tasks.get_task(name, p=97)
    with pytest.raises(GrokjaxError, match="set p=120"):
        task.labels(np.zeros((1, 2), np.int64), 97)
    with pytest.raises(GrokjaxError, match="mixes S5 tasks"):
        tasks.parse_task_spec(f"{name},add", p=120)


def test_openai_grok_names_resolve_and_misspellings_are_named():
    assert tasks.get_task("quad1").formula == tasks.get_task("x2_y2").formula
    assert tasks.get_task("even-addition_odd-subtraction").grok_op == "+-"
    with pytest.raises(GrokjaxError, match="did you mean even-addition_odd-multiplication"):
        tasks.get_task("even-addition_odd-multiplicaton")
    with pytest.raises(GrokjaxError, match="unknown variable"):  # a polynomial stays one
        tasks.get_task("x + w")


def test_no_probes_for_a_group_task():
    from grokjax import config as config_lib
    from grokjax.experiment import build
    cfg = config_lib.load_config("tests/tiny.py", ["task=s5", "p=120"])
    exp = build(cfg)
    assert exp.scfg.probe is None and exp.dataset.labels.max() < 120
