"""The backtest's forecasters and metrics by name, as they appear in MLflow metric keys.

Kept apart from shared.ml.evaluate (numpy, pandas, LightGBM): the model-card function reads these
names back from a run's metrics and must not load the training stack for them.
"""

from __future__ import annotations

MARKET = "market (closing)"
PRE_KICKOFF_MARKET = "market (pre-kickoff)"
MODEL = "model"
NO_MARKET_MODEL = "model (no market)"
ELO = "elo baseline"
FREQUENCIES = "class frequencies"
# Forecasters' names in metric keys and in the columns of BacktestReport.matches.
SHORT_NAMES = {
    MODEL: "model",
    NO_MARKET_MODEL: "nomarket",
    MARKET: "market",
    PRE_KICKOFF_MARKET: "prekickoff",
    ELO: "elo",
    FREQUENCIES: "class",
}
METRIC_NAMES = ("rps", "log_loss", "brier", "accuracy")
