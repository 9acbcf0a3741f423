"""The `grokjax` command. Thin: it parses arguments and calls the library (the commands live in
grokjax.run, grokjax.report and grokjax.launch.command; imported per command, so that
`grokjax tasks` or a mistyped option never waits for JAX).

    grokjax train CONFIG[:ARG] [--seeds N | --seed-list 0,3,7] [--steps N] [--out DIR]
                  [--set KEY=VALUE]... [--grid AXIS=V1,V2,...]... [--no-progress]
                  [--init-from RUN[@STEP] --load GROUPS] [--freeze GROUPS] [--source-seed S]
    grokjax inspect RUN                                   saved steps, seeds, config, results
    grokjax probe RUN [--checkpoint STEP] [--seed S] [--out DIR]
                                                          probe report: JSON and PNG figures
    grokjax plot RUN [RUN ...] [--out DIR] [--seed S] [--checkpoint STEP] [--no-spectra]
                                                          figures: curves, measures, grok steps
    grokjax circuits RUN [--method M] [--checkpoint STEP] [--seed-list S,S] [--out DIR] ...
                                                          ACDC, EAP, EAP-IG, patching
    grokjax sweep FILE[:ARG] [--backend local|slurm|tpu] [--out DIR] [--dry-run]
                  [--only PATTERN] [--set KEY=VALUE]... [--seeds N] [--seeds-per-task K]
                  [--jobs N] [--profile TOML] [--partition P ...] [--tpu NAME --zone Z ...]
                                                          run, submit or print a sweep's runs
    grokjax collect SWEEP_DIR [--plot] [--out DIR]        one table (CSV, markdown) of a sweep
    grokjax report [CLAIMS] [--results DIR] [--out FILE]  the papers' claims beside our results
    grokjax config CONFIG[:ARG] [train's options]         print the resolved config (and run dir)
    grokjax tasks                                         list the named tasks

One spelling per meaning across the commands: `--out` is where a command writes (a run, a
sweep, figures, a report; the older `--workdir` and `--root` still work), `--seeds N` a count
of seeds (0 .. N-1), `--seed-list` given seeds, `--seed` one seed, `--steps` a length of
training and `--checkpoint STEP` a saved step to read (the older `--step` still works).

Running `train` again on a run directory resumes it from its latest checkpoint.

Mistakes in the input print one line, `grokjax: error: ...`, and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

from grokjax import errors
from grokjax.errors import BUSY_EXIT, GrokjaxError, Interrupted, RunBusy


def _load(args):
    from grokjax import config as config_lib
    from grokjax.grid import AXES
    overrides = list(args.set or [])
    if getattr(args, "seeds", None) is not None:
        overrides += config_lib.seed_overrides(args.seeds)
    if getattr(args, "seed_list", None):
        seeds = _int_list(args.seed_list, "--seed-list")
        if not seeds or min(seeds) < 0 or len(set(seeds)) < len(seeds):
            raise GrokjaxError(f"--seed-list {args.seed_list}: give distinct seeds >= 0, "
                               "e.g. --seed-list 0,3,7")
        overrides += config_lib.seed_overrides(seeds)
    if getattr(args, "steps", None) is not None:
        overrides.append(f"train.steps={args.steps}")
    for item in getattr(args, "grid", None) or []:
        axis, sep, values = item.partition("=")
        if not sep or axis.strip() not in AXES:
            raise GrokjaxError(f"--grid {item!r}: give AXIS=V1,V2,... with AXIS one of "
                               f"{', '.join(AXES)}, e.g. --grid weight_decay=0.3,1,3")
        overrides.append(config_lib.grid_override(axis.strip(), values))
    for flag, key in (("init_from", "transfer.from_run"), ("load", "transfer.load"),
                      ("freeze", "transfer.freeze"), ("source_seed", "transfer.source_seed")):
        if getattr(args, flag, None) is not None:
            overrides.append(f"{key}={getattr(args, flag)}")
    return config_lib.load_config(args.config, overrides)


def _default_workdir(spec: str, cfg) -> pathlib.Path:
    """runs/NAME-HASH, HASH from the resolved config less the keys a resume may change
    (config.RESUMABLE_KEYS: train.steps, train.stop_when_grokked, checkpoint.*, ...): the same
    command finds its run again (and resumes it, or reports it finished), and so does it with
    another --steps (which extends the run); any other change of config or seeds is a new run."""
    import hashlib
    import json
    from grokjax.config import RESUMABLE_KEYS, flatten, spec_name
    kept = {k: v for k, v in flatten(cfg).items() if k not in RESUMABLE_KEYS}
    text = json.dumps(kept, sort_keys=True, default=list)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return pathlib.Path("runs") / f"{spec_name(spec)}-{digest}"


def _print_summary(summary: dict, workdir: pathlib.Path, board: str | None) -> None:
    from grokjax.report.tables import seed_table
    from grokjax.summary import n_members
    print("\n" + "\n".join(seed_table(summary)))
    what = "members" if "grid" in summary else "seeds"
    print(f"\ngrokked {summary['grokked']}/{n_members(summary)} {what}"
          + (f", median grok step {summary['grok_step_median']:.0f}"
             if summary["grok_step_median"] is not None else "")
          + (f"; {summary['seed_steps_per_second']:.0f} seed-steps/s"
             if "seed_steps_per_second" in summary else ""))
    from grokjax.store.files import RunFiles
    print(f"run directory: {workdir}")
    if board and RunFiles(workdir).tensorboard.is_dir():
        print(f"TensorBoard:   {board}")


def cmd_train(args) -> int:
    cfg = _load(args)
    if args.distributed:  # before anything touches JAX's backends
        from grokjax import sharding
        sharding.initialize_distributed(args.coordinator, args.num_processes, args.process_id)
    from grokjax import run  # imports jax: after the cheap argument checks
    workdir = pathlib.Path(args.workdir) if args.workdir else _default_workdir(args.config, cfg)
    # said once the run is accepted (run.train's `announce`): a refused command says only why
    from grokjax.monitor import tensorboard
    board = tensorboard.run_command(workdir, cfg)
    announce = lambda: print(f"training in {workdir} (the same command resumes it: "  # noqa: E731
                             f"{resume_command(workdir, args.argv)})"
                             + (f"\nwatch it:      {board}" if board else ""), flush=True)
    try:
        summary = run.train(cfg, workdir, progress=not args.no_progress, announce=announce)
    except Interrupted as e:
        print(f"grokjax: {e}; resume: {resume_command(workdir, args.argv)}", file=sys.stderr,
              flush=True)
        return e.exit_code
    _print_summary(summary, workdir, board)
    return 0


OUT_FLAGS = ("--out", "--workdir")  # train's run directory, and its older spelling


def resume_command(workdir: pathlib.Path, argv: list[str]) -> str:
    """The train command line, with its run directory named: it resumes the run."""
    import shlex
    argv = list(argv)
    if not any(a == flag or a.startswith(flag + "=") for a in argv for flag in OUT_FLAGS):
        argv += ["--out", str(workdir)]
    return shlex.join(["grokjax", *argv])


def cmd_sweep(args) -> int:
    from grokjax.launch import command
    return command.run(
        args.file, backend=args.backend, root=args.root, dry_run=args.dry_run, only=args.only,
        extra=args.set or [], seeds=args.seeds, seeds_per_task=args.seeds_per_task,
        jobs=args.jobs, submit=args.submit,
        slurm_options=dict(profile=args.profile, partition=args.partition, account=args.account,
                           time=args.time, gpus_per_task=args.gpus_per_task,
                           cpus_per_task=args.cpus_per_task, mem=args.mem,
                           max_parallel=args.max_parallel, tasks_per_run=args.tasks_per_run),
        tpu_options=dict(name=args.tpu, zone=args.zone, project=args.project,
                         repo_dir=args.tpu_repo, python=args.tpu_python,
                         setup=args.tpu_setup or ""))


def cmd_collect(args) -> None:
    from grokjax.report import collect
    table, written, board = collect.write(pathlib.Path(args.root), args.out, args.plot)
    print(table, end="")
    for path in written:
        print(f"wrote {path}")
    if board:
        print(f"TensorBoard, every run in one HPARAMS table: {board}")


def cmd_inspect(args) -> None:
    from grokjax.report import describe
    print(describe.describe(args.run))


def cmd_probe(args) -> None:
    from grokjax.report import probe
    out = probe.write(args.run, args.step, args.seed, args.out, args.final_keys)
    print("\n".join(probe.terminal_lines(out, args.step) + [f"wrote {out}"]))


def cmd_plot(args) -> None:
    from grokjax.report import plot
    for path in plot.write(args.runs, args.out, args.seed, args.step, not args.no_spectra):
        print(f"wrote {path}")


def cmd_circuits(args) -> None:
    from grokjax.report import circuits
    seeds = None if args.seed_list is None else _int_list(args.seed_list, "--seed-list")
    out, result = circuits.write(
        args.run, args.method, step=args.step, seeds=seeds, corrupt=args.corrupt,
        metric=args.metric, tau=args.tau, granularity=args.granularity,
        by_frequency=args.by_frequency, examples=args.examples, ig_steps=args.ig_steps,
        sparsity=args.sparsity, prune_steps=args.prune_steps,
        direction=args.direction, over_training=args.over_training, task=args.task,
        seed=args.corrupt_seed, out=args.out)
    print(f"{circuits.summary(result.report)}\nwrote {out}")


def _int_list(text: str, option: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise GrokjaxError(f"{option} {text!r} is not a comma-separated list of integers, "
                           "e.g. 0,2,3") from None


def cmd_report(args) -> None:
    from grokjax.report import reproduce
    rows = reproduce.write(args.claims, args.results, args.out)
    for r in rows:
        print(f"{r['id']:<24} {r['verdict']}")
    print(f"wrote {args.out}")


def cmd_compare(args) -> None:
    from grokjax.report import compare
    print(compare.write(args.run, args.baseline))
    print(f"wrote {args.run}/comparison.md and .json")


def cmd_config(args) -> None:
    from grokjax import config as config_lib
    cfg = _load(args)
    config_lib.validate(cfg)
    print(config_lib.to_json(cfg))
    workdir = pathlib.Path(args.workdir) if args.workdir else _default_workdir(args.config, cfg)
    from grokjax.store.files import RunFiles
    state = "resumes" if RunFiles(workdir).is_run() else "starts"
    # on stderr, so that stdout stays the config's JSON
    print(f"# grokjax train with these options {state} {workdir}", file=sys.stderr)


def cmd_tasks(args) -> None:
    from grokjax.tasks import TASKS
    for name, task in TASKS.items():
        extra = " (prime p)" if task.requires_prime else ""
        print(f"{name:<18} {task.formula}{extra}")
    print(f"{'rand':<18} a seeded random table (memorisation control)")
    print("any polynomial in x, y, z, e.g. 'x**3 + 2*x*y'; mixtures: 'add,subtract,multiply'")


def _version() -> str:
    from importlib import metadata
    try:
        return metadata.version("grokjax")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


DESCRIPTION = """\
Grokking experiments in JAX: train many seeds of a small transformer (or MLP) on modular
arithmetic, polynomials and mixtures as one compiled program; probe, plot and find the circuits
of what they learned; run whole sweeps here, on SLURM or on a TPU pod."""

EPILOG = """\
start here:
  grokjax train configs/quick.py --seeds 4     grokking in about 20 s on a CPU
  grokjax train configs/add.py --seeds 4       the main job (~20 min on 2 cores); again: resumes
  grokjax plot RUN                             its figures; tensorboard --logdir RUN/tb
  grokjax COMMAND --help                       a command's options"""


