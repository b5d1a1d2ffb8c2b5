"""The `t2b` exit policy (shared.cli.errors) and console output that survives files and pipes."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from shared.cli import app as cli_app
from shared.cli.console import make_console, spinner
from shared.cli.errors import CommandError, ExitCode, as_command_error
from shared.ingest.runs import RunBlocked
from tests.services import REPO


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (CommandError("gate kept the champion"), ExitCode.FAILED),
        (CommandError("captcha", ExitCode.BLOCKED), ExitCode.BLOCKED),
        (RunBlocked("Incapsula page"), ExitCode.BLOCKED),
        (FileNotFoundError("no params.yaml"), ExitCode.BAD_INPUT),
        (ValueError("season 20x"), ExitCode.BAD_INPUT),
        (ConnectionRefusedError("redis"), ExitCode.TEMPORARY),
        (PermissionError("read-only folder"), ExitCode.FAILED),
    ],
)
def test_known_failures_map_to_documented_codes(failure: Exception, code: ExitCode) -> None:
    error = as_command_error(failure)
    assert error is not None and error.code == code


def test_a_bug_is_not_a_known_failure() -> None:
    assert as_command_error(KeyError("x")) is None


@pytest.fixture
def command(monkeypatch: pytest.MonkeyPatch):
    """A throwaway command on the real app; it raises what the test hands it."""
    raised: list[BaseException] = []

    def failing() -> None:
        raise raised[0]

    cli_app.app.command("fail-for-test")(failing)
    yield raised
    cli_app.app.registered_commands.pop()


def test_run_prints_one_line_and_returns_the_code(command, capsys: pytest.CaptureFixture[str]) -> None:
    command.append(ConnectionRefusedError("Connection refused: localhost:6399\nsecond line"))
    assert cli_app.run(["fail-for-test"]) == ExitCode.TEMPORARY
    err = capsys.readouterr().err
    assert err == "error: Connection refused: localhost:6399\n"


def test_markup_in_a_message_is_printed_as_written(command, capsys: pytest.CaptureFixture[str]) -> None:
    command.append(CommandError("features.py:100: column [bold] missing", ExitCode.BAD_INPUT))
    assert cli_app.run(["fail-for-test"]) == ExitCode.BAD_INPUT
    assert capsys.readouterr().err == "error: features.py:100: column [bold] missing\n"


def test_a_bug_keeps_its_traceback(command) -> None:
    command.append(KeyError("bug"))
    with pytest.raises(KeyError):
        cli_app.run(["fail-for-test"])


def test_usage_errors_exit_2() -> None:
    assert cli_app.run(["no-such-command"]) == ExitCode.BAD_INPUT


def test_installed_command_exits_with_the_code() -> None:
    """The real entry point (main) in a process: its exit status is the policy's code."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv = ['t2b', 'ingest', 'football-data', '/no/such/folder']; "
            "from shared.cli import main; main()",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == ExitCode.BAD_INPUT, done.stderr
    assert done.stderr.strip() == "error: no such file or folder: /no/such/folder"


def test_paths_with_line_numbers_are_not_emoji() -> None:
    out = io.StringIO()
    console = make_console()
    console.file = out
    console.print("shared/ml/train.py:100: rejected")
    assert out.getvalue() == "shared/ml/train.py:100: rejected\n"


def test_not_a_terminal_no_wrapping_and_no_spinner_frames(capsys: pytest.CaptureFixture[str]) -> None:
    long_line = "x" * 150 + " end"
    console = make_console()
    with spinner("training") as notify:
        notify("round 10")
        console.print(long_line)
    out = capsys.readouterr().out
    assert out == long_line + "\n"


def test_a_terminal_still_wraps() -> None:
    out = io.StringIO()
    console = make_console()
    console.file = out
    console._force_terminal = True
    console.size = (80, 25)
    console.print("y" * 100)
    assert len(out.getvalue().splitlines()) == 2
