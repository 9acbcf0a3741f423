"""Experiment configs: defaults, loading `configs/*.py`, dotted overrides, validation.

A config file defines ``get_config(arg=None) -> ml_collections.ConfigDict``, starting from
`base_config()` so that every run has every field; ``configs/polynomials.py:x2_y2`` passes
``'x2_y2'`` as `arg` (big_vision's convention). The config is locked: an override of a key that
does not exist is an error, never a silently new field. `validate` checks every value and raises
`GrokjaxError` with a one-line message; the model itself only ever sees the frozen
`ModelConfig` built by `model_config`.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import json
import pathlib
from typing import Any

import ml_collections

from grokjax.errors import GrokjaxError
from grokjax.model import ModelConfig
from grokjax.tasks import Task, is_prime, parse_task_spec

CONFIG_DIR = pathlib.Path(__file__).resolve().parent.parent / "configs"


def base_config() -> ml_collections.ConfigDict:
    """Every field, at Furuta's defaults: add mod 97, r = 0.3, the 1-layer transformer, AdamW."""
    c = ml_collections.ConfigDict()
    c.task = "add"  # a task name, a polynomial like 'x**3 + 2*x*y', 'rand', or 'add,subtract'
    c.p = 97  # the modulus
    c.train_fraction = 0.3  # r = |train| / |all inputs|
    c.seeds = 4  # train seeds 0 .. seeds-1 ...
    c.seed_list = ()  # ... unless this lists them explicitly, e.g. (3, 5, 7)
    c.rand_seed = 0  # the table of the 'rand' task
    c.split = ml_collections.ConfigDict(dict(
        mode="paper",  # 'paper': operands 0..p-1 | 'reference': frt03's pair list and shuffle
        symmetric=False,  # keep only inputs with x <= y (<= z)
        seed=-1,  # -1: each seed's split comes from its own seed; >= 0: one split for all seeds
    ))
    c.model = ml_collections.ConfigDict(dict(
        arch="transformer",  # 'transformer' | 'mlp'
        variant="furuta",  # 'furuta' | 'nanda' (pos-embed, MLP biases, vocab p+1, [a, b, =])
        num_layers=1,
        d_model=128,
        num_heads=4,
        d_head=32,
        d_mlp=512,
        act="relu",  # 'relu' | 'gelu'
        d_emb=500,  # MLP model only
        weight_scale=1.0,  # multiplies every init std (Omnigrok's alpha)
    ))
    c.optim = ml_collections.ConfigDict(dict(
        lr=1e-3,
        weight_decay=1.0,  # decoupled, as torch.optim.AdamW
        b1=0.9,
        b2=0.98,
        eps=1e-8,
        warmup_steps=0,  # linear warm-up min(step / warmup_steps, 1) (Nanda: 10)
        batch_size=0,  # 0: full batch; else a random minibatch of this size each step
    ))
    c.train = ml_collections.ConfigDict(dict(
        steps=20_000,
        eval_every=10,  # test metrics (and the grok step) at this resolution, in steps
        chunk_steps=1000,  # steps per device program; metrics reach the host once per chunk
        acc_threshold=0.99,  # memorised / grokked when train / test accuracy reaches this
        stop_when_grokked=False,  # end early once every seed has grokked
        batching="auto",  # seeds: 'vmap' | 'map' (bit-exact per seed) | 'auto' (map on CPU)
    ))
    c.probe = ml_collections.ConfigDict(dict(
        every=100,  # steps between probes inside the program (0: none); divides train.chunk_steps
        eta=0.5,  # FFD's threshold, a fraction of the largest component
        threshold=0.85,  # a key frequency explains more than this of some neuron's variance
    ))
    c.grid = ml_collections.ConfigDict(dict(  # see grokjax/grid.py; () = not gridded
        lr=(),  # e.g. (3e-4, 1e-3, 3e-3): replaces optim.lr
        weight_decay=(),  # replaces optim.weight_decay
        train_fraction=(),  # replaces train_fraction
        weight_scale=(),  # replaces model.weight_scale
    ))
    c.checkpoint = ml_collections.ConfigDict(dict(
        save_every=2000,  # steps between checkpoints (a multiple of train.chunk_steps); 0: none
        keep=3,  # the latest this many are kept, plus step 0, the final step and `pin`
        pin=(),  # steps always kept, e.g. (10000,)
        async_save=True,  # write in the background; a run never ends before its last save
    ))
    c.transfer = ml_collections.ConfigDict(dict(
        from_run="",  # a run directory, optionally RUN@STEP (default: its latest checkpoint)
        load="",  # groups copied from it: embed, transformer, unembed, full (comma-separated)
        freeze="",  # groups that receive no update and no weight decay
        source_seed=-1,  # -1: target seed s takes source seed s; >= 0: every seed takes this one
    ))
    c.tensorboard = ml_collections.ConfigDict(dict(
        enabled=True,  # event files under RUN/tb (see grokjax/tblog.py)
        seed_runs=64,  # a TensorBoard run for each of the first this many seeds (-1: all);
                       # the aggregate run covers every seed
        detail_seeds=4,  # spectra images and weight histograms for the first this many seeds
    ))
    c.numerics = ml_collections.ConfigDict(dict(
        loss_dtype="float64",  # 'float64' (jax x64; float32 on TPU) | 'float32'
        matmul_precision="highest",  # 'default' | 'high' | 'highest' (full float32 on GPU/TPU)
    ))
    return c


