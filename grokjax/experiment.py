"""An experiment: a validated config turned into everything a run needs.

`build(cfg)` parses the tasks, makes the dataset and each seed's split, the model and step
configs (optimiser with any frozen groups, loss dtype, probes) and the seed mesh. It is cheap
and host-side: nothing is trained or compiled here. `grokjax.run` trains an `Experiment`.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from grokjax import checkpoint as ckpt_lib
from grokjax import config as config_lib
from grokjax import data as data_lib
from grokjax import grid as grid_lib
from grokjax import model, numerics, probes, sharding, transfer
from grokjax import train as train_lib
from grokjax.errors import GrokjaxError
from grokjax.optim import make_optimizer
from grokjax.tasks import is_prime, parse_task_spec


@dataclasses.dataclass
class Experiment:
    cfg: ml_collections.ConfigDict
    dataset: data_lib.Dataset
    seeds: list[int]
    split_seeds: list[int]
    train_idx: np.ndarray  # [S, n_train]
    test_idx: np.ndarray  # [S, n_test]
    scfg: train_lib.StepConfig
    mesh: jax.sharding.Mesh
    batching: str  # 'vmap' | 'map', resolved from train.batching
    members: grid_lib.Members  # the leading axis: seeds, or every grid setting x seed
    train_mask: np.ndarray | None = None  # [S, n_train] float32, with a train-fraction grid
    test_mask: np.ndarray | None = None

    @property
    def n_tasks(self) -> int:
        return len(self.dataset.tasks)

    def data(self) -> train_lib.Data:
        """The program's data, on the host (see `place`)."""
        grid = {}
        spec = self.scfg.probe
        if spec is not None and spec.grid:
            p, task = spec.p, self.dataset.tasks[0]
            nanda = self.dataset.vocab.variant == "nanda"
            tokens = probes.grid_tokens(p, self.dataset.vocab.op_tokens[0], nanda)
            operands = np.stack(np.divmod(np.arange(p * p), p), axis=1)
            train = np.zeros((len(self.seeds), p, p), bool)
            for i, idx in enumerate(self.train_idx):
                a, b = self.dataset.operands[idx].T
                inside = (a < p) & (b < p)  # the reference split also has operands p..p+4
                train[i, a[inside], b[inside]] = True
            grid = dict(grid_tokens=jnp.asarray(tokens),
                        grid_labels=jnp.asarray(task.labels(operands, p).reshape(p, p)),
                        grid_train=jnp.asarray(train))
        if self.train_mask is not None:
            grid.update(train_mask=jnp.asarray(self.train_mask),
                        test_mask=jnp.asarray(self.test_mask))
        return train_lib.Data(tokens=jnp.asarray(self.dataset.tokens),
                              labels=jnp.asarray(self.dataset.labels),
                              train_idx=jnp.asarray(self.train_idx),
                              test_idx=jnp.asarray(self.test_idx), **grid)

    def place(self, data: train_lib.Data) -> train_lib.Data:
        """Per-seed fields sharded over the mesh's seed axis, shared tables replicated."""
        fields = {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}
        return data.replace(**{
            k: (sharding.shard_seeds if k in train_lib.PER_SEED else sharding.replicate)(v, self.mesh)
            for k, v in fields.items() if v is not None})

    def init_inputs(self) -> dict[str, np.ndarray]:
        """What `make_init` takes: every member's seed and traced grid values."""
        out = {"seed": np.asarray(self.seeds, np.int32)}
        out.update({axis: np.asarray(self.members.values[axis], np.float32)
                    for axis in grid_lib.TRACED if axis in self.members.axes})
        return out

    def init_state(self) -> train_lib.TrainState:
        """Every member's initial state, sharded over the mesh."""
        init = train_lib.make_init(self.scfg, self.n_tasks, self.batching, self.mesh)
        return init(sharding.shard_seeds(self.init_inputs(), self.mesh))

    def abstract_state(self):
        """Shapes, dtypes and this process's seed sharding of the stacked state."""
        init = train_lib.make_init(self.scfg, self.n_tasks, self.batching, self.mesh)
        shapes = jax.eval_shape(init, jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), self.init_inputs()))
        return ckpt_lib.abstract_like(shapes, NamedSharding(self.mesh, P("seed")))