def _help_formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _add_train_options(p: argparse.ArgumentParser) -> None:
    """The options that make a run's config and directory: shared by train and config."""
    p.add_argument("config", help="a config file, e.g. configs/add.py or "
                   "configs/polynomials.py:x2_y2 (the part after ':' is its argument)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one config value by its dotted key, e.g. --set "
                   "model.d_model=64; give --set again for each further value")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=int, metavar="N", help="train seeds 0 .. N-1")
    seeds.add_argument("--seed-list", metavar="S,S,...", help="train these seeds, e.g. 0,3,7")
    p.add_argument("--steps", type=int, metavar="N", help="training steps (train.steps); "
                   "more than a finished run's continues it")
    p.add_argument("--grid", action="append", metavar="AXIS=V1,V2,...",
                   help="train every value of a hyperparameter in the same program, with every "
                   "seed (lr, weight_decay, train_fraction, weight_scale, task; give --grid "
                   "again for a grid of several axes)")
    p.add_argument("--out", "--workdir", dest="workdir", metavar="DIR",
                   help="the run directory (default runs/NAME-HASH, HASH from the resolved "
                   "config less --steps and the other keys a resume may change: the same "
                   "command, with any --steps, finds the same run); --workdir is its older name")
    p.add_argument("--init-from", metavar="RUN[@STEP]",
                   help="start from another run's checkpoint (default: its latest)")
    p.add_argument("--load", metavar="GROUPS",
                   help="what to load from it: embed, transformer, unembed, full (comma-separated)")
    p.add_argument("--freeze", metavar="GROUPS",
                   help="groups that receive no update and no weight decay")
    p.add_argument("--source-seed", type=int, metavar="S",
                   help="every seed starts from the source's seed S (default: the same seed)")


