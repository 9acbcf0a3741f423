"""`validate(cfg)`: every value of a config checked before anything is built, each mistake a
one-line `GrokjaxError` that names the key and the fix; returns the parsed tasks.
`doubts(cfg, tasks)`: values that are allowed but probably not meant, as warning lines.
"""

from __future__ import annotations

import math

import ml_collections

from grokjax import transfer
from grokjax.config.defaults import flatten, seeds
from grokjax.errors import GrokjaxError
from grokjax.modular import is_prime
from grokjax.tasks import Task, parse_task_spec


_CHOICES = {
    "split.mode": ("paper", "reference", "grok"),
    "model.arch": ("transformer", "mlp"),
    "train.batching": ("auto", "vmap", "map"),
    "model.variant": ("furuta", "nanda", "power", "prieto"),
    "model.act": ("relu", "gelu"),
    "model.attention": ("tables", "dense"),
    "numerics.loss_dtype": ("float64", "float32"),
    "numerics.matmul_precision": ("default", "high", "highest"),
    "numerics.softmax": ("softmax", "stablemax"),
    "optim.decay": ("decoupled", "coupled"),
    "optim.grad_filter": ("none", "ema", "ma"),
}
_POSITIVE = ("p", "model.num_layers", "model.d_model", "model.num_heads", "model.d_head",
             "model.d_mlp", "model.d_emb", "train.steps", "train.eval_every", "train.chunk_steps",
             "optim.lr", "optim.eps", "model.weight_scale", "optim.grokfast_window")
_NON_NEGATIVE = ("optim.weight_decay", "optim.warmup_steps", "optim.batch_size",
                 "optim.grokfast_lamb")


