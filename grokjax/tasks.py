"""Tasks: what a label is, as a function of the operands, mod p.

A `Task` owns its formula, its arity (2 or 3 operands), its natural operator token, the operand
domain it is defined on (division excludes y = 0, multiply_non_zero excludes any 0) and whether it
needs a prime modulus. Three kinds of task exist:

* named tasks of Furuta et al. (paper.md section 1.1) plus the paper-only ones, looked up by name
  (the reference's `<name>_short` spelling is accepted too), and the tasks of Power et al.
  (openai/grok) under openai/grok's names: its polynomials (quad1, cube2, squarepoly, ...), the
  parity-switched operators (even-addition_odd-multiplication, ...), mix1, and the S5 tasks
  (s5, s5conj, s5aba: operands and labels are element indices 0..119 of `grokjax.groups`, so
  they need p = 120, and `Task.group` is 'S5': nothing Fourier over Z/p applies to them);
* polynomials written by the user, e.g. ``"x**3 + 2*x*y"``, parsed with `ast` into a tree of
  `+ - *` and integer powers: nothing is ever `eval`-ed;
* ``rand``: a seeded random table, the memorisation-only control.

Labels are computed on the host with numpy, reducing mod p after every operation, so large
powers never overflow. `parse_task_spec` turns the config's ``task`` string (comma-separated for a
mixture) into a tuple of tasks.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
from typing import Callable

import numpy as np

from grokjax import groups
from grokjax.errors import GrokjaxError
from grokjax.modular import is_prime

LabelFn = Callable[..., np.ndarray]  # (operand arrays..., p) -> labels in [0, p)


@dataclasses.dataclass(frozen=True)
class Task:
    """One modular task. `labels(operands, p)` maps an (N, arity) int array to N labels."""

    name: str
    formula: str  # human-readable, in x, y, z
    arity: int
    op: str  # the natural operator token: one of '=', '+', '-', '*', '/'
    domain: str = "all"  # 'all' | 'y_nonzero' | 'nonzero'
    requires_prime: bool = False
    fn: LabelFn | None = dataclasses.field(default=None, compare=False, repr=False)
    # Whether it multiplies or divides operands by each other (x*y, x/y, x*y**2 + y; not 2*x,
    # x**2 or (x + y)**2): its spectra in the discrete-log basis say something.
    multiplies: bool = False
    # The group its operands are elements of ('S5'), or None for numbers mod p. A group task's
    # tokens are element indices: no Fourier basis of Z/p means anything for it.
    group: str | None = None
    # openai/grok's operator token for it (a key of its VALID_OPERATORS: '+', '/', 's5',
    # 'x**2+y**2_mod_97', ...), the token between the operands in model.variant='power''s
    # layout; None for tasks openai/grok does not have.
    grok_op: str | None = None

    def labels(self, operands: np.ndarray, p: int) -> np.ndarray:
        if self.group is not None:
            check_group_modulus(self, p)
        cols = [np.asarray(operands[:, i], dtype=np.int64) % p for i in range(self.arity)]
        return (self.fn(*cols, p) % p).astype(np.int32)

    def key_basis(self, p: int) -> str | None:
        """The basis its key frequencies are read in: the discrete log ('multiplicative',
        Fourier over Z/(p-1)) for the product x * y by a prime p, where multiplication is
        addition of logs; else the additive basis of Z/p; None for a group task (S5), whose
        element indices have no Fourier basis. The one rule behind the probes, the figures'
        marks and the reports."""
        if self.group is not None:
            return None
        return ("multiplicative" if self.formula == "x * y" and self.arity == 2 and is_prime(p)
                else "additive")

    def shows_discrete_log(self, p: int) -> bool:
        """Whether its discrete-log spectra are worth drawing: p is prime and it multiplies
        operands (for additive tasks those panels are noise; never for a group task)."""
        return self.group is None and self.multiplies and is_prime(p)


def check_group_modulus(task: Task, p: int) -> None:
    """A group task's operands and labels are its element indices: p must be the group's
    order."""
    if task.group == "S5" and p != groups.ORDER:
        raise GrokjaxError(
            f"task {task.name!r} is on S5, whose {groups.ORDER} elements are the tokens: set "
            f"p={groups.ORDER} (p={p} given)")


# ----------------------------------------------------------------------------------------------
# A safe modular evaluator for polynomial expressions.

_VARS = ("x", "y", "z")


def _check_expr(node: ast.AST, source: str) -> None:
    """Accepts only integer constants, x/y/z, + - * and ** with a small non-negative exponent."""
    ok = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Add, ast.Sub, ast.Mult, ast.Pow,
          ast.USub, ast.UAdd, ast.Name, ast.Load, ast.Constant)
    for n in ast.walk(node):
        if not isinstance(n, ok):
            raise GrokjaxError(
                f"task expression {source!r}: {type(n).__name__} is not allowed; write a "
                "polynomial in x, y, z with integers, +, -, * and ** (e.g. 'x**3 + 2*x*y')")
        if isinstance(n, ast.Name) and n.id not in _VARS:
            raise GrokjaxError(
                f"task expression {source!r}: unknown variable {n.id!r}; use x, y and z")
        if isinstance(n, ast.Constant) and (type(n.value) is not int or n.value < 0):
            raise GrokjaxError(
                f"task expression {source!r}: constant {n.value!r} is not a non-negative integer")
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow):
            if not (isinstance(n.right, ast.Constant) and type(n.right.value) is int
                    and 0 <= n.right.value <= 64):
                raise GrokjaxError(
                    f"task expression {source!r}: exponents must be integer constants 0..64")


def _eval_mod(node: ast.AST, env: dict[str, np.ndarray], p: int) -> np.ndarray:
    if isinstance(node, ast.Expression):
        return _eval_mod(node.body, env, p)
    if isinstance(node, ast.Constant):
        return np.int64(node.value % p)
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _eval_mod(node.operand, env, p)
        return (-v) % p if isinstance(node.op, ast.USub) else v
    a = _eval_mod(node.left, env, p)
    if isinstance(node.op, ast.Pow):
        out = np.ones_like(a) if isinstance(a, np.ndarray) else np.int64(1)
        for _ in range(node.right.value):
            out = (out * a) % p
        return out
    b = _eval_mod(node.right, env, p)
    if isinstance(node.op, ast.Add):
        return (a + b) % p
    if isinstance(node.op, ast.Sub):
        return (a - b) % p
    return (a * b) % p  # ast.Mult


def _has_product(node: ast.AST) -> bool:
    """Whether an expression multiplies two factors that hold different variables (x * y,
    x * y**2; not 2 * x, x * x or (x + y)**2)."""
    for n in ast.walk(node):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult):
            left, right = ({m.id for m in ast.walk(side) if isinstance(m, ast.Name)}
                           for side in (n.left, n.right))
            if left and right and left != right:
                return True
    return False


def _parse(formula: str) -> ast.Expression:
    try:
        tree = ast.parse(formula.replace("^", "**"), mode="eval")
    except SyntaxError as e:
        raise GrokjaxError(f"task expression {formula!r} does not parse: {e.msg}") from None
    _check_expr(tree, formula)
    return tree


def polynomial(formula: str) -> tuple[int, LabelFn]:
    """Parses `formula` safely; returns (arity, label function)."""
    tree = _parse(formula)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    arity = 3 if "z" in names else 2

    def fn(*args):
        *cols, p = args
        out = _eval_mod(tree, dict(zip(_VARS, cols)), p)
        return np.broadcast_to(out, cols[0].shape).astype(np.int64)

    return arity, fn


# ----------------------------------------------------------------------------------------------
# The named tasks.

def _division(x, y, p):
    return (x * _inverses(p)[y]) % p


def _inverses(p: int) -> np.ndarray:
    """y^-1 mod a prime p for every residue y (0 for y = 0, which has none)."""
    return np.array([pow(int(v), p - 2, p) if v else 0 for v in range(p)], dtype=np.int64)


def _even_add_odd_multiply(x, y, p):  # openai/grok's '+*': the parity of x's residue 0..p-1
    return np.where(x % 2 == 0, x + y, x * y) % p


def _even_add_odd_subtract(x, y, p):  # openai/grok's '+-'
    return np.where(x % 2 == 0, x + y, x - y) % p


def _mix1(x, y, p):
    """openai/grok's mix1, `(x._value//y)if(y._value%2==1)else(x-y)` on `mod.Mod` numbers:
    int // Mod is Mod's __rfloordiv__, x * y^-1 mod p (mod 0.3.0), so x / y for odd y (never
    0) and x - y for even y."""
    return np.where(y % 2 == 1, x * _inverses(p)[y], x - y) % p


def _group_task(name: str, formula: str) -> Task:
    table = groups.TABLES[name]
    return Task(name=name, formula=formula, arity=2, op="=", group="S5", grok_op=name,
                fn=lambda x, y, p: table[x, y])


def _poly_task(name: str, formula: str, op: str = "=", **kw) -> Task:
    arity, fn = polynomial(formula)
    return Task(name=name, formula=formula, arity=arity, op=op, fn=fn,
                multiplies=_has_product(_parse(formula)), **kw)


def _registry() -> dict[str, Task]:
    tasks = [
        _poly_task("add", "x + y", op="+", grok_op="+"),
        _poly_task("subtract", "x - y", op="-", grok_op="-"),
        _poly_task("multiply", "x * y", op="*", requires_prime=True, grok_op="*"),
        # openai/grok writes its division data as c = a; a = b * c: the triples (b*c, b, c) over
        # every c and b != 0, which are these (x, y, x/y) over x and y != 0, in another order
        # (data.py's split.mode='grok' keeps openai/grok's order).
        Task("division", "x / y", 2, "/", domain="y_nonzero", requires_prime=True, fn=_division,
             multiplies=True, grok_op="/"),
        _poly_task("multiply_non_zero", "x * y", op="*", domain="nonzero", requires_prime=True),
        # Two-variable polynomials of the reference (always the '=' operator, "short" form).
        _poly_task("x_x_y", "2*x + y"),
        _poly_task("x_x_m_y", "2*x - y"),
        _poly_task("2x_3y", "2*x + 3*y"),
        _poly_task("2x_m_3y", "2*x - 3*y"),
        _poly_task("xy_y", "x*y + y"),
        _poly_task("xy_m_y", "x*y - y"),
        _poly_task("xy_x_y", "x*y + x + y"),
        _poly_task("xy_x_m_y", "x*y + x - y"),  # the reference config computes x*y + x + y (bug)
        _poly_task("x2_y", "x**2 + y"),
        _poly_task("x2_m_y", "x**2 - y"),
        _poly_task("x3_2y", "x**3 + 2*y"),
        _poly_task("x3_m_2y", "x**3 - 2*y"),
        _poly_task("x2_m_y2", "x**2 - y**2"),
        _poly_task("x2_xy_y2", "x**2 + x*y + y**2"),
        _poly_task("x2_xy_y2_x", "x**2 + x*y + y**2 + x"),
        _poly_task("x3_xy", "x**3 + x*y"),
        _poly_task("x3_xy2_y", "x**3 + x*y**2 + y"),
        _poly_task("x2_2xy_y2", "(x + y)**2"),
        _poly_task("x2_m_2xy_y2", "(x - y)**2"),
        _poly_task("x2_2xy_y2_x_y", "(x + y)**2 + x + y"),
        # Three-variable tasks: input [x, op, y, op, z].
        _poly_task("add_z", "x + y + z", op="+"),
        _poly_task("subtract_z", "x - y - z", op="-"),
        _poly_task("multiply_z", "x * y * z", op="*", requires_prime=True),
        _poly_task("x2_y2_z", "x**2 + y**2 + z"),
        _poly_task("x2_y2_z2", "x**2 + y**2 + z**2"),
        # openai/grok's tasks under its names (VALID_OPERATORS' values), each with its operator
        # token; its polynomials are those of its eval (squarepoly: `a **2+ b`) or of its
        # 'x**2+y**2_mod_97'-style keys on mod.Mod numbers, several equal to tasks above.
        _poly_task("squarepoly", "x**2 + y", grok_op="**2+"),  # = x2_y
        _poly_task("cubepoly", "x**3 + y", grok_op="**3+"),
        _poly_task("quad1", "x**2 + y**2", grok_op="x**2+y**2_mod_97"),  # = x2_y2
        _poly_task("quad2", "x**2 + y**2 + x*y", grok_op="x**2+y**2+x*y_mod_97"),  # = x2_xy_y2
        _poly_task("quad3", "x**2 + y**2 + x*y + x",
                   grok_op="x**2+y**2+x*y+x_mod_97"),  # = x2_xy_y2_x
        _poly_task("cube1", "x**3 + x*y", grok_op="x**3+x*y_mod_97"),  # = x3_xy
        _poly_task("cube2", "x**3 + x*y**2 + y", grok_op="x**3+x*y**2+y_mod_97"),  # = x3_xy2_y
        Task("mix1", "x / y if y is odd else x - y", 2, "=", requires_prime=True, fn=_mix1,
             multiplies=True, grok_op="(x._value//y)if(y._value%2==1)else(x-y)_mod_97"),
        Task("even-addition_odd-multiplication", "x + y if x is even else x * y", 2, "=",
             fn=_even_add_odd_multiply, multiplies=True, grok_op="+*"),
        Task("even-addition_odd-subtraction", "x + y if x is even else x - y", 2, "=",
             fn=_even_add_odd_subtract, grok_op="+-"),
        _group_task("s5", "y[x]: x, then y (S5)"),
        _group_task("s5conj", "x y x^-1, sympy's order: x, then y, then x^-1 (S5)"),
        _group_task("s5aba", "x y x, sympy's order: x, then y, then x (S5)"),
    ]
    # Sums of powers a^n + b^n (n = 2..7; x2_y2 is the reference's name for n = 2) and
    # (a + b)^n, (a - b)^n for n = 3..7 (the paper's Table A.5; the reference stops at 4).
    for n in range(2, 8):
        tasks.append(_poly_task(f"x{n}_y{n}", f"x**{n} + y**{n}"))
    for n in range(3, 8):
        tasks.append(_poly_task(f"_x_y__{n}", f"(x + y)**{n}"))
        tasks.append(_poly_task(f"_x_m_y__{n}", f"(x - y)**{n}"))
    return {t.name: t for t in tasks}


TASKS: dict[str, Task] = _registry()
RAND = "rand"
# The tasks registered for openai/grok alone (Power et al.), not Furuta's: a sweep of Furuta's
# tables leaves them out.
GROK_ONLY = ("squarepoly", "cubepoly", "quad1", "quad2", "quad3", "cube1", "cube2", "mix1",
             "even-addition_odd-multiplication", "even-addition_odd-subtraction", "s5",
             "s5conj", "s5aba")


def rand_task(seed: int, p: int) -> Task:
    """A random function on (Z/p)^2 drawn with numpy from `seed`: there is nothing to generalise."""
    table = np.random.default_rng(seed).integers(0, p, size=(p, p), dtype=np.int64)
    return Task(name=RAND, formula=f"random table (seed {seed})", arity=2, op="=",
                fn=lambda x, y, p_: table[x, y])


def get_task(spec: str, *, p: int = 0, rand_seed: int = 0) -> Task:
    """One task from a name, a reference `_short` name, 'rand' or a polynomial expression."""
    spec = spec.strip()
    name = spec[: -len("_short")] if spec.endswith("_short") else spec
    if name in TASKS:
        if p and TASKS[name].group is not None:
            check_group_modulus(TASKS[name], p)
        return TASKS[name]
    if name == RAND:
        return rand_task(rand_seed, p)
    if any(c in spec for c in "+-*^()") or spec in _VARS:
        formula = " ".join(spec.split())
        try:
            return _poly_task(formula, formula)
        except GrokjaxError:
            # a misspelt name with a '-' in it ('even-addition_odd-multiplicaton') reads as a
            # polynomial: name the task it was meant to be rather than the parse error
            if not difflib.get_close_matches(name, [n for n in TASKS if "-" in n], n=1):
                raise
    close = difflib.get_close_matches(name, list(TASKS) + [RAND], n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise GrokjaxError(
        f"unknown task {spec!r}: {hint}use a task name (see `grokjax tasks`), 'rand', a "
        "polynomial such as 'x**3 + 2*x*y', or a comma-separated mixture")


def parse_task_spec(spec: str, *, p: int = 0, rand_seed: int = 0) -> tuple[Task, ...]:
    """The config's `task` string: one task, or a comma-separated mixture of distinct tasks."""
    parts = [s for s in (part.strip() for part in spec.split(",")) if s]
    if not parts:
        raise GrokjaxError("task is empty: set task=add (or another task name)")
    tasks = tuple(get_task(s, p=p, rand_seed=rand_seed) for s in parts)
    if len({t.name for t in tasks}) != len(tasks):
        raise GrokjaxError(f"task mixture {spec!r} names a task twice; list each task once")
    if len({t.arity for t in tasks}) > 1:
        raise GrokjaxError(
            f"task mixture {spec!r} mixes two- and three-variable tasks; mix tasks of one arity")
    if len({t.group for t in tasks}) > 1:
        raise GrokjaxError(
            f"task mixture {spec!r} mixes S5 tasks with tasks on numbers, whose operands would "
            "share tokens; mix tasks of one kind")
    return tasks


# The downstream tasks of the paper's transfer experiments (Fig. 2, Table 1): every task the
# reference ships `*_ft_emb` / `*_ft_model` configs for.
TRANSFER_TARGETS = (
    "add", "subtract", "multiply", "multiply_non_zero", "x_x_y", "x_x_m_y", "2x_3y", "2x_m_3y",
    "xy_y", "xy_m_y", "x2_y", "x2_m_y", "x3_2y", "x3_m_2y", "x2_y2", "x2_m_y2", "x2_xy_y2",
    "x2_xy_y2_x", "x3_xy", "x3_xy2_y", "x2_2xy_y2", "x2_m_2xy_y2", "x2_2xy_y2_x_y")
TRANSFER_SOURCES = ("add", "subtract", "multiply")
