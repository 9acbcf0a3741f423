"""The methods that claim to make grokking fast or unnecessary, against matched baselines: every
arm on the same seeds and splits, as one program (`grid.arms`; issue #26).

    grokjax train configs/comparison.py:quick --out runs/cmp  # add mod 31, 16 seeds, 3,000 steps
    grokjax compare runs/cmp                                  # grok steps and speed-ups, with CIs
    grokjax train configs/comparison.py:furuta                # Furuta's add mod 97, r = 0.3
    grokjax train configs/comparison.py:nanda                 # Nanda's p = 113
    grokjax train configs/comparison.py:grokfast              # Grokfast's own setting

The arms, each on every seed (lr and wd are the setting's own: Furuta's and Nanda's 1e-3 and 1;
quick's 3e-3 and 3; the grokfast setting has its own six, GROKFAST_ARMS below):

    adamw               the setting's AdamW
    adamw-wd0           without weight decay (the control for StableMax and ⊥AdamW)
    adamw-3wd           three times the weight decay (with adamw and adamw-wd0: the tuned wd)
    adamw-3lr           three times the lr: Grokfast EMA's lamb = 2 amplifies the slow
                        gradient (1 + lamb) = 3x, "more like 3x the lr" (lucidrains/grokfast-pytorch#1)
    grokfast-ema        Grokfast EMA at its published setting, alpha 0.98, lamb 2 (ironjr/grokfast)
    grokfast-ema-lr/3   the same at a third of the lr: a matched effective step
    grokfast-ma         Grokfast MA at its published setting, window 100, lamb 5
    stablemax-wd0       StableMax's cross entropy, no weight decay (Prieto et al. 2025 §5)
    orthogonal-wd0      ⊥AdamW, no weight decay (Prieto et al. 2025 §6)

Every member of a program that has the MA arm keeps a 100-step window of its gradients (100x
the params: 21 MB per member of the quick model, 88 MB of Furuta's). Test accuracy is checked
every 10 steps; the grok step is the first at 99% (`train.acc_threshold`).

Expect (quick, measured: 144 members x 3,000 steps in 77 min on one CPU core, 93 member-steps/s;
the MA arm's windows cost most of it; experiments/results/comparison-quick/comparison.md):
AdamW (lr 3e-3, wd 3) grokked 15/16 seeds, median 580 steps [95% CI 485, 685]; 3x its lr 275
[230, 570], a 2.1x speed-up [1.1, 2.6]; Grokfast EMA 1,225 [1,120, 1,410], 0.47x [0.36, 0.55]
(slower), at a third of the lr 2,410; Grokfast MA 1,755, 0.33x [0.25, 0.47]; no weight decay,
3x the weight decay, StableMax and ⊥AdamW without weight decay: 0/16 within 3,000 steps. The
other settings are for a GPU (issue #24): furuta is 144 members x 2e4 steps (~18 CPU-hours at
the default model's ~45 member-steps/s), grokfast 96 members x 5e4 steps of Power's 2-layer
model (~100 CPU-hours at its ~13 member-steps/s a core).
"""

from grokjax.config import CONFIG_DIR, base_config, exec_file

SETTINGS = ("quick", "furuta", "nanda", "grokfast")

# Grokfast's own setting (ironjr/grokfast main.py): torch.optim.Adam with an L2 weight decay
# (optim.decay='coupled'), 0 for its baseline, 0.005 with EMA and 0.01 with MA as its README's
# commands give them; lr 1e-3, betas (0.9, 0.98), a 10-step warm-up, batches of 512, 50% of the
# pairs, steps to 95% validation accuracy.
GROKFAST_ARMS = (
    "adam: weight_decay=0",
    "adam-l2-0.005: weight_decay=0.005",
    "adam-l2-0.01: weight_decay=0.01",
    "adam-3lr: weight_decay=0 lr=0.003",
    "grokfast-ema: grad_filter=ema grokfast_alpha=0.98 grokfast_lamb=2 weight_decay=0.005",
    "grokfast-ma: grad_filter=ma grokfast_lamb=5 weight_decay=0.01",
)


def arms(lr: float, wd: float) -> tuple[str, ...]:
    """The arms at a setting's lr and weight decay."""
    return (
        f"adamw: weight_decay={wd:g}",
        "adamw-wd0: weight_decay=0",
        f"adamw-3wd: weight_decay={3 * wd:g}",
        f"adamw-3lr: lr={3 * lr:g}",
        "grokfast-ema: grad_filter=ema grokfast_alpha=0.98 grokfast_lamb=2",
        f"grokfast-ema-lr/3: grad_filter=ema grokfast_alpha=0.98 grokfast_lamb=2 lr={lr / 3:g}",
        "grokfast-ma: grad_filter=ma grokfast_lamb=5",
        "stablemax-wd0: softmax=stablemax weight_decay=0",
        "orthogonal-wd0: orthogonal=1 weight_decay=0",
    )


def get_config(arg: str = "quick"):
    if arg not in SETTINGS:
        raise ValueError(f"configs/comparison.py:{arg}: the settings are {', '.join(SETTINGS)}")
    if arg == "quick":
        c = exec_file(CONFIG_DIR / "quick.py").get_config()
        c.train.steps = 3000
    elif arg == "furuta":
        c = base_config()
        c.train.steps = 20_000
    elif arg == "nanda":
        c = exec_file(CONFIG_DIR / "nanda_p113.py").get_config()
        c.train.steps = 20_000
    else:
        c = base_config()
        c.task = "division"  # x / y over y != 0: Grokfast's x * y over y != 0 relabelled
        c.train_fraction = 0.5
        c.model.variant = "power"
        c.model.num_layers = 2
        c.model.act = "gelu"
        c.split.mode = "grok"
        c.optim.decay = "coupled"
        c.optim.warmup_steps = 10
        c.optim.batch_size = 512
        c.train.acc_threshold = 0.95
        c.train.steps = 50_000  # its README: the wd-0 baseline reached 95% at 39,890
    c.seeds = 16
    c.optim.grokfast_window = 100
    c.grid.arms = (GROKFAST_ARMS if arg == "grokfast"
                   else arms(c.optim.lr, c.optim.weight_decay))
    c.probe.every = 0  # the comparison is of grok steps; the Fourier probes cost time
    c.train.chunk_steps = 500
    c.checkpoint.save_every = 1000
    c.train.stop_when_grokked = False
    return c
