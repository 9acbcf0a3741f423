"""An experiment: a validated config turned into everything a run needs.

`build(cfg)` parses the tasks, makes the dataset and each member's split, the model and step
configs (optimiser with any frozen groups, loss dtype, probes) and the member mesh. It is cheap
and host-side: nothing is read from disk, trained or compiled here (a transfer run's source
vocabulary is an argument: `grokjax.saved.source_d_vocab` reads it). `grokjax.run` trains an
`Experiment`; `grokjax.saved` rebuilds one from a run directory.

A member is one entry of the run's leading axis: one seed of one grid setting (without a grid,
the members are the seeds).
"""

from __future__ import annotations

import dataclasses

import jax
import ml_collections
import numpy as np
from jax.sharding import NamedSharding

from grokjax import config as config_lib
from grokjax import data as data_lib
from grokjax import grid as grid_lib
from grokjax import models, numerics, program, sharding, transfer
from grokjax.models import ModelConfig
from grokjax.errors import GrokjaxError
from grokjax.modular import is_prime
from grokjax.optim import make_optimizer
from grokjax.probes.measures import ProbeSpec
from grokjax.store import checkpoint as ckpt_lib


@dataclasses.dataclass
class Experiment:
    cfg: ml_collections.ConfigDict
    dataset: data_lib.Dataset
    member_seeds: list[int]  # each member's seed
    split_seeds: list[int]  # each member's split seed
    train_idx: np.ndarray  # [M, n_train]
    test_idx: np.ndarray  # [M, n_test]
    scfg: program.StepConfig
    mesh: jax.sharding.Mesh
    batching: str  # 'vmap' | 'map', resolved from train.batching
    members: grid_lib.Members  # the leading axis: seeds, or every grid setting x seed
    train_mask: np.ndarray | None = None  # [M, n_train] float32, with a train-fraction grid
    test_mask: np.ndarray | None = None
    # With a task grid: one dataset per grid task (`dataset` is the first), each member's task.
    task_datasets: list[data_lib.Dataset] | None = None
    task_index: np.ndarray | None = None  # [M] int32, into task_datasets
    # With vmap: members per vmapped group (0: all at once); train.member_group, or chosen
    # from the device's memory (grokjax.memory.fit_members) and then recorded in run.json
    member_group: int = 0

    @property
    def n_tasks(self) -> int:
        return len(self.dataset.tasks)

    @property
    def n_members(self) -> int:
        return len(self.member_seeds)

    def splits(self) -> dict[str, np.ndarray]:
        """splits.npz (and the checkpoints' `splits` item): every member's exact split."""
        out = {"seeds": np.asarray(self.member_seeds),
               "split_seeds": np.asarray(self.split_seeds),
               "operands": self.dataset.operands, "train_idx": self.train_idx,
               "test_idx": self.test_idx}
        if self.train_mask is not None:  # padded splits: the masks mark each member's own inputs
            out.update(train_mask=self.train_mask, test_mask=self.test_mask)
        return out

    def data(self) -> program.Data:
        """The program's data, on the host (see `place`). With a task grid, the token and label
        tables (and the probes' (a, b) table) of every grid task, stacked, and each member's
        index into them. (Made with device_put: jnp.asarray of a numpy array compiles a
        staging program per shape, a cost at every cold start on a GPU.)"""
        datasets = self.task_datasets or [self.dataset]
        fields = {}
        spec = self.scfg.probe
        if spec is not None and spec.table:
            p = spec.p
            operands = data_lib.all_operands(p, 2)  # a-major: row a * p + b
            train = np.zeros((self.n_members, p, p), bool)
            for i, idx in enumerate(self.train_idx):
                a, b = self.dataset.operands[idx].T
                inside = (a < p) & (b < p)  # the reference split also has operands p..p+4
                train[i, a[inside], b[inside]] = True
            tables = [(data_lib.tokenize(operands, d.vocab.op_tokens[0], d.vocab),
                       d.tasks[0].labels(operands, p).reshape(p, p)) for d in datasets]
            fields = dict(table_tokens=[t for t, _ in tables], table_labels=[l for _, l in tables],
                          table_train=jax.device_put(train))
        fields["tokens"] = [d.tokens for d in datasets]
        fields["labels"] = [d.labels for d in datasets]
        for key in ("tokens", "labels", "table_tokens", "table_labels"):
            if key in fields:  # one task's table, or every grid task's stacked
                fields[key] = jax.device_put(np.stack(fields[key]) if self.task_datasets
                                          else fields[key][0])
        if self.task_index is not None:
            fields["task_index"] = jax.device_put(self.task_index)
        if self.scfg.softmax == "member":
            fields["stablemax"] = jax.device_put(grid_lib.traced_values(self.members)["stablemax"])
        if self.train_mask is not None:
            fields.update(train_mask=jax.device_put(self.train_mask),
                          test_mask=jax.device_put(self.test_mask))
        return program.Data(train_idx=jax.device_put(self.train_idx),
                            test_idx=jax.device_put(self.test_idx), **fields)

    def field_sharding(self, name: str) -> NamedSharding:
        """Where a `program.Data` field lives: per-member fields over the mesh's member axis,
        shared tables replicated."""
        return (sharding.members if name in program.PER_MEMBER else sharding.replicated)(
            self.mesh)

    def place(self, data: program.Data, put=jax.device_put) -> program.Data:
        """The data with every field placed by `field_sharding` (`put`: jax.device_put; or
        checkpoint.abstract_like for the shapes alone)."""
        fields = {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}
        return data.replace(**{k: put(v, self.field_sharding(k))
                               for k, v in fields.items() if v is not None})

    def init_inputs(self) -> dict[str, np.ndarray]:
        """What `make_init` takes: every member's seed and traced grid values (those the
        optimiser state holds; StableMax's switch goes to the data)."""
        out = {"seed": np.asarray(self.member_seeds, np.int32)}
        out.update({k: v for k, v in grid_lib.traced_values(self.members).items()
                    if k != "stablemax"})
        return out

    @property
    def lifting(self) -> dict:
        """How the program makers lift one member's function over the members
        (program.over_members): `make_program(..., **exp.lifting)`."""
        return dict(batching=self.batching, mesh=self.mesh, group=self.member_group)

    def init_state(self, init=None) -> program.TrainState:
        """Every member's initial state, sharded over the mesh, by `init` (default: the
        jitted `program.make_init`; a run passes the one it compiled, grokjax.memory)."""
        init = init or program.make_init(self.scfg, self.n_tasks, **self.lifting)
        return init(sharding.shard_members(self.init_inputs(), self.mesh))

    def abstract_init_inputs(self) -> dict[str, jax.ShapeDtypeStruct]:
        """Shapes, dtypes and member sharding of `init_inputs`, as `init_state` places them."""
        return ckpt_lib.abstract_like(self.init_inputs(), sharding.members(self.mesh))

    def abstract_state(self):
        """Shapes, dtypes and this process's member sharding of the stacked state."""
        init = program.make_init(self.scfg, self.n_tasks, **self.lifting)
        shapes = jax.eval_shape(init, self.abstract_init_inputs())
        return ckpt_lib.abstract_like(shapes, sharding.members(self.mesh))


