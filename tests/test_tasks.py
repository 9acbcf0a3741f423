"""Every task's labels equal an independent formula over all inputs, for several p."""

import itertools

import numpy as np
import pytest

from grokjax import tasks
from grokjax.errors import GrokjaxError

# Written out independently of grokjax's registry: Python ints, reduced once at the end.
TWO_VAR = {
    "add": lambda x, y: x + y,
    "subtract": lambda x, y: x - y,
    "multiply": lambda x, y: x * y,
    "multiply_non_zero": lambda x, y: x * y,
    "x_x_y": lambda x, y: 2 * x + y,
    "x_x_m_y": lambda x, y: 2 * x - y,
    "2x_3y": lambda x, y: 2 * x + 3 * y,
    "2x_m_3y": lambda x, y: 2 * x - 3 * y,
    "xy_y": lambda x, y: x * y + y,
    "xy_m_y": lambda x, y: x * y - y,
    "xy_x_y": lambda x, y: x * y + x + y,
    "xy_x_m_y": lambda x, y: x * y + x - y,
    "x2_y": lambda x, y: x**2 + y,
    "x2_m_y": lambda x, y: x**2 - y,
    "x3_2y": lambda x, y: x**3 + 2 * y,
    "x3_m_2y": lambda x, y: x**3 - 2 * y,
    "x2_m_y2": lambda x, y: x**2 - y**2,
    "x2_xy_y2": lambda x, y: x**2 + x * y + y**2,
    "x2_xy_y2_x": lambda x, y: x**2 + x * y + y**2 + x,
    "x3_xy": lambda x, y: x**3 + x * y,
    "x3_xy2_y": lambda x, y: x**3 + x * y**2 + y,
    "x2_2xy_y2": lambda x, y: x**2 + 2 * x * y + y**2,
    "x2_m_2xy_y2": lambda x, y: x**2 - 2 * x * y + y**2,
    "x2_2xy_y2_x_y": lambda x, y: x**2 + 2 * x * y + y**2 + x + y,
    **{f"x{n}_y{n}": (lambda n: lambda x, y: x**n + y**n)(n) for n in range(2, 8)},
    **{f"_x_y__{n}": (lambda n: lambda x, y: (x + y) ** n)(n) for n in range(3, 8)},
    **{f"_x_m_y__{n}": (lambda n: lambda x, y: (x - y) ** n)(n) for n in range(3, 8)},
}
THREE_VAR = {
    "add_z": lambda x, y, z: x + y + z,
    "subtract_z": lambda x, y, z: x - y - z,
    "multiply_z": lambda x, y, z: x * y * z,
    "x2_y2_z": lambda x, y, z: x**2 + y**2 + z,
    "x2_y2_z2": lambda x, y, z: x**2 + y**2 + z**2,
}


def all_inputs(p, arity):
    return np.array(list(itertools.product(range(p), repeat=arity)), dtype=np.int64)


# openai/grok's tasks under its names: tests/test_grok.py checks them against its grok/data.py.
GROK = {"squarepoly", "cubepoly", "quad1", "quad2", "quad3", "cube1", "cube2", "mix1", "s5",
        "s5conj", "s5aba", "even-addition_odd-multiplication", "even-addition_odd-subtraction"}


def test_registry_holds_exactly_the_specified_tasks():
    assert set(tasks.TASKS) == set(TWO_VAR) | set(THREE_VAR) | {"division"} | GROK


@pytest.mark.parametrize("p", [5, 7, 13, 97])
@pytest.mark.parametrize("name", sorted(TWO_VAR))
def test_two_variable_labels(name, p):
    ops = all_inputs(p, 2)
    want = [TWO_VAR[name](int(x), int(y)) % p for x, y in ops]
    np.testing.assert_array_equal(tasks.TASKS[name].labels(ops, p), want)


@pytest.mark.parametrize("p", [5, 11])
@pytest.mark.parametrize("name", sorted(THREE_VAR))
def test_three_variable_labels(name, p):
    ops = all_inputs(p, 3)
    assert tasks.TASKS[name].arity == 3
    want = [THREE_VAR[name](*map(int, row)) % p for row in ops]
    np.testing.assert_array_equal(tasks.TASKS[name].labels(ops, p), want)


