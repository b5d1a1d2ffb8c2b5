"""`t2b backtest` flags on the demo data: exports what it needs, --no-market, --leagues, full lines."""

from __future__ import annotations

import re

import pytest

from shared.cli import app as cli_app
from shared.cli.errors import ExitCode
from shared.storage import get_store

pytestmark = pytest.mark.slow
SPINNER_FRAMES = re.compile("[\u2800-\u28ff]")  # rich's dots spinner


def test_backtest_exports_first_and_scores_only_the_no_market_path_of_one_league(
    demo_tables, configure, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    configure(DATABASE_URL=demo_tables.database_url)  # an ingested database, nothing exported yet
    assert next(iter(get_store().list_keys("raw/matches/")), None) is None
    params = tmp_path / "params.yaml"
    params.write_text("train:\n  learning_rate: 0.1\n  max_rounds: 300\n  early_stopping_rounds: 20\n")  # quick trees
    args = ["backtest", "--test-seasons", "2021-2022", "--no-market", "--leagues", "E0", "--params", str(params)]
    code = cli_app.run([*args, "--report-dir", str(tmp_path / "report")])
    captured = capsys.readouterr()
    out = captured.out
    assert code == ExitCode.OK, captured.err
    assert next(iter(get_store().list_keys("raw/matches/")), None) is not None  # it ran the export itself

    lines = out.splitlines()
    assert not SPINNER_FRAMES.search(out)
    assert any(line.startswith("| all | model (no market) |") and line.endswith("|") for line in lines)
    assert not any(line.startswith("| all | model |") for line in lines)  # no market path trained
    assert not any(line.startswith("| SP1 |") for line in lines)  # only the league asked for
    assert any(line.startswith("| model (no market) | market (closing) | pooled |") for line in lines)
    folds = next(line for line in lines if line.startswith("Folds: 2021-2022 trained on"))
    assert len(folds) > 80 and folds.endswith("want of Pinnacle's).")  # a full line, not wrapped at 80 columns
    for benchmark in ("market (pre-kickoff)", "elo baseline"):
        assert any(line.startswith(f"| model (no market) | {benchmark} | pooled |") for line in lines)
    assert "Value report: bet where p x best pre-kickoff price > 1 + 0.05" in out
    assert any(line.startswith("| nomarket | flat |") for line in lines)
    assert any(line.startswith("| nomarket | kelly |") for line in lines)
    assert re.search(r"- nomarket: (NO EDGE|EDGE|no bets)", out)
    report = tmp_path / "report"
    assert {"bankroll.png", "value_report.md", "value_bets_nomarket.csv", "evaluation.md"} <= {
        path.name for path in report.iterdir()
    }


def test_an_unknown_league_is_one_line_and_exit_2(demo_tables, configure, capsys) -> None:
    configure(DATABASE_URL=demo_tables.database_url)
    code = cli_app.run(["backtest", "--test-seasons", "2021-2022", "--no-market", "--leagues", "XX9"])
    assert code == ExitCode.BAD_INPUT
    assert capsys.readouterr().err == "error: no finished matches of league(s) XX9 in 2021-2022\n"
