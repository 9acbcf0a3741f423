"""Co-grokking: several tasks trained together on one shared split (the paper's section 8).

    grokjax train configs/mixtures.py --seeds 3
    grokjax train "configs/mixtures.py:x2_y2,x2_xy_y2,x2_2xy_y2" --seeds 3

ARG is a comma-separated list of tasks (default add,subtract,multiply). Every task shares the
pair split; the loss is the sum of the per-task cross entropies and metrics are kept per task.
Each task gets its own operator token: add, subtract and multiply keep '+', '-', '*' as in the
reference; polynomials (which all use '=') get task tokens p+5, p+6, ... (see grokjax/data.py).
r = 0.9 as the reference's mixture checkpoints. Expect add+sub+mul to co-grok (it needs
r > 0.3; multiplication is slowest), and {a^2+b^2, a^2+ab+b^2, (a+b)^2} to make a^2+ab+b^2 grok.
"""

from grokjax.config import base_config


def get_config(arg="add,subtract,multiply"):
    c = base_config()
    c.task = arg
    c.train_fraction = 0.9
    c.train.steps = 50_000
    return c
