"""Drift of what is served from what the model was trained on, with Evidently.

Reference: the training rows of the stored feature table (seasons up to the training cut-off) with
the serving model's probabilities on them. Current: the prediction log's features and probabilities
in a time window (shared/monitoring/logged.py), every row of it. Evidently tests every column (K-S /
chi-square on small samples, Wasserstein / Jensen-Shannon distance on large ones) and renders the
page of its DataDriftPreset: the dataset's drift share and the per-column table with each column's
distributions and its mean over the window. Its HTML and the summary's JSON go to object storage
under reports/drift/date=YYYY-MM-DD/, and the summary to reports/drift/latest.json, which
GET /monitoring/drift/latest serves and the drift-latest function exports as metrics.

Why not the preset itself: besides the dataset count and the table its page shows, DataDriftPreset
adds a ValueDrift metric per column, which tests the column a third time and draws plotly figures
the preset's page never shows — half of the report's time (`t2b bench drift` prints both).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from shared.clock import utcnow
from shared.storage import ObjectStore

# pandas and numpy (and the log reader, which needs them) load where a report is computed: the
# drift-latest function only reads the summary's JSON
if TYPE_CHECKING:
    import pandas as pd

PREFIX = "reports/drift"
LATEST_KEY = f"{PREFIX}/latest.json"
# Evidently's own default: the dataset counts as drifted when half of its columns did.
DATASET_DRIFT_SHARE = 0.5


@dataclass(frozen=True)
class ColumnDrift:
    method: str
    threshold: float
    score: float  # a p-value for the statistical tests, a distance for the others
    drifted: bool


@dataclass(frozen=True)
class DriftSummary:
    generated_at: str
    since: str | None
    until: str | None
    reference_rows: int
    current_rows: int
    drift_share: float
    dataset_drifted: bool
    columns: dict[str, ColumnDrift]
    html_key: str = ""
    json_key: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DriftSummary:
        data = json.loads(text)
        data["columns"] = {name: ColumnDrift(**column) for name, column in data["columns"].items()}
        return cls(**data)


def _evidently() -> tuple[Any, Any]:
    """Evidently 0.7 on pandas 3: its legacy test module imports a helper pandas 3 removed
    (`infer_dtype_from_object`, pandas 2's `pandas_dtype(x).type`); restoring it is all it needs."""
    import pandas as pd
    import pandas.core.dtypes.common as dtypes
    from pandas.errors import Pandas4Warning

    if not hasattr(dtypes, "infer_dtype_from_object"):
        dtypes.infer_dtype_from_object = lambda dtype: pd.api.types.pandas_dtype(dtype).type
    # its drift code calls dropna(inplace=True), which pandas 3 warns about once per column per run
    warnings.filterwarnings("ignore", category=Pandas4Warning, module="evidently")
    from evidently import Report
    from evidently.presets import DataDriftPreset

    return Report, DataDriftPreset


@cache
def _drift_table_preset() -> type:
    """DataDriftPreset's page without its unseen ValueDrift metrics: the drifted-columns count is
    computed, the page (dataset drift and the per-column table) rendered by the preset's own code."""
    _, preset = _evidently()
    from evidently.metrics import DriftedColumnsCount

    class DriftTablePreset(preset):
        def generate_metrics(self, context: Any) -> list[Any]:
            return [metric for metric in super().generate_metrics(context) if isinstance(metric, DriftedColumnsCount)]

    return DriftTablePreset


def training_reference(table: pd.DataFrame, train_until: str, feature_names: list[str], predict: Any) -> pd.DataFrame:
    """The training rows' features and the model's probabilities on them (`predict`: matrix -> (n, 3))."""
    import numpy as np

    from shared.monitoring.logged import PROBABILITIES

    rows = table[table["season"] <= train_until]
    reference = rows[feature_names].astype(float).reset_index(drop=True)
    probabilities = np.asarray(predict(reference.to_numpy(dtype=np.float64)))
    for index, column in enumerate(PROBABILITIES):
        reference[column] = probabilities[:, index]
    return reference


def compare(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[Any, DriftSummary]:
    """Evidently's snapshot over the columns both frames have, every row, and its summary."""
    report_class, _ = _evidently()
    from evidently.legacy.metrics import DataDriftTable

    columns = [column for column in reference.columns if column in current.columns]
    snapshot = report_class([_drift_table_preset()(drift_share=DATASET_DRIFT_SHARE)]).run(
        current_data=current[columns].astype(float), reference_data=reference[columns].astype(float)
    )
    # the table the page shows, as the preset's render computed it (Evidently caches it by fingerprint)
    table, _ = snapshot.context.get_legacy_metric(DataDriftTable(), None, None)
    drifts = {
        name: ColumnDrift(column.stattest_name, float(column.stattest_threshold), float(column.drift_score),
                          bool(column.drift_detected))
        for name, column in table.drift_by_columns.items()
    }  # fmt: skip
    share = float(table.share_of_drifted_columns)
    summary = DriftSummary(
        generated_at=utcnow().isoformat(),
        since=None,
        until=None,
        reference_rows=len(reference),
        current_rows=len(current),
        drift_share=share,
        dataset_drifted=share >= DATASET_DRIFT_SHARE,
        columns=drifts,
    )
    return snapshot, summary


def store_report(store: ObjectStore, snapshot: Any, summary: DriftSummary) -> DriftSummary:
    """HTML and JSON under reports/drift/date=…/, then the summary as the latest."""
    stamp = datetime.fromisoformat(summary.generated_at)
    base = f"{PREFIX}/date={stamp:%Y-%m-%d}/drift-{stamp:%H%M%S}"
    stored = DriftSummary(**{**asdict(summary), "columns": summary.columns, "html_key": f"{base}.html",
                             "json_key": f"{base}.json"})  # fmt: skip
    store.put_bytes(stored.html_key, snapshot.get_html_str(as_iframe=False).encode(), content_type="text/html")
    store.put_bytes(stored.json_key, stored.to_json().encode(), content_type="application/json")
    store.put_bytes(LATEST_KEY, stored.to_json().encode(), content_type="application/json")
    return stored


def latest(store: ObjectStore) -> DriftSummary:
    """The last report's summary; raises the store's not-found error when none was written."""
    return DriftSummary.from_json(store.get_bytes(LATEST_KEY).decode())


def summary_dict(summary: DriftSummary) -> dict[str, Any]:
    return asdict(summary)