def validate(cfg: ml_collections.ConfigDict) -> tuple[Task, ...]:
    """Checks every value; returns the parsed tasks (a mixture's tasks, or with a task grid
    the grid's tasks, one per setting). Raises GrokjaxError naming the fix."""
    flat = flatten(cfg)
    for key, choices in _CHOICES.items():
        if flat[key] not in choices:
            raise GrokjaxError(f"{key}={flat[key]!r} is not one of {', '.join(choices)}")
    for key in _POSITIVE:
        if not flat[key] > 0:
            raise GrokjaxError(f"{key}={flat[key]} must be positive")
    for key in _NON_NEGATIVE:
        if flat[key] < 0:
            raise GrokjaxError(f"{key}={flat[key]} must not be negative")
    if not 0.0 < cfg.train_fraction < 1.0:
        raise GrokjaxError(
            f"train_fraction={cfg.train_fraction} is outside (0, 1); it is the fraction of all "
            "inputs used for training, e.g. train_fraction=0.3")
    if not 0.0 <= cfg.model.attn_rate <= 1.0:
        raise GrokjaxError(f"model.attn_rate={cfg.model.attn_rate} is outside [0, 1]: 1 is the usual "
                           "softmax attention, 0 uniform attention (Zhong et al.'s pizza regime)")
    if cfg.model.attn_rate != 1.0 and cfg.model.arch != "transformer":
        raise GrokjaxError(f"model.attn_rate={cfg.model.attn_rate} needs model.arch='transformer'")
    if not 0.0 < cfg.train.acc_threshold <= 1.0:
        raise GrokjaxError(f"train.acc_threshold={cfg.train.acc_threshold} is outside (0, 1]")
    for key in ("optim.b1", "optim.b2", "optim.grokfast_alpha"):
        if not 0.0 <= flat[key] < 1.0:
            raise GrokjaxError(f"{key}={flat[key]} is outside [0, 1)")
    _check_steps(cfg)
    if cfg.train.chunk_steps % cfg.train.eval_every:
        raise GrokjaxError(
            f"train.chunk_steps={cfg.train.chunk_steps} must be a multiple of "
            f"train.eval_every={cfg.train.eval_every}")
    if cfg.checkpoint.save_every < 0 or cfg.checkpoint.save_every % cfg.train.chunk_steps:
        raise GrokjaxError(
            f"checkpoint.save_every={cfg.checkpoint.save_every} must be 0 or a multiple of "
            f"train.chunk_steps={cfg.train.chunk_steps} (checkpoints fall between chunks)")
    every = cfg.probe.every
    if every < 0 or (every and (every % cfg.train.eval_every or cfg.train.chunk_steps % every
                                or cfg.train.steps % every)):
        raise GrokjaxError(
            f"probe.every={every} must be 0 or a multiple of train.eval_every="
            f"{cfg.train.eval_every} that divides train.chunk_steps={cfg.train.chunk_steps} and "
            f"train.steps={cfg.train.steps}")
    if not 0.0 < cfg.probe.eta < 1.0 or not 0.0 < cfg.probe.threshold < 1.0:
        raise GrokjaxError("probe.eta and probe.threshold are fractions in (0, 1)")
    if cfg.tensorboard.seed_runs < -1 or cfg.tensorboard.detail_seeds < 0:
        raise GrokjaxError("tensorboard.seed_runs (-1: all) and tensorboard.detail_seeds count "
                           "seeds; they cannot be negative")
    if cfg.train.member_group < 0:
        raise GrokjaxError(f"train.member_group={cfg.train.member_group}: members per vmapped "
                           "group, e.g. 256, or 0 (all at once, or what fits the device)")
    if cfg.tensorboard.images < 2:
        raise GrokjaxError(f"tensorboard.images={cfg.tensorboard.images}: keep at least 2 spectra "
                           "images per member (the first and the last), e.g. 200")
    if cfg.checkpoint.keep < 1:
        raise GrokjaxError(f"checkpoint.keep={cfg.checkpoint.keep}: keep at least 1 checkpoint")
    if bool(cfg.transfer.load) != bool(cfg.transfer.from_run):
        raise GrokjaxError("transfer.load and transfer.from_run go together: --init-from RUN "
                           "--load embed (say what to load, and from where)")
    if cfg.p < 2:
        raise GrokjaxError(f"p={cfg.p} is too small; the modulus must be at least 2")
    if cfg.seeds < 1 and not cfg.seed_list:
        raise GrokjaxError(f"seeds={cfg.seeds}: train at least one seed")
    if not all(type(s) is int for s in cfg.seed_list):
        raise GrokjaxError(f"seed_list={tuple(cfg.seed_list)} must hold integers, e.g. (0, 3, 7)")
    if len(set(seeds(cfg))) != len(seeds(cfg)) or min(seeds(cfg)) < 0:
        raise GrokjaxError(f"seed_list={tuple(cfg.seed_list)} must hold distinct seeds >= 0")
    _validate_grid(cfg)
    if cfg.model.arch == "mlp" and cfg.model.variant not in ("furuta", "prieto"):
        raise GrokjaxError(f"model.arch='mlp' with model.variant={cfg.model.variant!r}: the "
                           "MLPs are Furuta's and Prieto et al.'s; set model.variant='furuta' "
                           "or 'prieto'")
    if cfg.model.variant == "prieto" and cfg.model.arch != "mlp":
        raise GrokjaxError("model.variant='prieto' is Prieto et al.'s MLP; set model.arch='mlp'")
    if cfg.model.variant == "prieto" and (cfg.transfer.from_run or cfg.transfer.freeze):
        raise GrokjaxError("model.variant='prieto' does not transfer: it has no embedding or "
                           "transformer blocks, its first layer reads one-hot operands; drop "
                           "--init-from and --freeze")
    if cfg.optim.constrain_norm and cfg.transfer.freeze:
        raise GrokjaxError("optim.constrain_norm rescales every parameter, frozen ones too; "
                           "drop --freeze, or train without the norm constraint")
    transfer.parse_groups(cfg.transfer.load, "transfer.load")
    transfer.parse_groups(cfg.transfer.freeze, "transfer.freeze")
    tasks = (_grid_tasks(cfg) if cfg.grid.task
             else parse_task_spec(cfg.task, p=cfg.p, rand_seed=cfg.rand_seed))
    needs_prime = [t.name for t in tasks if t.requires_prime]
    if needs_prime and not is_prime(cfg.p):
        raise GrokjaxError(
            f"p={cfg.p} is not prime, but {', '.join(needs_prime)} needs a prime modulus "
            "(inverses and the multiplicative group); use a prime such as 97 or 113")
    return tasks


_GRID_CHECKS = {"lr": (lambda v: v > 0, "positive"), "weight_decay": (lambda v: v >= 0, ">= 0"),
                "train_fraction": (lambda v: 0 < v < 1, "in (0, 1)"),
                "weight_scale": (lambda v: v > 0, "positive"),
                "grokfast_lamb": (lambda v: v >= 0, ">= 0"),
                "grokfast_alpha": (lambda v: 0 <= v < 1, "in [0, 1)"),
                "orthogonal": (lambda v: v in (0, 1), "0 (off) or 1 (on)")}
_GRID_TEXT = {"grad_filter": "optim.grad_filter", "softmax": "numerics.softmax"}


