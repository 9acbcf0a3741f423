"""JAX's persistent compilation cache, on by default for the commands that compile.

The second run of a config, a resume, or the next run of a sweep then loads its compiled
programs from disk instead of compiling them again. A cached executable computes exactly what
a fresh compile does: its key covers the program, the jax and jaxlib versions, the backend and
the compile options.

Where: JAX's own `JAX_COMPILATION_CACHE_DIR` if it is set, else `$GROKJAX_CACHE_DIR`, else
`$XDG_CACHE_HOME/grokjax/jax` (`~/.cache/grokjax/jax`). It keeps at most 2 GiB (JAX drops the
least recently used entries). `GROKJAX_COMPILATION_CACHE=0` or a command's
`--no-compilation-cache` turns it off. An entry that cannot be written (a full disk) or read
(one a full disk truncated: JAX checks it as it decompresses) is compiled as it would be without
a cache, without a word: JAX's warnings for it are filtered.
"""

from __future__ import annotations

import os
import pathlib
import warnings

MAX_BYTES = 2 * 1024 ** 3
OFF = ("0", "false", "no", "off")


def cache_dir() -> pathlib.Path:
    """The directory the cache would use (see the module docstring)."""
    for var in ("JAX_COMPILATION_CACHE_DIR", "GROKJAX_CACHE_DIR"):
        if os.environ.get(var):
            return pathlib.Path(os.environ[var]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base).expanduser() / "grokjax" / "jax"


def enable(on: bool = True) -> pathlib.Path | None:
    """Turns the cache on (unless `on` is False or the environment says off) before the first
    compile; returns its directory, or None when it is off."""
    import jax  # here: the CLI's cheap commands never import JAX
    if not on or os.environ.get("GROKJAX_COMPILATION_CACHE", "").lower() in OFF:
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    path = cache_dir()
    warnings.filterwarnings("ignore", r"Error (reading|writing) persistent compilation cache",
                            UserWarning)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    # every program of a run is worth keeping: the small ones (init, final) add up too
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    return path