@pytest.mark.parametrize("p", [5, 7, 97])
def test_division_is_the_inverse_of_multiplication(p):
    ops = all_inputs(p, 2)
    ops = ops[ops[:, 1] != 0]
    quotient = tasks.TASKS["division"].labels(ops, p)
    np.testing.assert_array_equal((quotient * ops[:, 1]) % p, ops[:, 0])
    assert tasks.TASKS["division"].domain == "y_nonzero"


def test_labels_of_operands_beyond_p_reduce_mod_p():
    """The reference's operands run to p+4; a polynomial's label is that of the residue."""
    ops = np.array([[97, 98], [101, 3]])
    np.testing.assert_array_equal(tasks.TASKS["x2_y2"].labels(ops, 97), [1, 25])


def test_reference_short_names_are_accepted():
    assert tasks.get_task("x2_y2_short") is tasks.TASKS["x2_y2"]


@pytest.mark.parametrize("expr", ["x**3 + 2*x*y", "(x - y)**5 + 7", "x*y*z - 3*z", "-x + y^2"])
def test_expressions_match_python_arithmetic(expr):
    p = 13
    task = tasks.get_task(expr)
    arity = 3 if "z" in expr else 2
    ops = all_inputs(p, arity)
    env = lambda row: dict(zip("xyz", map(int, row)))  # noqa: E731
    want = [eval(expr.replace("^", "**"), {}, env(row)) % p for row in ops]  # trusted test input
    np.testing.assert_array_equal(task.labels(ops, p), want)
    assert task.arity == arity and task.op == "="


@pytest.mark.parametrize("expr", ["__import__('os').system('true')", "x.real + y", "abs(x) + y",
                                  "x / y", "x ** y", "x + 0.5", "[x] + y", "w + x"])
def test_expressions_outside_the_polynomial_grammar_are_refused(expr):
    with pytest.raises(GrokjaxError):
        tasks.get_task(expr)


def test_huge_powers_do_not_overflow():
    ops = all_inputs(97, 2)
    want = [(pow(int(x), 64, 97) + int(y)) % 97 for x, y in ops]
    np.testing.assert_array_equal(tasks.get_task("x**64 + y").labels(ops, 97), want)


def test_rand_is_a_seeded_table():
    ops = all_inputs(11, 2)
    a = tasks.get_task("rand", p=11, rand_seed=0).labels(ops, 11)
    b = tasks.get_task("rand", p=11, rand_seed=0).labels(ops, 11)
    c = tasks.get_task("rand", p=11, rand_seed=1).labels(ops, 11)
    np.testing.assert_array_equal(a, b)
    assert (a != c).mean() > 0.5 and a.min() >= 0 and a.max() < 11


def test_unknown_task_suggests_a_name():
    with pytest.raises(GrokjaxError, match="did you mean.*subtract"):
        tasks.get_task("subtrakt")


def test_mixtures():
    mix = tasks.parse_task_spec("add, subtract,multiply")
    assert [t.name for t in mix] == ["add", "subtract", "multiply"]
    with pytest.raises(GrokjaxError, match="arity|two- and three"):
        tasks.parse_task_spec("add,add_z")
    with pytest.raises(GrokjaxError, match="twice"):
        tasks.parse_task_spec("add,add")


@pytest.mark.parametrize("task, p, basis", [
    ("multiply", 97, "multiplicative"), ("multiply_non_zero", 97, "multiplicative"),
    ("x * y", 97, "multiplicative"), ("multiply", 96, "additive"), ("add", 97, "additive"),
    ("subtract", 97, "additive"), ("xy_y", 97, "additive"), ("division", 97, "additive"),
    ("x2_y2", 97, "additive")])
def test_a_task_owns_the_basis_of_its_key_frequencies(task, p, basis):
    """Only the plain product x * y by a prime is addition of discrete logs; every other task
    (even one that multiplies, such as x*y + y) reads its key frequencies over Z/p."""
    assert tasks.get_task(task).key_basis(p) == basis


def test_the_probes_and_the_figures_read_the_tasks_basis():
    """The run's probe spec and the plot's marks take the basis from the task, not a rule of
    their own."""
    from grokjax import config as config_lib
    from grokjax.experiment import build
    from grokjax.report import plot
    for task in ("multiply", "add"):
        cfg = config_lib.load_config("tests/tiny.py", [f"task={task}"])
        spec = build(cfg).scfg.probe
        want = tasks.get_task(task).key_basis(cfg.p)
        assert spec.table and spec.table_basis == want
        summary = {"seeds": [{"seed": 0}]}
        assert plot.key_basis({"task": task, "p": cfg.p}, summary) == want