def _source_d_vocab(cfg: ml_collections.ConfigDict, known: int | None = None) -> int | None:
    """The transfer source's vocabulary size (checking that p and the model match); `known`
    (from a resumed run's run.json) spares reading a source that may have moved since."""
    if not cfg.transfer.from_run:
        return None
    if known is not None:
        return known
    src_dir, _ = transfer.parse_source(cfg.transfer.from_run)
    src = transfer.source_config(src_dir)
    transfer.check_compatible(src, cfg)
    src_tasks = parse_task_spec(src["task"], p=src["p"], rand_seed=src["rand_seed"])
    return data_lib.make_vocab(src_tasks, src["p"], src["model"]["variant"]).d_vocab


def _probe_spec(cfg: ml_collections.ConfigDict, tasks) -> probes.ProbeSpec | None:
    """Probes of the transformer: spectra always; Nanda's grid measures for one two-variable
    task defined on every (a, b) (not division or multiply_non_zero, not symmetric inputs)."""
    if not cfg.probe.every or cfg.model.arch != "transformer" or cfg.p < 5:
        return None
    single = (len(tasks) == 1 and tasks[0].arity == 2 and tasks[0].domain == "all"
              and not cfg.split.symmetric)
    return probes.ProbeSpec(
        p=cfg.p, every=cfg.probe.every, eta=cfg.probe.eta, threshold=cfg.probe.threshold,
        multiplicative=is_prime(cfg.p), grid=single,
        direction="a-b" if tasks[0].name == "subtract" else "a+b",
        grid_basis="multiplicative" if tasks[0].name == "multiply" and is_prime(cfg.p)
        else "additive")


def build(cfg: ml_collections.ConfigDict, source_d_vocab: int | None = None) -> Experiment:
    """Validates `cfg` and builds everything a run needs (host-side; cheap)."""
    tasks = config_lib.validate(cfg)
    if cfg.train.steps % cfg.train.eval_every:
        raise GrokjaxError(f"train.steps={cfg.train.steps} must be a multiple of "
                           f"train.eval_every={cfg.train.eval_every}")
    dataset = data_lib.make_dataset(tasks, cfg.p, variant=cfg.model.variant,
                                    split_mode=cfg.split.mode, symmetric=cfg.split.symmetric)
    members = grid_lib.members(cfg, config_lib.seeds(cfg))
    seeds = members.seeds
    split_seeds = config_lib.split_seeds(cfg, seeds)
    train_mask = test_mask = None
    if "train_fraction" in members.axes:  # padded splits, masked
        splits = [data_lib.split_indices(len(dataset.operands), r, s, cfg.split.mode)
                  for r, s in zip(grid_lib.fractions(cfg, members), split_seeds)]
        train_idx, train_mask = grid_lib.pad([tr for tr, _ in splits])
        test_idx, test_mask = grid_lib.pad([te for _, te in splits])
    else:
        train_idx, test_idx = data_lib.make_splits(dataset, cfg.train_fraction, split_seeds,
                                                   cfg.split.mode)
    mcfg = config_lib.model_config(cfg, dataset.vocab.d_vocab, dataset.n_ctx)
    if "weight_scale" in members.axes:  # a unit-scale init, scaled per member (init_state)
        mcfg = dataclasses.replace(mcfg, weight_scale=1.0)
    frozen = None
    source_d_vocab = _source_d_vocab(cfg, source_d_vocab)  # also checks the source's p, model
    if cfg.transfer.freeze:
        shapes = jax.eval_shape(lambda key: model.init(key, mcfg), jax.random.key(0))
        frozen = transfer.freeze_mask(
            shapes, transfer.parse_groups(cfg.transfer.freeze, "transfer.freeze"),
            transfer.parse_groups(cfg.transfer.load, "transfer.load"), source_d_vocab)
    scfg = train_lib.StepConfig(
        mcfg=mcfg, tx=make_optimizer(cfg.optim, frozen, traced=bool(
            {"lr", "weight_decay"} & set(members.axes))),
        loss_dtype=numerics.loss_dtype(cfg.numerics.loss_dtype),
        batch_size=cfg.optim.batch_size, acc_threshold=cfg.train.acc_threshold,
        probe=_probe_spec(cfg, tasks))
    batching = cfg.train.batching
    if batching == "auto":
        batching = "map" if jax.default_backend() == "cpu" else "vmap"
    return Experiment(cfg=cfg, dataset=dataset, seeds=seeds, split_seeds=split_seeds,
                      train_idx=train_idx, test_idx=test_idx, scfg=scfg,
                      mesh=sharding.seed_mesh(len(seeds)), batching=batching, members=members,
                      train_mask=train_mask, test_mask=test_mask)
