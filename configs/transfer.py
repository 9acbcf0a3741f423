"""Transfer from a pre-grokked model (the paper's section 6): PG-E and PG-T.

    grokjax train configs/arithmetic.py:add --seeds 3 --workdir runs/pretrain/add
    grokjax train configs/transfer.py:pge,add,x_x_y --seeds 3 --workdir runs/pge-add/x_x_y
    grokjax train configs/transfer.py:pgt,multiply,xy_y --seeds 3
    grokjax sweep experiments/sweep_transfer.py     # pre-training, then every downstream run

ARG is MODE,SOURCE,TARGET. MODE 'pge' (pre-grokked embedding) loads and freezes the source's
embedding; 'pgt' (pre-grokked transformer) loads and freezes its transformer blocks and trains
the embedding and unembedding. SOURCE is add, subtract or multiply, read from
runs/pretrain/SOURCE (change with --init-from RUN); target seed s starts from source seed s, the
same split, as in the paper. TARGET is any task (grokjax.tasks.TRANSFER_TARGETS lists the
paper's). p = 97, r = 0.3. Expect (paper Fig. 2, Table 1): PG-E(add) makes 2a+-b and 2a+-3b
grok at r = 0.3, which they do not from scratch; PG-T(multiply) does the same for ab+-b; PG-E of
add and subtract help each other while multiply and add/subtract hurt each other; PG-T of
subtract transfers to nothing; higher-degree polynomials are rarely helped.
"""

from grokjax.config import base_config
from grokjax.errors import GrokjaxError

MODES = {"pge": "embed", "pgt": "transformer"}


def get_config(arg="pge,add,x_x_y"):
    try:
        mode, source, target = (part.strip() for part in arg.split(","))
        group = MODES[mode]
    except (ValueError, KeyError):
        raise GrokjaxError(f"configs/transfer.py:{arg}: the argument is MODE,SOURCE,TARGET with "
                           "MODE pge or pgt, e.g. configs/transfer.py:pge,add,x_x_y") from None
    c = base_config()
    c.task = target
    c.transfer.from_run = f"runs/pretrain/{source}"
    c.transfer.load = group
    c.transfer.freeze = group
    c.train.steps = 100_000
    c.train.stop_when_grokked = True
    return c