def _add_checkpoint_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", "--step", dest="step", type=int, metavar="STEP",
                   help="the saved step to read (default: the latest); --step is its older name")


def _add_compilation_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-compilation-cache", action="store_true",
                   help="compile afresh, without JAX's persistent cache (default: on, in "
                   "~/.cache/grokjax/jax; or set GROKJAX_COMPILATION_CACHE=0)")


def _command(sub, name: str, help: str, description: str | None = None):
    """Add the subcommand NAME, its help line in `grokjax --help` and its description."""
    return sub.add_parser(name, help=help, description=description or help,
                          formatter_class=_help_formatter)


def _train_parser(sub) -> None:
    t = _command(sub, "train", "train every seed of a config as one program (again: resumes it)",
                 "Train every seed (and grid member) of a config as one compiled program.\n\n"
                 "The same command again resumes the run from its latest checkpoint, or reports "
                 "it finished;\na larger --steps continues a finished run. Ctrl-C (or SIGTERM) "
                 "stops it with a checkpoint\nand prints the command that resumes it.")
    _add_train_options(t)
    t.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    _add_compilation_option(t)
    t.add_argument("--distributed", action="store_true",
                   help="one of several processes (hosts) of one run: jax.distributed.initialize"
                   "() (finds SLURM, TPU pod and Open MPI settings itself)")
    t.add_argument("--coordinator", metavar="HOST:PORT",
                   help="with --distributed where nothing provides it: process 0's address")
    t.add_argument("--num-processes", type=int, metavar="N",
                   help="with --coordinator: how many processes")
    t.add_argument("--process-id", type=int, metavar="I",
                   help="with --coordinator: this process's index")
    t.set_defaults(func=cmd_train)