def model_config(cfg: ml_collections.ConfigDict, d_vocab: int, n_ctx: int) -> ModelConfig:
    """The frozen ModelConfig of a config, for a vocabulary and context length."""
    m = cfg.model
    return ModelConfig(
        d_vocab=d_vocab, n_ctx=n_ctx, arch=m.arch, variant=m.variant, num_layers=m.num_layers,
        d_model=m.d_model, num_heads=m.num_heads, d_head=m.d_head, d_mlp=m.d_mlp, act=m.act,
        d_emb=m.d_emb, weight_scale=m.weight_scale, precision=cfg.numerics.matmul_precision,
        attn_rate=m.attn_rate, attention=m.attention)


def _probe_spec(cfg: ml_collections.ConfigDict, tasks, task_grid: bool) -> ProbeSpec | None:
    """Probes of the transformer: spectra always; Nanda's measures on the (a, b) table for one
    two-variable task defined on every (a, b) (not division or multiply_non_zero, not
    symmetric inputs), or for a task grid of such tasks that share their Fourier directions
    (a + b or a - b) and basis (multiplication's discrete log). None for an S5 task."""
    if not cfg.probe.every or cfg.model.arch != "transformer" or cfg.p < 5:
        return None
    if any(t.group is not None for t in tasks):  # element indices have no Fourier basis of Z/p
        return None
    directions = {"a-b" if t.name == "subtract" else "a+b" for t in tasks}
    bases = {t.key_basis(cfg.p) for t in tasks}
    table = ((len(tasks) == 1 or task_grid) and len(directions) == len(bases) == 1
             and all(t.arity == 2 and t.domain == "all" for t in tasks)
             and not cfg.split.symmetric)
    return ProbeSpec(
        p=cfg.p, every=cfg.probe.every, eta=cfg.probe.eta, threshold=cfg.probe.threshold,
        multiplicative=is_prime(cfg.p), table=table, direction=min(directions),
        table_basis=min(bases), loss_dtype=numerics.loss_dtype(cfg.numerics.loss_dtype))


