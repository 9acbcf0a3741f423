"""Power et al. (2022)'s setting: openai/grok's 2-layer decoder on its tasks at 50% of the data,
AdamW with weight decay 1 (the paper's main experiments; openai/grok's own default is 0).

    grokjax train configs/power.py:division --seeds 4         # x / y mod 97 (Fig. 1's task)
    grokjax train configs/power.py:s5 --seeds 4               # composition in S5, p = 120
    grokjax train configs/power.py:TASK --set train_fraction=0.3 --set optim.weight_decay=0

TASK is any task openai/grok has (`grokjax tasks`: division, s5, s5conj, s5aba, quad1, cube2,
mix1, ...). As openai/grok: the model has 2 post-LayerNorm layers of width 128, 4 heads, a
512-wide ReLU MLP, sinusoidal positions (`model.variant='power'`), input [<eos>, a, op, b, =];
its split (`split.mode='grok'` with split seed 0 for every seed: the training seed moves only
the init and the batches), minibatches of min(512, N/2) = 512, lr 1e-3 with a 10-step warm-up,
betas (0.9, 0.98). Power's budget is 1e5 steps; on a CPU start with fewer (`--set train.steps=`).

Expect, for division (measured, 3 seeds, 6,000 steps at most; 16 min on one CPU core, ~13
member-steps/s): every seed memorises by step 600-700 and groks (test accuracy >= 99%) at
3,600-4,100 (median 3,600); experiments/results/power-division. For s5 (3 seeds, 6,000 steps,
35 min): memorised only at 4,500-5,600, then lost train accuracy again (final 0.46-0.97), test
accuracy at chance: no grokking within 6,000 of Power's 1e5 steps.
"""

from grokjax.config import base_config


def get_config(arg: str = "division"):
    c = base_config()
    c.task = arg
    c.p = 120 if arg.startswith("s5") else 97
    c.train_fraction = 0.5
    c.model.variant = "power"
    c.model.num_layers = 2
    c.split.mode = "grok"
    c.split.seed = 0
    c.optim.lr = 1e-3
    c.optim.weight_decay = 1.0
    c.optim.warmup_steps = 10
    c.optim.batch_size = 512
    c.train.steps = 100_000
    c.train.eval_every = 100
    c.train.chunk_steps = 1000
    c.probe.every = 0  # the Fourier probes mean nothing for S5; `grokjax probe RUN` reads irreps
    c.checkpoint.save_every = 5000
    return c