def _probe_parser(sub) -> None:
    pr = _command(sub, "probe",
                  "probe a run's weights: key frequencies, phases, JSON and PNG figures")
    pr.add_argument("run", help="a run directory")
    _add_checkpoint_option(pr)
    pr.add_argument("--seed", type=int, help="the seed the figures show (default: the first)")
    pr.add_argument("--out", metavar="DIR", help="output directory (default RUN/probes)")
    pr.add_argument("--final-keys", action="store_true",
                    help="also the restricted and excluded loss at every checkpoint with the final "
                    "model's key frequencies, as Nanda computes them (final-keys.json, a figure)")
    _add_compilation_option(pr)
    pr.set_defaults(func=cmd_probe)


def _plot_parser(sub) -> None:
    pl = _command(sub, "plot", "figures of finished runs: grokking curves, progress measures, "
                  "spectra, grok steps across seeds and runs")
    pl.add_argument("runs", nargs="+", metavar="RUN", help="run directories")
    pl.add_argument("--out", metavar="DIR", help="output directory (default RUN/plots; for "
                    "several runs, plots/ beside the first)")
    pl.add_argument("--seed", type=int, help="the seed whose spectra are drawn (default: the first)")
    _add_checkpoint_option(pl)
    pl.add_argument("--no-spectra", action="store_true", help="skip the spectra (no checkpoint read)")
    _add_compilation_option(pl)
    pl.set_defaults(func=cmd_plot)


