"""grokjax: grokking experiments on modular arithmetic and polynomials, many seeds as one JAX program.

Modules, from the bottom up: `tasks` (label formulas), `data` (tokens and splits), `model`
(`init` / `apply` / `run_with_cache`, with `transformer` and `mlp` behind it), `optim`, `train`
(the pure step and the many-seed program), `sharding`, `numerics`, `checkpoint`, `transfer`,
`experiment` (a config built into data, splits and programs), `run` (a whole run: start or
resume, loop), `summary`, `rundir`, `inspect`, `fourier` and `probes` (what a model learned),
`probe_report` and `plots`, `progress` and `cli` (the `grokjax` command). `config` holds every
config field with its default.
"""

__version__ = "0.1.0"
