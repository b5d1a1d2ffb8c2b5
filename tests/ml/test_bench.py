"""`t2b bench ml` prints each goal with a verdict; without the reference set its row says why it is skipped."""

from __future__ import annotations

import pytest

from shared.cli import app as cli_app
from shared.cli.errors import ExitCode

pytestmark = pytest.mark.slow  # imports the demo CSVs into a scratch store (~10 s)


def test_bench_ml_prints_the_online_goal_and_skips_a_missing_reference_set(
    configure, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    configure()
    missing = tmp_path / "no-such-folder"
    args = ["bench", "ml", "--reference", str(missing), "--calls", "200", "--no-training"]
    code = cli_app.run(args)
    captured = capsys.readouterr()
    assert code == ExitCode.OK, captured.err
    lines = captured.out.splitlines()
    skipped = next(line for line in lines if "reference" in line and "skipped" in line)
    assert str(missing) in skipped and "< 15 s" in skipped
    online = next(line for line in lines if "no odds (no-market path)" in line)
    assert "median" in online and "p99" in online and "p99 < 1 ms" in online
    assert " met " in online or "NOT MET" in online
    assert any("offline walk, per row" in line and "µs" in line for line in lines)