def _check_axis(axis: str, values, where: str) -> None:
    """One grid axis's values (or one arm's value, `where` naming it), each a one-line error."""
    if axis in _GRID_CHECKS:
        ok, what = _GRID_CHECKS[axis]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise GrokjaxError(f"{where}={tuple(values)} must hold numbers, e.g. "
                               f"--grid {axis}=0.3,1,3")
        if not all(ok(v) for v in values):
            raise GrokjaxError(f"{where}={tuple(values)}: every value must be {what}")
    elif axis in _GRID_TEXT:
        choices = _CHOICES[_GRID_TEXT[axis]]
        if any(str(v).strip() not in choices for v in values):
            raise GrokjaxError(f"{where}={tuple(values)}: give values of {', '.join(choices)}, "
                               f"e.g. --grid {axis}={','.join(choices)}")


def _arms(cfg: ml_collections.ConfigDict) -> list[dict]:
    """grid.arms, parsed and checked: each arm's {axis: value}."""
    from grokjax.grid import parse_arm  # (same layer; grid reads the config's fields)
    if any(len(cfg.grid[a]) for a in cfg.grid if a != "arms"):
        raise GrokjaxError("grid.arms lists whole settings; it cannot be combined with the "
                           "product axes (grid.lr, ...): put those values into the arms")
    parsed = []
    for text in cfg.grid.arms:
        try:
            name, settings = parse_arm(str(text))
        except ValueError as e:
            raise GrokjaxError(f"grid.arms entry {text!r}: {e}; write 'NAME: AXIS=VALUE "
                               "AXIS=VALUE', e.g. 'ema: grad_filter=ema grokfast_lamb=2'") from None
        for axis, value in settings.items():
            if axis == "task":
                raise GrokjaxError(f"grid.arms entry {text!r}: arms compare methods on one "
                                   "task; grid the task with grid.task instead")
            v = value if axis in _GRID_TEXT else _number(value, f"grid.arms {name!r} {axis}")
            _check_axis(axis, (v,), f"grid.arms {name!r} {axis}")
        parsed.append((name, settings))
    names = [n for n, _ in parsed]
    if len(set(names)) != len(names):
        raise GrokjaxError(f"grid.arms names {names} repeat; give each arm its own name")
    return [s for _, s in parsed]


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise GrokjaxError(f"{where}={text!r} must be a number") from None


def _validate_grid(cfg: ml_collections.ConfigDict) -> None:
    for axis in (*_GRID_CHECKS, *_GRID_TEXT):
        values = cfg.grid[axis]
        _check_axis(axis, values, f"grid.{axis}")
        if len(set(values)) != len(values):
            raise GrokjaxError(f"grid.{axis}={tuple(values)} repeats a value")
    arms = _arms(cfg) if cfg.grid.arms else []
    filtered = cfg.optim.grad_filter != "none" or any(
        str(v).strip() != "none" for v in cfg.grid.grad_filter) or any(
        s.get("grad_filter", "none") != "none" for s in arms)
    for axis in ("grokfast_lamb", "grokfast_alpha"):
        if (cfg.grid[axis] or any(axis in s for s in arms)) and not filtered:
            raise GrokjaxError(f"grid.{axis} has no effect without a Grokfast filter: set "
                               "optim.grad_filter=ema (or ma), or grid grad_filter=none,ema")
    gridded = bool(arms) or any(len(cfg.grid[a]) for a in (*_GRID_CHECKS, *_GRID_TEXT, "task"))
    if (cfg.grid.train_fraction or any("train_fraction" in s for s in arms)) and \
            cfg.optim.batch_size:
        raise GrokjaxError("grid.train_fraction needs full-batch training (optim.batch_size=0): "
                           "a minibatch of a padded split would draw padding")
    if gridded and (cfg.transfer.from_run or cfg.transfer.freeze):
        raise GrokjaxError("a grid run cannot transfer (transfer.from_run / transfer.freeze); "
                           "run one transfer per setting instead")


def _grid_tasks(cfg: ml_collections.ConfigDict) -> tuple[Task, ...]:
    """The task axis's tasks: single tasks, distinct, of one arity and one operand domain (so
    that the members share their inputs and model)."""
    specs = [str(v).strip() for v in cfg.grid.task]
    mixed = [s for s in specs if "," in s]
    if mixed:
        raise GrokjaxError(f"grid.task value {mixed[0]!r} is a mixture; the task axis holds "
                           "single tasks (train a mixture as a run of its own)")
    tasks = tuple(parse_task_spec(s, p=cfg.p, rand_seed=cfg.rand_seed)[0] for s in specs)
    if len({t.name for t in tasks}) != len(tasks):
        raise GrokjaxError(f"grid.task={tuple(specs)} names a task twice; list each once")
    for what, key in (("arity", lambda t: t.arity), ("operand domain", lambda t: t.domain)):
        kinds = {key(t): t.name for t in tasks}
        if len(kinds) > 1:
            raise GrokjaxError(
                f"grid.task mixes tasks of different {what} ({', '.join(kinds.values())}); the "
                "members of a task grid share their inputs: grid tasks of one kind, and run the "
                "others separately")
    return tasks