def resolve_path(spec: str) -> tuple[pathlib.Path, str | None]:
    """'configs/polynomials.py:x2_y2' -> (path, 'x2_y2'); a bare 'add' finds configs/add.py,
    and 'configs/add.py' works from any directory."""
    path, _, arg = spec.partition(":")
    name = pathlib.Path(path).name
    candidates = [pathlib.Path(path), CONFIG_DIR / path, CONFIG_DIR / f"{path}.py",
                  CONFIG_DIR / name]
    for cand in candidates:
        if cand.is_file():
            return cand, (arg or None)
    known = sorted(p.stem for p in CONFIG_DIR.glob("*.py")) if CONFIG_DIR.is_dir() else []
    raise GrokjaxError(
        f"config file {path!r} not found; give a path such as configs/add.py or one of: "
        + ", ".join(known))


def exec_file(path: pathlib.Path):
    """A Python file (a config or a sweep) run as a module of its own."""
    module_spec = importlib.util.spec_from_file_location(f"grokjax_file_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def load_config(spec: str, overrides: list[str] = ()) -> ml_collections.ConfigDict:
    """The locked config of a config file (with its ':ARG'), with 'dotted.key=value' overrides."""
    path, arg = resolve_path(spec)
    module = exec_file(path)
    if not hasattr(module, "get_config"):
        raise GrokjaxError(f"config file {path} defines no get_config()")
    try:
        cfg = module.get_config(arg) if arg is not None else module.get_config()
    except (KeyError, ValueError, TypeError) as e:
        raise GrokjaxError(f"config {spec!r}: {e}") from None
    cfg.lock()
    apply_overrides(cfg, list(overrides))
    return cfg


def flatten(cfg: ml_collections.ConfigDict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in cfg.items():
        if isinstance(value, ml_collections.ConfigDict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _parse_value(key: str, text: str, current: Any) -> Any:
    kind = type(current)
    try:
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            value = float(text) if any(c in text for c in ".eE") else int(text)
            if value != int(value):
                raise ValueError
            return int(value)
        if kind is float:
            return float(text)
        if kind is tuple:
            value = ast.literal_eval(text) if text.strip() else ()
            return tuple(value) if isinstance(value, (tuple, list)) else (value,)
        return text
    except (ValueError, SyntaxError):
        raise GrokjaxError(
            f"config key {key} expects {kind.__name__}, got {text!r}") from None


def apply_overrides(cfg: ml_collections.ConfigDict, overrides: list[str]) -> None:
    """Applies 'dotted.key=value' strings in place; unknown keys and bad values are errors."""
    known = flatten(cfg)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise GrokjaxError(f"override {item!r} is not key=value (e.g. --set model.d_model=64)")
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "see `grokjax config`"
            raise GrokjaxError(f"unknown config key {key!r}: {hint}")
        value = _parse_value(key, text.strip(), known[key])
        node = cfg
        *parents, leaf = key.split(".")
        for part in parents:
            node = node[part]
        with cfg.unlocked():
            node[leaf] = value
        known[key] = value


_CHOICES = {
    "split.mode": ("paper", "reference"),
    "model.arch": ("transformer", "mlp"),
    "train.batching": ("auto", "vmap", "map"),
    "model.variant": ("furuta", "nanda"),
    "model.act": ("relu", "gelu"),
    "numerics.loss_dtype": ("float64", "float32"),
    "numerics.matmul_precision": ("default", "high", "highest"),
}
_POSITIVE = ("p", "model.num_layers", "model.d_model", "model.num_heads", "model.d_head",
             "model.d_mlp", "model.d_emb", "train.steps", "train.eval_every", "train.chunk_steps",
             "optim.lr", "optim.eps", "model.weight_scale")
_NON_NEGATIVE = ("optim.weight_decay", "optim.warmup_steps", "optim.batch_size")


def validate(cfg: ml_collections.ConfigDict) -> tuple[Task, ...]:
    """Checks every value; returns the parsed tasks. Raises GrokjaxError naming the fix."""
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
    if not 0.0 < cfg.train.acc_threshold <= 1.0:
        raise GrokjaxError(f"train.acc_threshold={cfg.train.acc_threshold} is outside (0, 1]")
    for key in ("optim.b1", "optim.b2"):
        if not 0.0 <= flat[key] < 1.0:
            raise GrokjaxError(f"{key}={flat[key]} is outside [0, 1)")
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
    if cfg.model.arch == "mlp" and cfg.model.variant != "furuta":
        raise GrokjaxError("model.arch='mlp' is Furuta's MLP; set model.variant='furuta'")
    from grokjax.transfer import parse_groups  # pylint: disable=import-outside-toplevel
    parse_groups(cfg.transfer.load, "transfer.load")
    parse_groups(cfg.transfer.freeze, "transfer.freeze")
    tasks = parse_task_spec(cfg.task, p=cfg.p, rand_seed=cfg.rand_seed)
    needs_prime = [t.name for t in tasks if t.requires_prime]
    if needs_prime and not is_prime(cfg.p):
        raise GrokjaxError(
            f"p={cfg.p} is not prime, but {', '.join(needs_prime)} needs a prime modulus "
            "(inverses and the multiplicative group); use a prime such as 97 or 113")
    return tasks


def _validate_grid(cfg: ml_collections.ConfigDict) -> None:
    checks = {"lr": (lambda v: v > 0, "positive"), "weight_decay": (lambda v: v >= 0, ">= 0"),
              "train_fraction": (lambda v: 0 < v < 1, "in (0, 1)"),
              "weight_scale": (lambda v: v > 0, "positive")}
    for axis, (ok, what) in checks.items():
        values = cfg.grid[axis]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise GrokjaxError(f"grid.{axis}={tuple(values)} must hold numbers, e.g. "
                               f"--grid {axis}=0.3,1,3")
        if not all(ok(v) for v in values):
            raise GrokjaxError(f"grid.{axis}={tuple(values)}: every value must be {what}")
        if len(set(values)) != len(values):
            raise GrokjaxError(f"grid.{axis}={tuple(values)} repeats a value")
    gridded = any(len(cfg.grid[a]) for a in checks)
    if cfg.grid.train_fraction and cfg.optim.batch_size:
        raise GrokjaxError("grid.train_fraction needs full-batch training (optim.batch_size=0): "
                           "a minibatch of a padded split would draw padding")
    if gridded and (cfg.transfer.from_run or cfg.transfer.freeze):
        raise GrokjaxError("a grid run cannot transfer (transfer.from_run / transfer.freeze); "
                           "run one transfer per setting instead")


def from_saved(saved: dict) -> ml_collections.ConfigDict:
    """A run's config.json as a locked config; keys added to grokjax since it was written take
    their defaults, so older runs can still be resumed, inspected and transferred from."""
    cfg = base_config()

    def fill(node, values, prefix=""):
        for key, value in values.items():
            if key not in node:
                raise GrokjaxError(f"saved config has an unknown key {prefix}{key}")
            if isinstance(node[key], ml_collections.ConfigDict):
                fill(node[key], value, f"{prefix}{key}.")
            else:
                node[key] = tuple(value) if isinstance(node[key], tuple) else value

    fill(cfg, saved)
    cfg.lock()
    return cfg


def seeds(cfg: ml_collections.ConfigDict) -> list[int]:
    return [int(s) for s in cfg.seed_list] if cfg.seed_list else list(range(cfg.seeds))


def split_seeds(cfg: ml_collections.ConfigDict, seeds_: list[int] | None = None) -> list[int]:
    """Each seed's split seed (of `seeds_`, default the config's): its own seed, or the one
    fixed split.seed."""
    return [s if cfg.split.seed < 0 else cfg.split.seed
            for s in (seeds(cfg) if seeds_ is None else seeds_)]


def model_config(cfg: ml_collections.ConfigDict, d_vocab: int, n_ctx: int) -> ModelConfig:
    m = cfg.model
    return ModelConfig(
        d_vocab=d_vocab, n_ctx=n_ctx, arch=m.arch, variant=m.variant, num_layers=m.num_layers,
        d_model=m.d_model, num_heads=m.num_heads, d_head=m.d_head, d_mlp=m.d_mlp, act=m.act,
        d_emb=m.d_emb, weight_scale=m.weight_scale, precision=cfg.numerics.matmul_precision)


# Keys that may differ between a run and its resumption: they change when or how long a run
# goes, or what it keeps on disk, never a number it computes.
RESUMABLE_KEYS = ("train.steps", "train.stop_when_grokked", "checkpoint.save_every",
                  "checkpoint.keep", "checkpoint.pin", "checkpoint.async_save",
                  "tensorboard.enabled", "tensorboard.seed_runs", "tensorboard.detail_seeds")


def result_changes(saved: dict, cfg: ml_collections.ConfigDict) -> list[str]:
    """'key: saved -> now' for every difference that would change the results. Keys the saved
    config lacks (added to grokjax after the run was written) are not differences."""
    now = flatten(cfg)
    old = flatten(from_saved(saved))
    written = flatten(ml_collections.ConfigDict(saved))
    out = []
    for key in sorted(k for k in now if k in written):
        a, b = old[key], now[key]
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            a, b = tuple(a), tuple(b)
        if a != b and key not in RESUMABLE_KEYS:
            out.append(f"{key}: {a!r} -> {b!r}")
    return out


def to_json(cfg: ml_collections.ConfigDict) -> str:
    return json.dumps(cfg.to_dict(), indent=2, sort_keys=True, default=list)