def _sweep_parser(sub) -> None:
    sw = _command(sub, "sweep", "run a sweep file's runs here, submit them to SLURM, or start "
                  "them on a TPU pod; again: skips finished runs, resumes the rest (here, "
                  "Ctrl-C stops the runs in flight with a checkpoint)")
    sw.add_argument("file", help="a sweep file, e.g. experiments/sweep_arithmetic.py[:ARG]")
    sw.add_argument("--backend", choices=["local", "slurm", "tpu"], default="local",
                    help="local: run here (default); slurm: a job array per stage; tpu: on "
                    "every worker of a TPU VM")
    sw.add_argument("--out", "--root", dest="root", metavar="DIR",
                    help="the sweep's directory (default runs/<sweep name>); --root is its "
                    "older name")
    sw.add_argument("--dry-run", action="store_true",
                    help="print exactly what would run or be submitted; change nothing")
    sw.add_argument("--only", metavar="PATTERN",
                    help="only the runs whose name matches this glob (comma-separated globs)")
    sw.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="override a config value in every run, e.g. --set p=31; give --set "
                    "again for each further value")
    sw.add_argument("--seeds", type=int, metavar="N", help="seeds per run (instead of the sweep's)")
    sw.add_argument("--seeds-per-task", type=int, default=0, metavar="K",
                    help="cut each run into runs of K seeds (one array task each)")
    sw.add_argument("--jobs", type=int, default=1, metavar="N", help="local: runs at a time")
    sl = sw.add_argument_group("slurm (options override --profile)")
    sl.add_argument("--profile", metavar="TOML", help="resources, e.g. configs/slurm_profile.toml")
    sl.add_argument("--partition", help="the partition (sbatch --partition)")
    sl.add_argument("--account", help="the account charged (sbatch --account)")
    sl.add_argument("--time", help="per array task, e.g. 12:00:00")
    sl.add_argument("--gpus-per-task", type=int, metavar="N", help="GPUs per array task")
    sl.add_argument("--cpus-per-task", type=int, metavar="N", help="CPU cores per array task")
    sl.add_argument("--mem", help="memory per array task, e.g. 16G")
    sl.add_argument("--max-parallel", type=int, metavar="N", help="array tasks running at once")
    sl.add_argument("--tasks-per-run", type=int, metavar="N",
                    help="processes per run (> 1: multi-host under srun, --distributed)")
    tp = sw.add_argument_group("tpu")
    tp.add_argument("--tpu", metavar="NAME", help="the TPU VM (pod) name")
    tp.add_argument("--zone", help="the TPU VM's zone, e.g. us-central2-b")
    tp.add_argument("--project", help="the Google Cloud project (default: gcloud's)")
    tp.add_argument("--tpu-repo", default="~/grokjax", metavar="DIR",
                    help="grokjax's checkout on the workers (default ~/grokjax)")
    tp.add_argument("--tpu-python", default="python3", metavar="PYTHON",
                    help="the Python on the workers (default python3)")
    tp.add_argument("--tpu-setup", metavar="SHELL", help="shell run first on every worker")
    tp.add_argument("--submit", action="store_true", help="run the gcloud commands (else: write "
                    "and print them)")
    sw.set_defaults(func=cmd_sweep)


