"""The `grokjax` command. Thin: it parses arguments and calls the library (the commands live in
grokjax.run, grokjax.report and grokjax.launch.command; imported per command, so that
`grokjax tasks` or a mistyped option never waits for JAX).

    grokjax train CONFIG[:ARG] [--seeds N | --seed-list 0,3,7] [--steps N] [--workdir DIR]
                  [--set key=value ...] [--no-progress] [--grid AXIS=V1,V2,... ...]
                  [--init-from RUN[@STEP] --load GROUPS] [--freeze GROUPS] [--source-seed S]
    grokjax inspect RUN                                   saved steps, seeds, config, results
    grokjax probe RUN [--step N] [--seed S] [--out DIR]   probe report: JSON and PNG figures
    grokjax plot RUN [RUN ...] [--out DIR] [--seed S] [--step N] [--no-spectra]
                                                          figures: curves, measures, grok steps
    grokjax sweep FILE[:ARG] [--backend local|slurm|tpu] [--root DIR] [--dry-run]
                  [--only PATTERN] [--set key=value ...] [--seeds N] [--seeds-per-task K]
                  [--jobs N] [--profile TOML] [--partition P ...] [--tpu NAME --zone Z ...]
                                                          run, submit or print a sweep's runs
    grokjax collect SWEEP_DIR [--plot] [--out DIR]        one table (CSV, markdown) of a sweep
    grokjax report [CLAIMS] [--results DIR] [--out FILE]  the papers' claims beside our results
    grokjax config CONFIG[:ARG] [--set key=value ...]     print the resolved config
    grokjax tasks                                         list the named tasks

Running `train` again on a run directory resumes it from its latest checkpoint.

Mistakes in the input print one line, `grokjax: error: ...`, and exit with status 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import pathlib
import sys

from grokjax.errors import BUSY_EXIT, GrokjaxError, Interrupted, RunBusy


def _load(args):
    from grokjax import config as config_lib
    from grokjax.grid import AXES
    overrides = list(args.set or [])
    if getattr(args, "seeds", None) is not None:
        overrides += config_lib.seed_overrides(args.seeds)
    if getattr(args, "seed_list", None):
        overrides += config_lib.seed_overrides(args.seed_list)
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
    """runs/NAME-HASH, HASH from the resolved config: the same command finds its run again
    (and resumes it, or reports it finished); any change of config or seeds is a new run."""
    import hashlib
    from grokjax.config import spec_name, to_json
    digest = hashlib.sha256(to_json(cfg).encode()).hexdigest()[:8]
    return pathlib.Path("runs") / f"{spec_name(spec)}-{digest}"


def _print_summary(summary: dict, workdir: pathlib.Path) -> None:
    from grokjax.summary import n_members, seed_table
    print("\n" + "\n".join(seed_table(summary)))
    what = "members" if "grid" in summary else "seeds"
    print(f"\ngrokked {summary['grokked']}/{n_members(summary)} {what}"
          + (f", median grok step {summary['grok_step_median']:.0f}"
             if summary["grok_step_median"] is not None else "")
          + (f"; {summary['seed_steps_per_second']:.0f} seed-steps/s"
             if "seed_steps_per_second" in summary else ""))
    print(f"run directory: {workdir}")
    if (workdir / "tb").is_dir():
        print(f"TensorBoard:   tensorboard --logdir {workdir / 'tb'}")


def cmd_train(args) -> int:
    cfg = _load(args)
    if args.distributed:  # before anything touches JAX's backends
        from grokjax import sharding
        sharding.initialize_distributed(args.coordinator, args.num_processes, args.process_id)
    from grokjax import run  # imports jax: after the cheap argument checks
    workdir = pathlib.Path(args.workdir) if args.workdir else _default_workdir(args.config, cfg)
    print(f"training in {workdir} (the same command resumes it: "
          f"{resume_command(workdir, args.argv)})", flush=True)
    try:
        summary = run.train(cfg, workdir, progress=not args.no_progress)
    except Interrupted as e:
        print(f"grokjax: {e}; resume: {resume_command(workdir, args.argv)}", file=sys.stderr,
              flush=True)
        return e.exit_code
    _print_summary(summary, workdir)
    return 0


def resume_command(workdir: pathlib.Path, argv: list[str]) -> str:
    """The train command line, with its run directory named: it resumes the run."""
    import shlex
    argv = list(argv)
    if not any(a == "--workdir" or a.startswith("--workdir=") for a in argv):
        argv += ["--workdir", str(workdir)]
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
    table, written = collect.write(pathlib.Path(args.root), args.out, args.plot)
    print(table, end="")
    for path in written:
        print(f"wrote {path}")


def cmd_inspect(args) -> None:
    from grokjax.report import describe
    print(describe.describe(args.run))


def cmd_probe(args) -> None:
    from grokjax.report import probe
    out = probe.write(args.run, args.step, args.seed, args.out, args.final_keys)
    print(f"wrote {out}")


def cmd_plot(args) -> None:
    from grokjax.report import plot
    for path in plot.write(args.runs, args.out, args.seed, args.step, not args.no_spectra):
        print(f"wrote {path}")


def cmd_circuits(args) -> None:
    from grokjax.report import circuits
    seeds = None if args.seeds is None else _int_list(args.seeds, "--seeds")
    out = circuits.write(args.run, args.method, step=args.step, seeds=seeds, corrupt=args.corrupt,
                         metric=args.metric, tau=args.tau, granularity=args.granularity,
                         by_frequency=args.by_frequency, examples=args.examples,
                         ig_steps=args.ig_steps, direction=args.direction,
                         over_training=args.over_training, task=args.task, seed=args.corrupt_seed,
                         out=args.out)
    print(f"wrote {out}")


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


def cmd_config(args) -> None:
    from grokjax import config as config_lib
    cfg = _load(args)
    config_lib.validate(cfg)
    print(config_lib.to_json(cfg))


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


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="grokjax", description=__doc__.split("\n")[0])
    ap.add_argument("--version", action="version", version=f"grokjax {_version()}")
    ap.add_argument("--debug", action="store_true",
                    help="show the traceback behind an error instead of its one line")
    sub = ap.add_subparsers(dest="command", required=True)

    def with_config(p):
        p.add_argument("config", help="a config file, e.g. configs/add.py or configs/polynomials.py:x2_y2")
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a config value by dotted key (repeatable)")
        return p

    t = with_config(sub.add_parser("train", help="train every seed of a config as one program"))
    seeds = t.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=int, help="train seeds 0 .. N-1")
    seeds.add_argument("--seed-list", help="comma-separated seeds, e.g. 0,3,7")
    t.add_argument("--steps", type=int, help="training steps (train.steps)")
    t.add_argument("--grid", action="append", metavar="AXIS=V1,V2,...",
                   help="train every value of a hyperparameter in the same program, with every "
                   "seed (lr, weight_decay, train_fraction, weight_scale; repeatable: a grid)")
    t.add_argument("--workdir", help="run directory (default runs/<config>-<time>)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    t.add_argument("--distributed", action="store_true",
                   help="one of several processes (hosts) of one run: jax.distributed.initialize"
                   "() (finds SLURM, TPU pod and Open MPI settings itself)")
    t.add_argument("--coordinator", metavar="HOST:PORT",
                   help="with --distributed where nothing provides it: process 0's address")
    t.add_argument("--num-processes", type=int, help="with --coordinator: how many processes")
    t.add_argument("--process-id", type=int, help="with --coordinator: this process's index")
    t.add_argument("--init-from", metavar="RUN[@STEP]",
                   help="start from another run's checkpoint (default: its latest)")
    t.add_argument("--load", metavar="GROUPS",
                   help="what to load from it: embed, transformer, unembed, full (comma-separated)")
    t.add_argument("--freeze", metavar="GROUPS",
                   help="groups that receive no update and no weight decay")
    t.add_argument("--source-seed", type=int, metavar="S",
                   help="every seed starts from the source's seed S (default: the same seed)")
    t.set_defaults(func=cmd_train)
    pr = sub.add_parser("probe", help="probe a run's weights: JSON report and PNG figures")
    pr.add_argument("run", help="a run directory")
    pr.add_argument("--step", type=int, help="a checkpoint step (default: the latest)")
    pr.add_argument("--seed", type=int, help="the seed the figures show (default: the first)")
    pr.add_argument("--out", help="output directory (default RUN/probes)")
    pr.add_argument("--final-keys", action="store_true",
                    help="also the restricted and excluded loss at every checkpoint with the final "
                    "model's key frequencies, as Nanda computes them (final-keys.json, a figure)")
    pr.set_defaults(func=cmd_probe)
    pl = sub.add_parser("plot", help="figures of finished runs: grokking curves, progress "
                        "measures, spectra, grok steps across seeds and runs")
    pl.add_argument("runs", nargs="+", metavar="RUN", help="run directories")
    pl.add_argument("--out", help="output directory (default RUN/plots; for several runs, "
                    "plots/ beside the first)")
    pl.add_argument("--seed", type=int, help="the seed whose spectra are drawn (default: the first)")
    pl.add_argument("--step", type=int, help="the checkpoint step of the spectra (default: the latest)")
    pl.add_argument("--no-spectra", action="store_true", help="skip the spectra (no checkpoint read)")
    pl.set_defaults(func=cmd_plot)
    sw = sub.add_parser("sweep", help="run a sweep file's runs here, submit them to SLURM, or "
                        "start them on a TPU pod; again: skips finished runs, resumes the rest")
    sw.add_argument("file", help="a sweep file, e.g. experiments/sweep_arithmetic.py[:ARG]")
    sw.add_argument("--backend", choices=["local", "slurm", "tpu"], default="local")
    sw.add_argument("--root", help="the sweep's directory (default runs/<sweep name>)")
    sw.add_argument("--dry-run", action="store_true",
                    help="print exactly what would run or be submitted; change nothing")
    sw.add_argument("--only", metavar="PATTERN",
                    help="only the runs whose name matches this glob (comma-separated globs)")
    sw.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="override a config value in every run (repeatable), e.g. p=31")
    sw.add_argument("--seeds", type=int, help="seeds per run (instead of the sweep's)")
    sw.add_argument("--seeds-per-task", type=int, default=0, metavar="K",
                    help="cut each run into runs of K seeds (one array task each)")
    sw.add_argument("--jobs", type=int, default=1, help="local: runs at a time")
    sl = sw.add_argument_group("slurm (options override --profile)")
    sl.add_argument("--profile", metavar="TOML", help="resources, e.g. configs/slurm_profile.toml")
    sl.add_argument("--partition")
    sl.add_argument("--account")
    sl.add_argument("--time", help="per array task, e.g. 12:00:00")
    sl.add_argument("--gpus-per-task", type=int)
    sl.add_argument("--cpus-per-task", type=int)
    sl.add_argument("--mem", help="e.g. 16G")
    sl.add_argument("--max-parallel", type=int, help="array tasks running at once")
    sl.add_argument("--tasks-per-run", type=int,
                    help="processes per run (> 1: multi-host under srun, --distributed)")
    tp = sw.add_argument_group("tpu")
    tp.add_argument("--tpu", metavar="NAME", help="the TPU VM (pod) name")
    tp.add_argument("--zone")
    tp.add_argument("--project")
    tp.add_argument("--tpu-repo", default="~/grokjax", help="grokjax's checkout on the workers")
    tp.add_argument("--tpu-python", default="python3")
    tp.add_argument("--tpu-setup", help="shell run first on every worker")
    tp.add_argument("--submit", action="store_true", help="run the gcloud commands (else: write "
                    "and print them)")
    sw.set_defaults(func=cmd_sweep)
    co = sub.add_parser("collect", help="every run's summary of a sweep in one table: CSV, "
                        "markdown, and with --plot the grok steps figure")
    co.add_argument("root", metavar="SWEEP_DIR")
    co.add_argument("--out", help="output directory (default SWEEP_DIR)")
    co.add_argument("--plot", action="store_true", help="also draw grok-steps.png (tasks by r)")
    co.set_defaults(func=cmd_collect)
    ci = sub.add_parser("circuits", help="circuits of a run's checkpoint, every seed at once: "
                        "ACDC, EAP, EAP-IG, edge and activation patching")
    ci.add_argument("run", help="a run directory")
    ci.add_argument("--method", default="acdc", choices=("acdc", "edges", "eap", "eap-ig", "patch", "clock-pizza"),
                    help="acdc (default); edges: each unit's exact effect; eap, eap-ig: their "
                    "attribution estimates; patch: TransformerLens's activation-patching tables; "
                    "clock-pizza: gradient symmetricity and distance irrelevance")
    ci.add_argument("--step", type=int, help="a checkpoint step (default: the latest)")
    ci.add_argument("--seeds", metavar="S,S,...", help="the seeds to read (default: all)")
    ci.add_argument("--corrupt", default="shuffle", metavar="KIND",
                    help="shuffle (default: another input's activations), resample-b, b+1, a+1, "
                    "swap (a null control for commutative tasks), mean (over the p x p table), zero")
    ci.add_argument("--metric", default="kl", choices=("kl", "logit_diff", "loss", "accuracy"),
                    help="kl from the clean model (default), logit_diff, loss or accuracy")
    ci.add_argument("--tau", type=float, default=0.01,
                    help="ACDC's threshold (default 0.01); for edges/eap/eap-ig, the |score| a "
                    "kept unit reaches")
    ci.add_argument("--granularity", default="edges", choices=("edges", "edges-nopos", "nodes"),
                    help="edges at each position (default), edges without positions (ACDC's "
                    "graph) or nodes")
    ci.add_argument("--by-frequency", action="store_true",
                    help="split the last MLP into neuron groups by key frequency")
    ci.add_argument("--examples", type=int, default=0,
                    help="read this many (a, b) inputs, drawn with --corrupt-seed (default: all p^2)")
    ci.add_argument("--corrupt-seed", type=int, default=0, help="seed of the corruption's draws")
    ci.add_argument("--ig-steps", type=int, default=10, help="EAP-IG's interpolation steps")
    ci.add_argument("--direction", default="denoise", choices=("denoise", "noise"),
                    help="patch: clean into corrupted (denoise, TransformerLens's) or the reverse")
    ci.add_argument("--over-training", action="store_true",
                    help="also at every checkpoint: size and faithfulness against step")
    ci.add_argument("--task", help="a mixture's task (default: its first)")
    ci.add_argument("--out", help="output directory (default RUN/circuits/METHOD-GRANULARITY)")
    ci.set_defaults(func=cmd_circuits)
    rp = sub.add_parser("report", help="the papers' claims beside our results: REPRODUCTION.md")
    rp.add_argument("claims", nargs="?", default="experiments/claims.py",
                    help="a claims file (default experiments/claims.py)")
    rp.add_argument("--results", default="experiments/results",
                    help="the results root the claims' runs live under (default "
                    "experiments/results)")
    rp.add_argument("--out", default="REPRODUCTION.md", help="the report (default "
                    "REPRODUCTION.md)")
    rp.set_defaults(func=cmd_report)
    i = sub.add_parser("inspect", help="saved steps, seeds, config and results of a run")
    i.add_argument("run", help="a run directory")
    i.set_defaults(func=cmd_inspect)
    with_config(sub.add_parser("config", help="print the resolved config")).set_defaults(
        func=cmd_config)
    sub.add_parser("tasks", help="list the named tasks").set_defaults(func=cmd_tasks)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.argv = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--debug"]
    from grokjax.config import files
    files.DEBUG = args.debug
    # orbax's info, warnings and the tracebacks it logs from its threads, and the "Task
    # exception was never retrieved" that asyncio logs for its failed writes: the errors
    # behind them reach the command as exceptions, reported in one line
    for library in ("absl", "asyncio"):
        logging.getLogger(library).setLevel(logging.CRITICAL)
    try:
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
