"""The exit policy of `t2b`: one error type, five documented exit codes (README "Exit codes").

A workflow step retries on TEMPORARY and on nothing else; BLOCKED asks a human to look at the
source (a captcha, a ban) before anything runs again.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.errors import Unavailable


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the command ran and the result is a failure (a rejected file, a gate not passed)
    BAD_INPUT = 2  # arguments, files or registry names that cannot work; rerunning changes nothing
    BLOCKED = 3  # the outside source refused us (blocked page, rate limit ban)
    TEMPORARY = 75  # a service was unreachable; the same command may succeed later (sysexits EX_TEMPFAIL)


class CommandError(Exception):
    """A failure the user can act on; its message is the one line they see, its code the exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.code = code


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def as_command_error(exc: BaseException) -> CommandError | None:
    """The CommandError a known failure stands for; None for anything else (a bug: keep the traceback)."""
    if isinstance(exc, CommandError):
        return exc
    code = _known_code(exc)
    return None if code is None else CommandError(one_line(exc), code)


def outage_behind(exc: BaseException) -> Unavailable | None:
    """The outage (of the store, Redis, the broker, MLflow or the object store) `exc` is, or was raised from or
    while handling: MLflow's client reports a refused connection as an MlflowException raised while handling
    it, and the registry wraps that again, so the outage may sit anywhere in the chain."""
    from shared.errors import outage

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        found = outage(current)
        if found is not None:
            return found
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _known_code(exc: BaseException) -> ExitCode | None:
    # imported here: `t2b --help` must not pay for SQLAlchemy, pydantic and redis
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from shared.ingest.runs import RunBlocked

    if isinstance(exc, RunBlocked):
        return ExitCode.BLOCKED
    if outage_behind(exc) is not None:  # try again later
        return ExitCode.TEMPORARY
    if isinstance(exc, (FileNotFoundError, NotADirectoryError, IsADirectoryError, ValidationError, ValueError)):
        return ExitCode.BAD_INPUT
    if isinstance(exc, (SQLAlchemyError, OSError)):
        return ExitCode.FAILED
    try:
        from minio.error import S3Error
    except ImportError:  # the image without the object store client
        return None
    return ExitCode.FAILED if isinstance(exc, S3Error) else None