def _collect_parser(sub) -> None:
    co = _command(sub, "collect", "every run's summary of a sweep in one table: CSV, markdown, "
                  "and with --plot the grok steps figure")
    co.add_argument("root", metavar="SWEEP_DIR", help="a sweep's directory (grokjax sweep "
                    "--out), or any directory holding run directories")
    co.add_argument("--out", metavar="DIR", help="output directory (default SWEEP_DIR)")
    co.add_argument("--plot", action="store_true", help="also draw grok-steps.png (tasks by r)")
    co.set_defaults(func=cmd_collect)


def _circuits_parser(sub) -> None:
    ci = _command(sub, "circuits", "circuits of a run's checkpoint, every seed at once: ACDC, "
                  "EAP, EAP-IG, edge pruning, edge and activation patching")
    ci.add_argument("run", help="a run directory")
    ci.add_argument("--method", default="acdc",
                    choices=("acdc", "edges", "eap", "eap-ig", "prune", "patch", "clock-pizza"),
                    help="acdc (default); edges: each unit's exact effect; eap, eap-ig: their "
                    "attribution estimates; prune: edge pruning (hard-concrete masks trained to a "
                    "target sparsity); patch: TransformerLens's activation-patching tables; "
                    "clock-pizza: gradient symmetricity and distance irrelevance")
    _add_checkpoint_option(ci)
    ci.add_argument("--seed-list", "--seeds", dest="seed_list", metavar="S,S,...",
                    help="the seeds to read (default: all; some of them write to a folder "
                    "named ...-seeds-S-S); --seeds is its older name")
    ci.add_argument("--corrupt", default="shuffle", metavar="KIND",
                    help="shuffle (default: another input's activations), resample-b, b+1, a+1, "
                    "swap (a null control for commutative tasks), mean (over the p x p table), zero")
    ci.add_argument("--metric", default=None, choices=("kl", "logit_diff", "loss", "accuracy"),
                    help="kl from the clean model (the default for acdc, edges and patch), "
                    "logit_diff (the default for eap and eap-ig: KL's gradient at the clean "
                    "model is 0), loss or accuracy")
    ci.add_argument("--tau", type=float, default=0.01,
                    help="ACDC's threshold (default 0.01); for edges/eap/eap-ig, the |score| a "
                    "kept unit reaches")
    ci.add_argument("--granularity", default="edges", choices=("edges", "edges-nopos", "nodes"),
                    help="edges at each position (default), edges without positions (ACDC's "
                    "graph) or nodes")
    ci.add_argument("--by-frequency", action="store_true",
                    help="split the last MLP into neuron groups by key frequency")
    ci.add_argument("--examples", type=int, default=0, metavar="N",
                    help="read this many (a, b) inputs, drawn with --corrupt-seed (default: all p^2)")
    ci.add_argument("--corrupt-seed", type=int, default=0, metavar="S",
                    help="seed of the corruption's draws (default 0)")
    ci.add_argument("--ig-steps", type=int, default=10, metavar="N",
                    help="EAP-IG's interpolation steps (default 10)")
    ci.add_argument("--sparsity", type=float, default=0.8, metavar="S",
                    help="prune: the fraction of units the circuit removes (default 0.8)")
    ci.add_argument("--prune-steps", type=int, default=300, metavar="N",
                    help="prune: optimisation steps at each target sparsity (default 300)")
    ci.add_argument("--direction", default="denoise", choices=("denoise", "noise"),
                    help="patch: clean into corrupted (denoise, TransformerLens's) or the reverse")
    ci.add_argument("--over-training", action="store_true",
                    help="also at every checkpoint: size and faithfulness against step")
    ci.add_argument("--task", help="a mixture's task (default: its first)")
    ci.add_argument("--out", metavar="DIR",
                    help="output directory (default RUN/circuits/METHOD-GRANULARITY..., "
                    "with -step-N and -seeds-S-S for an older checkpoint or some seeds)")
    _add_compilation_option(ci)
    ci.set_defaults(func=cmd_circuits)


