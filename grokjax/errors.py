"""The user-facing error type.

Every mistake a user can make at the command line (an unknown task or config key, a modulus that
does not suit the task, a fraction outside (0, 1), ...) raises `GrokjaxError` with a one-line
message that names the problem and the fix. The CLI prints it without a traceback.
"""


class GrokjaxError(Exception):
    """A problem with the user's input; the message says what is wrong and how to fix it."""


class RunBusy(GrokjaxError):
    """A run directory that another process is training now (it holds RUN/.lock). The command
    line exits with BUSY_EXIT, which the sweep launchers read as 'skip: running elsewhere'."""


BUSY_EXIT = 3


class Interrupted(GrokjaxError):
    """A run stopped by SIGINT or SIGTERM at a chunk boundary, its checkpoint saved. The
    command line prints the message with the command that resumes the run, and exits with
    `exit_code`, 128 + the signal (130 for SIGINT, 143 for SIGTERM), as a shell would."""

    def __init__(self, message: str, signum: int, step: int):
        super().__init__(message)
        self.exit_code, self.step = 128 + signum, step
