"""How a run directory's files are written and read (their names: `grokjax.store.files`).

    config.json    the resolved config
    run.json       seeds, split seeds, tasks and formulas, vocabulary layout, numerics in effect,
                   backend and devices, library versions, host CPU and grokjax commit,
                   command line
    splits.npz     operands [N, arity] and each seed's train_idx [S, n_train] / test_idx [S, n_test]
    history.npz    every metric at every log point: 'step' [P] and e.g. 'test/acc' [S, P, T]
    summary.json   per seed: final metrics, memorisation and grok steps (per task and overall)
    .lock          held (flock) by the process training the run, so no run is trained twice

Everything is JSON or numpy's npz (loaded with allow_pickle=False): nothing executes on load.
Files are written to a temporary name and renamed, so a crash never leaves half a file. In a
multi-host run only the primary process writes them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import pathlib
import platform
import subprocess
import sys
import time
from typing import Any, Iterator

import jax
import numpy as np

from grokjax.errors import GrokjaxError, RunBusy, write_failed
from grokjax.store.files import CONFIG, RunFiles

LIBRARIES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "chex", "numpy",
             "ml_collections", "tensorboardX")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def host() -> dict[str, str]:
    """The machine and code that trained a run. XLA compiles CPU programs for the host's
    instruction set, so the same program on two CPUs can round differently: two runs whose
    `cpu_features` differ may agree only to float rounding (README, "What holds where")."""
    cpu, flags = "", ""
    with contextlib.suppress(OSError):
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not cpu:
                cpu = value.strip()
            elif key.strip() in ("flags", "Features") and not flags:
                flags = " ".join(sorted(value.split()))
    out = {"machine": platform.machine(), "cpu": cpu or platform.processor() or "unknown",
           "cpu_features": hashlib.sha256(flags.encode()).hexdigest()[:12] if flags else "unknown",
           "cpu_count": str(os.cpu_count())}
    try:
        out["grokjax"] = importlib.metadata.version("grokjax")
    except importlib.metadata.PackageNotFoundError:
        out["grokjax"] = "not installed"
    root = pathlib.Path(__file__).resolve().parents[2]  # a checkout's, not an installed copy's
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        if (root / ".git").exists():
            commit = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty",
                                     "--abbrev=12"], capture_output=True, text=True, timeout=5)
            if commit.returncode == 0 and commit.stdout.strip():
                out["commit"] = commit.stdout.strip()
    return out


def environment() -> dict[str, Any]:
    return {"backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
            "process_count": jax.process_count(), "versions": versions(), "host": host(),
            "argv": sys.argv}


def _atomic_write(path: pathlib.Path, write) -> None:
    if jax.process_index() != 0:  # a multi-host run: the primary process writes the files
        return
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # the old file, if any, is still whole
        tmp.unlink(missing_ok=True)
        raise write_failed(path, e) from None


def write_json(path: pathlib.Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, sort_keys=False, default=_json_default)
    _atomic_write(path, lambda f: f.write(text.encode() + b"\n"))


def write_text(path: pathlib.Path, text: str) -> None:
    _atomic_write(path, lambda f: f.write(text.encode()))


def write_bytes(path: pathlib.Path, data: bytes) -> None:
    _atomic_write(path, lambda f: f.write(data))


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (np.ndarray, tuple)):
        return np.asarray(x).tolist()
    raise TypeError(f"cannot write {type(x).__name__} as JSON")


_NO_DEFAULT = object()


def require(run_dir: str | pathlib.Path, names: tuple[str, ...] = (CONFIG,),
            use: str = "") -> pathlib.Path:
    """`run_dir` as a path, once it holds every file of `names`; else a GrokjaxError naming the
    first missing one and, in `use`, what needed it. The one check every reader of a run
    directory makes before it reads."""
    run_dir = pathlib.Path(run_dir)
    for name in names:
        if not (run_dir / name).is_file():
            what = "grokjax run directory" if name == CONFIG else "finished grokjax run"
            raise GrokjaxError(f"{run_dir} has no {name}: it is not a {what}"
                               + (f"; {use}" if use else ""))
    return run_dir


def read_config(run_dir: str | pathlib.Path, use: str = "") -> dict:
    """A run directory's config.json (see `require`), checked to be an object."""
    return read_json_dict(RunFiles(require(run_dir, use=use)).config)


def read_json(path: pathlib.Path, default: Any = _NO_DEFAULT) -> Any:
    """The JSON at `path`; `default` if given and the file does not exist. A file that is not
    JSON is a GrokjaxError naming it."""
    path = pathlib.Path(path)
    if default is not _NO_DEFAULT and not path.exists():
        return default
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GrokjaxError(f"{path} is damaged: not JSON ({e})") from None


def read_json_dict(path: pathlib.Path, required: tuple[str, ...] = ()) -> dict:
    """A JSON object with at least the `required` keys, else a GrokjaxError naming the file."""
    value = read_json(path)
    missing = [k for k in required if not isinstance(value, dict) or k not in value]
    if not isinstance(value, dict) or missing:
        what = "not an object" if not isinstance(value, dict) else "no " + ", ".join(missing)
        raise GrokjaxError(f"{path} is damaged: not what grokjax writes there ({what})")
    return value


def write_npz(path: pathlib.Path, arrays: dict[str, np.ndarray]) -> None:
    _atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def read_npz(path: pathlib.Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file; a file that is not one is a GrokjaxError naming it."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001  (truncated, not a zip, pickled objects, ...)
        raise GrokjaxError(f"{path} is damaged: not a readable .npz ({type(e).__name__}: "
                           f"{str(e)[:120]})") from None


@contextlib.contextmanager
def lock(workdir: pathlib.Path, patience: float = 2.0) -> Iterator[None]:
    """Holds RUN/.lock while a run trains; raises RunBusy if another process holds it for
    `patience` seconds (a status check takes it for an instant). In a multi-host run the
    primary process takes it and tells the others, which raise RunBusy with it. The OS drops
    the lock when a process dies, so a killed run never leaves its directory locked."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
        with contextlib.ExitStack() as stack:
            got = np.int32(1)
            if jax.process_index() == 0:
                try:
                    stack.enter_context(_flock(workdir, patience))
                except RunBusy:
                    got = np.int32(0)
            if not int(multihost_utils.broadcast_one_to_all(got)):
                raise RunBusy(_busy(workdir))
            yield
        return
    with _flock(workdir, patience):
        yield


def _busy(workdir: pathlib.Path) -> str:
    return (f"{workdir} is being trained by another process right now; wait for it to finish "
            "(a sweep skips it), or choose another --out")


@contextlib.contextmanager
def _flock(workdir: pathlib.Path, patience: float) -> Iterator[None]:
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        f = open(RunFiles(workdir).lock, "a")  # pylint: disable=consider-using-with
    except FileExistsError:
        raise GrokjaxError(f"--out {workdir} is a file, not a directory; choose another "
                           "--out") from None
    except OSError as e:
        raise write_failed(workdir, e) from None
    with f:
        deadline = time.monotonic() + patience
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RunBusy(_busy(workdir)) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def is_locked(workdir: pathlib.Path) -> bool:
    """Whether a process is training this run now (reads only: a read-only tree works)."""
    try:
        f = open(RunFiles(workdir).lock)  # pylint: disable=consider-using-with
    except FileNotFoundError:
        return False
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False