def _report_parser(sub) -> None:
    rp = _command(sub, "report", "the papers' claims beside our results: REPRODUCTION.md")
    rp.add_argument("claims", nargs="?", default="experiments/claims.py",
                    help="a claims file (default experiments/claims.py)")
    rp.add_argument("--results", default="experiments/results", metavar="DIR",
                    help="the results root the claims' runs live under (default "
                    "experiments/results)")
    rp.add_argument("--out", default="REPRODUCTION.md", metavar="FILE",
                    help="the report (default REPRODUCTION.md)")
    rp.set_defaults(func=cmd_report)


def _compare_parser(sub) -> None:
    c = _command(sub, "compare", "a comparison's arms against its baseline: grok steps and "
                 "speed-ups with paired bootstrap intervals over seeds")
    c.add_argument("run", help="a finished run with grid.arms (configs/comparison.py)")
    c.add_argument("--baseline", default="adamw", metavar="ARM",
                   help="the arm the speed-ups are against (default adamw)")
    c.set_defaults(func=cmd_compare)


def _inspect_parser(sub) -> None:
    i = _command(sub, "inspect", "saved steps, seeds, config and results of a run")
    i.add_argument("run", help="a run directory")
    i.set_defaults(func=cmd_inspect)


def _config_parser(sub) -> None:
    c = _command(sub, "config",
                 "print the resolved config of a train command (and its run directory)",
                 "Print the config that `grokjax train` with the same options would train, as "
                 "JSON,\nand (on stderr) the run directory it would start or resume.")
    _add_train_options(c)
    c.set_defaults(func=cmd_config)


def _tasks_parser(sub) -> None:
    _command(sub, "tasks", "list the named tasks").set_defaults(func=cmd_tasks)


# in the order `grokjax --help` lists them
_COMMAND_PARSERS = (_train_parser, _probe_parser, _plot_parser, _sweep_parser, _collect_parser,
                    _circuits_parser, _report_parser, _compare_parser, _inspect_parser,
                    _config_parser, _tasks_parser)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="grokjax", description=DESCRIPTION, epilog=EPILOG,
                                 formatter_class=_help_formatter)
    ap.add_argument("--version", action="version", version=f"grokjax {_version()}")
    ap.add_argument("--debug", action="store_true",
                    help="show the traceback behind an error instead of its one line")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _COMMAND_PARSERS:
        add(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.argv = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--debug"]
    from grokjax.config import files
    files.DEBUG = args.debug
    errors.silence_library_noise()
    try:
        if hasattr(args, "no_compilation_cache"):  # a command that compiles
            from grokjax import compilation
            compilation.enable(not args.no_compilation_cache)
        return args.func(args) or 0
    except BrokenPipeError:  # e.g. `grokjax sweep ... --dry-run | head`
        sys.stdout = open(os.devnull, "w")  # pylint: disable=consider-using-with
        return 0
    except KeyboardInterrupt:  # before a run's own handler is in place, or outside a run
        print("grokjax: interrupted", file=sys.stderr)
        return 130
    except RunBusy as e:
        print(f"grokjax: busy: {e}", file=sys.stderr)
        return BUSY_EXIT
    except GrokjaxError as e:
        if args.debug:
            raise
        print(f"grokjax: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a read or write the library did not foresee: still one line
        if args.debug:
            raise
        where = f"{e.filename}: " if e.filename else ""
        print(f"grokjax: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
