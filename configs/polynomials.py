"""Two-variable modular polynomials (the paper's Table A.5), one per run.

    grokjax train configs/polynomials.py:x2_y2 --seeds 3
    grokjax train configs/polynomials.py:x_x_y --seeds 3 --set train_fraction=0.5
    grokjax train "configs/polynomials.py:x**3 + 2*x*y" --seeds 3

ARG is a task name (`grokjax tasks` lists them: x_x_y = 2x+y, xy_x_m_y = xy+x-y, x5_y5 =
x^5+y^5, _x_y__5 = (x+y)^5, ...) or any polynomial expression in x and y. Input [x, '=', y] as
the reference's "short" form. p = 97, r = 0.3, up to 3e5 steps as in the paper. Expect
factorisable polynomials (a^2+b^2, (a+b)^2, ab+a+b, a^n+b^n, ...) to grok at r = 0.3 and the
non-factorisable ones with cross terms (2a+b, ab+b, a^2+ab+b^2, ...) not to (best test accuracy
2-35% in the paper); those need r of 0.4-0.9.
"""

from grokjax.config import base_config


def get_config(arg="x2_y2"):
    c = base_config()
    c.task = arg
    c.train.steps = 300_000
    c.train.stop_when_grokked = True
    return c