def build(cfg: ml_collections.ConfigDict, source_d_vocab: int | None = None) -> Experiment:
    """Validates `cfg` and builds everything a run needs (host-side; cheap). A transfer run
    (transfer.from_run) needs `source_d_vocab`, its source's vocabulary size."""
    tasks = config_lib.validate(cfg)
    members = grid_lib.members(cfg, config_lib.seeds(cfg))
    task_grid = "task" in members.axes
    datasets = [data_lib.make_dataset(group, cfg.p, variant=cfg.model.variant,
                                      split_mode=cfg.split.mode, symmetric=cfg.split.symmetric)
                for group in ([(t,) for t in tasks] if task_grid else [tasks])]
    dataset = datasets[0]
    task_index = None
    if task_grid:
        _check_task_grid(datasets)
        names = [str(t) for t in members.axes["task"]]
        task_index = np.asarray([names.index(v) for v in members.values["task"]], np.int32)
    split_seeds = config_lib.split_seeds(cfg, members.seeds)
    train_mask = test_mask = None
    if "train_fraction" in members.axes:  # padded splits, masked
        splits = [data_lib.split_indices(len(dataset.operands), r, s, cfg.split.mode)
                  for r, s in zip(grid_lib.fractions(cfg, members), split_seeds)]
        train_idx, train_mask = grid_lib.pad([tr for tr, _ in splits])
        test_idx, test_mask = grid_lib.pad([te for _, te in splits])
    else:
        train_idx, test_idx = data_lib.make_splits(dataset, cfg.train_fraction, split_seeds,
                                                   cfg.split.mode)
    mcfg = model_config(cfg, dataset.vocab.d_vocab, dataset.n_ctx)
    if "weight_scale" in members.axes:  # a unit-scale init, scaled per member (init_state)
        mcfg = dataclasses.replace(mcfg, weight_scale=1.0)
    frozen = None
    if cfg.transfer.from_run and source_d_vocab is None:
        raise GrokjaxError("a transfer run's experiment needs its source's vocabulary size "
                           "(grokjax.saved.source_d_vocab reads it)")
    if cfg.transfer.freeze:
        shapes = jax.eval_shape(lambda key: models.init(key, mcfg), jax.random.key(0))
        frozen = transfer.freeze_mask(
            shapes, transfer.parse_groups(cfg.transfer.freeze, "transfer.freeze"),
            transfer.parse_groups(cfg.transfer.load, "transfer.load"), source_d_vocab)
    scfg = program.StepConfig(
        mcfg=mcfg, tx=make_optimizer(cfg.optim, frozen, traced=bool(
            {"lr", "weight_decay"} & set(members.axes)), axes=members.axes),
        softmax="member" if "softmax" in members.axes else cfg.numerics.softmax,
        loss_dtype=numerics.loss_dtype(cfg.numerics.loss_dtype),
        batch_size=cfg.optim.batch_size, acc_threshold=cfg.train.acc_threshold,
        probe=_probe_spec(cfg, tasks, task_grid))
    batching = cfg.train.batching
    if batching == "auto":
        batching = "map" if jax.default_backend() == "cpu" else "vmap"
    return Experiment(cfg=cfg, dataset=dataset, member_seeds=members.seeds,
                      split_seeds=split_seeds, train_idx=train_idx, test_idx=test_idx,
                      scfg=scfg, mesh=sharding.member_mesh(len(members)), batching=batching,
                      members=members, train_mask=train_mask, test_mask=test_mask,
                      task_datasets=datasets if task_grid else None, task_index=task_index,
                      member_group=int(cfg.train.member_group))


def _check_task_grid(datasets: list[data_lib.Dataset]) -> None:
    """The tasks of a task grid share their inputs, vocabulary and context."""
    first = datasets[0]
    for d in datasets[1:]:
        if (d.vocab.d_vocab, d.n_ctx) != (first.vocab.d_vocab, first.n_ctx) or not \
                np.array_equal(d.operands, first.operands):
            raise GrokjaxError(
                f"grid.task: {d.task_names[0]} and {first.task_names[0]} do not share their "
                "inputs and vocabulary; grid tasks of one kind, and run the others separately")