def _probe_divides_steps(cfg: ml_collections.ConfigDict) -> bool:
    """Whether probe.every is a valid probe interval (a multiple of train.eval_every that
    divides train.chunk_steps), so that train.steps must be a multiple of it too."""
    every = cfg.probe.every
    return (every > 0 and not every % cfg.train.eval_every
            and not cfg.train.chunk_steps % every)


def _check_steps(cfg: ml_collections.ConfigDict) -> None:
    """train.steps against every rule that divides it: a multiple of train.eval_every and (a
    probe ends every interval) of a valid probe.every. The counts it suggests satisfy all of
    them at once; with an invalid probe.every, that key's own error follows."""
    steps, eval_every = cfg.train.steps, cfg.train.eval_every
    rules = [(f"train.eval_every={eval_every}", eval_every)]
    if _probe_divides_steps(cfg):
        rules.append((f"probe.every={cfg.probe.every} (a probe ends every interval)",
                      cfg.probe.every))
    broken = [text for text, m in rules if steps % m]
    if not broken:
        return
    multiple = math.lcm(*(m for _, m in rules))
    message = (f"train.steps={steps} must be a multiple of {' and '.join(broken)}: "
               f"{_nearest(steps, multiple)}")
    if len(rules) > 1:  # without the probes, only train.eval_every divides the steps
        message += (", or --set probe.every=0" if not steps % eval_every else
                    f", or {_nearest(steps, eval_every, give='')} with --set probe.every=0")
    raise GrokjaxError(message)


def _nearest(steps: int, multiple: int, give: str = "give --steps ") -> str:
    """'give --steps 1200 or 1300': the nearest multiples of `multiple` around `steps`."""
    low = steps // multiple * multiple
    options = [n for n in (low, low + multiple) if n > 0]
    return give + " or ".join(str(n) for n in options)


TABLE_WARN_BYTES = 8 << 30  # a run whose token tables and logits would take more says so


def doubts(cfg: ml_collections.ConfigDict, tasks: tuple[Task, ...]) -> list[str]:
    """Values accepted, but probably not what the user meant: each a warning line."""
    out = []
    unreached = [s for s in cfg.checkpoint.pin if s > cfg.train.steps]
    if unreached:
        out.append(f"checkpoint.pin {tuple(unreached)} lies past train.steps={cfg.train.steps}: "
                   "those checkpoints are never saved")
    if cfg.checkpoint.save_every:
        off = [s for s in cfg.checkpoint.pin
               if s % cfg.checkpoint.save_every and s <= cfg.train.steps]
        if off:
            out.append(f"checkpoint.pin {tuple(off)} is not a multiple of checkpoint.save_every"
                       f"={cfg.checkpoint.save_every}: no checkpoint is saved there to keep")
    arity = max(t.arity for t in tasks)
    n_inputs = cfg.p ** arity
    n_train = int(round(cfg.train_fraction * n_inputs))
    if cfg.optim.batch_size and cfg.optim.batch_size >= n_train:
        out.append(f"optim.batch_size={cfg.optim.batch_size} is not smaller than the train set "
                   f"({n_train} examples): every step is full-batch (batch_size=0 says so)")
    frozen = transfer.parse_groups(cfg.transfer.freeze, "transfer.freeze")
    loaded = transfer.parse_groups(cfg.transfer.load, "transfer.load")
    random = [g for g in frozen if g not in loaded and "full" not in loaded]
    if random and cfg.transfer.from_run:
        out.append(f"--freeze {','.join(random)} without loading it: those weights stay at their "
                   f"random init (the paper's App. F control); add it to --load to freeze the "
                   "source's")
    d_vocab = cfg.p + 5 + len(tasks)
    table = n_inputs * (d_vocab * 4 + (2 * arity + 1) * 4) * len(tasks)
    if table > TABLE_WARN_BYTES:
        out.append(f"p={cfg.p} with {arity} operands makes {n_inputs:,} inputs: their tokens and "
                   f"one pass of logits take ~{table / 2**30:.0f} GiB per member")
    return out
