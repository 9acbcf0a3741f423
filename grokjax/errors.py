"""The user-facing error type, and the errors and noise of libraries' own threads.

Every mistake a user can make at the command line (an unknown task or config key, a modulus that
does not suit the task, a fraction outside (0, 1), ...) raises `GrokjaxError` with a one-line
message that names the problem and the fix. The CLI prints it without a traceback.
"""

import logging
import os
import sys
import threading
import types
import warnings


class GrokjaxError(Exception):
    """A problem with the user's input; the message says what is wrong and how to fix it."""


class RunBusy(GrokjaxError):
    """A run directory that another process is training now (it holds RUN/.lock). The command
    line exits with BUSY_EXIT, which the sweep launchers read as 'skip: running elsewhere'."""


BUSY_EXIT = 3


def write_failed(path, exc: BaseException) -> GrokjaxError:
    """The one-line error for a write that failed (a full disk, a read-only place, ...): the
    path and the cause, without the library's traceback."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    known = ("No space left on device", "Read-only file system", "Permission denied",
             "File too large", "Disk quota exceeded", "Not a directory")
    cause = next((k for k in known if k in text), (text.splitlines() or [type(exc).__name__])[0])
    return GrokjaxError(f"could not write {path}: {cause[:200]}; the files written before are "
                        "unchanged (free space, or choose another --out)")


class Interrupted(GrokjaxError):
    """A run stopped by SIGINT or SIGTERM at a chunk boundary, its checkpoint saved. The
    command line prints the message with the command that resumes the run, and exits with
    `exit_code`, 128 + the signal (130 for SIGINT, 143 for SIGTERM), as a shell would."""

    def __init__(self, message: str, signum: int, step: int):
        super().__init__(message)
        self.exit_code, self.step = 128 + signum, step


# Exceptions raised in a library's own threads (orbax's asynchronous saves, tensorboardX's event
# writer) would print a traceback and be lost; for the libraries named here they are kept, the
# first per library, for the code that uses the library to report in one line.
_THREAD_ERRORS: dict[str, BaseException | None] = {}


def keep_thread_errors(library: str) -> None:
    """From now on an exception in a thread of `library` (its top-level module, e.g. 'orbax')
    is kept, not printed: `thread_error(library)` returns it."""
    if not _THREAD_ERRORS:
        previous = threading.excepthook

        def hook(args):
            library = type(args.thread).__module__.split(".")[0]
            if library in _THREAD_ERRORS:
                _THREAD_ERRORS[library] = _THREAD_ERRORS[library] or args.exc_value
            else:
                previous(args)
        threading.excepthook = hook
    _THREAD_ERRORS.setdefault(library, None)


def thread_error(library: str, clear: bool = False) -> BaseException | None:
    """The first exception kept from `library`'s threads (and forget it, with `clear`)."""
    error = _THREAD_ERRORS.get(library)
    if clear and library in _THREAD_ERRORS:
        _THREAD_ERRORS[library] = None
    return error


_SILENCED = False


def silence_library_noise() -> None:
    """Once per process, for the command line: what the libraries print besides the errors that
    reach the command as exceptions (each reported in one line) goes unprinted. That is orbax's
    (absl) info and warnings and the tracebacks it logs from its threads; asyncio's "Task
    exception was never retrieved" for a failed write; the coroutines of such a write collected
    unawaited as the process exits; the "RuntimeError: Event loop is closed" that
    tensorstore's C++ callbacks raise (unraisable) into the event loop orbax closed after a
    failed save, a dozen tracebacks on a full disk; and, after a failed read (a truncated
    checkpoint, reported in one line), orbax's read coroutines that were left suspended: closed
    as they are collected, each turns the close into an "Exception: Encountered error while
    reading array index" with a 60-line TensorStore spec (`_unraisable_noise`)."""
    global _SILENCED  # pylint: disable=global-statement
    if _SILENCED:
        return
    _SILENCED = True
    for library in ("absl", "asyncio"):
        logging.getLogger(library).setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", r"coroutine .* was never awaited", RuntimeWarning)
    previous = sys.unraisablehook

    def hook(unraisable):
        if not _unraisable_noise(unraisable):
            previous(unraisable)
    sys.unraisablehook = hook


def _unraisable_noise(unraisable) -> bool:
    """Whether an unraisable exception is one of the libraries' noise (see
    `silence_library_noise`): tensorstore's "Event loop is closed", or an exception raised by
    closing a suspended coroutine of orbax's or tensorstore's as it is collected (its
    `except BaseException: raise Exception(...)` catches the GeneratorExit of the close)."""
    error, obj = unraisable.exc_value, unraisable.object
    if isinstance(error, RuntimeError) and str(error) == "Event loop is closed":
        return True
    if not isinstance(obj, types.CoroutineType):
        return False
    where = obj.cr_code.co_filename.replace("\\", "/")
    closing = isinstance(error, GeneratorExit) or isinstance(
        getattr(error, "__cause__", None) or getattr(error, "__context__", None), GeneratorExit)
    return closing or any(f"/{lib}/" in where for lib in ("orbax", "tensorstore"))


# Threads a library will not finish (an orbax save on a disk that stopped answering), that the
# process must not wait for at its exit; see `leave_behind`.
_LEFT_BEHIND: list[threading.Thread] = []
LEFT_BEHIND_EXIT = 2  # the exit code of the error that reports them (the CLI's error code)


def leave_behind(threads) -> None:
    """`threads` (a library's, that hang) are not waited for at the process's exit: Python joins
    every non-daemon thread as it shuts down, for ever for one that hangs; so if any of these
    still runs then, the process ends there with LEFT_BEHIND_EXIT, its stdout and stderr
    flushed (the error was reported when they were left behind). Daemon threads are never
    waited for."""
    threads = [t for t in threads if not t.daemon and t is not threading.current_thread()]
    if threads and not _LEFT_BEHIND:
        try:
            # run as the interpreter shuts down, before it joins the non-daemon threads
            threading._register_atexit(_exit_if_left_behind)  # pylint: disable=protected-access
        except (AttributeError, RuntimeError):  # (shutting down already)
            return
    _LEFT_BEHIND.extend(threads)


def _exit_if_left_behind() -> None:
    if any(t.is_alive() for t in _LEFT_BEHIND):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001  (a closed or broken stream)
                pass
        os._exit(LEFT_BEHIND_EXIT)  # pylint: disable=protected-access
