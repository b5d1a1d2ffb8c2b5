"""`t2b drift report`: the reference from the stored feature table and the serving champion, the
current window from the prediction log (store and exported days), the report into object storage."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from shared.cli.errors import CommandError, ExitCode
from shared.config import get_settings
from shared.db.session import get_engine
from shared.ml.data import MLParams, read_stored_table
from shared.monitoring import drift, logged
from shared.storage import get_store


def run_drift_report(since: datetime, until: datetime) -> drift.DriftSummary:
    from shared.ml.registry import CHAMPION, load_predictor, resolve_alias, tracking_client

    settings, store = get_settings(), get_store()
    try:
        current = logged.logged_predictions(get_engine(), store, since, until)
    except logged.NoPredictions as error:
        raise CommandError(str(error), ExitCode.FAILED) from None
    champion = resolve_alias(tracking_client(), settings.model_name, CHAMPION)
    predictor = load_predictor(champion)
    reference = drift.training_reference(
        read_stored_table(store), MLParams.embedded().train_until, predictor.feature_names, predictor.predict_matrix
    )
    snapshot, summary = drift.compare(reference, current)
    window = drift.DriftSummary(**{
        **asdict(summary), "columns": summary.columns, "since": since.isoformat(), "until": until.isoformat()
    })  # fmt: skip
    return drift.store_report(store, snapshot, window)
