"""The dead-letter sink: every event a Trigger gave up on is stored once, with why it failed.

It takes any event, valid or not (a dead letter is often an event the subscriber rejected as
invalid), so it checks only the CloudEvent attributes, never the data. A redelivered dead letter
(same source + id) is stored once: the dedupe memory catches most copies, the unique constraint on
(event_id, event_source) the rest (check-then-insert in one transaction; an IntegrityError from a
concurrent insert of the same letter is a duplicate too).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cloudevents.conversion import to_json
from cloudevents.http import CloudEvent
from prometheus_client import Counter
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from shared.clock import utcnow
from shared.db.models import DeadLetter
from shared.db.session import transaction
from shared.events.contract import PREDICTION_REQUESTED
from shared.events.delivery import (
    ATTEMPTS_EXTENSION,
    ERROR_CODE_EXTENSION,
    ERROR_DATA_EXTENSION,
    ERROR_DEST_EXTENSION,
    TRIGGER_EXTENSION,
    decode_error_data,
)
from shared.events.metrics import _metric
from shared.tasks.handler import type_label

if TYPE_CHECKING:
    from shared.jobs import JobStore
    from shared.services import Services

log = logging.getLogger("time2bet.tasks.dead_letter")

DEAD_LETTERS_STORED = _metric(
    Counter,
    "t2b_dead_letters_stored",
    "Dead-lettered events stored by the dead-letter sink; code = knativeerrorcode ('none' when absent)",
    ("type", "code"),
)


@dataclass(frozen=True)
class Letter:
    event_id: str
    event_source: str
    event_type: str
    error_code: int | None
    error_data: str | None
    error_dest: str | None
    attempts: int | None
    trigger: str | None
    event: dict[str, Any]
    received_at: datetime

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text_or_none(value: Any, limit: int | None = None) -> str | None:
    if value is None:
        return None
    return str(value)[:limit] if limit else str(value)


def _error_data(value: Any) -> str | None:
    return decode_error_data(value) if isinstance(value, str) else _text_or_none(value)


def letter_from_event(event: CloudEvent) -> Letter:
    """What is stored of a dead letter. Lenient on purpose: a malformed extension is kept as NULL, not refused,
    because a refused dead letter has nowhere left to go."""
    return Letter(
        event_id=str(event["id"])[:256],
        event_source=str(event["source"])[:512],
        event_type=type_label(event)[:128],
        error_code=_int_or_none(event.get(ERROR_CODE_EXTENSION)),
        error_data=_error_data(event.get(ERROR_DATA_EXTENSION)),
        error_dest=_text_or_none(event.get(ERROR_DEST_EXTENSION), 512),
        attempts=_int_or_none(event.get(ATTEMPTS_EXTENSION)),
        trigger=_text_or_none(event.get(TRIGGER_EXTENSION), 128),
        event=json.loads(to_json(event)),  # binary data becomes data_base64, so any event serialises
        received_at=utcnow(),
    )


def store_letter(letter: Letter, engine: Engine) -> bool:
    """Insert the letter unless one with its source + id is stored; True when this call stored it."""
    try:
        with transaction(engine) as session:
            stored = session.scalar(
                select(DeadLetter.id).where(
                    DeadLetter.event_id == letter.event_id, DeadLetter.event_source == letter.event_source
                )
            )
            if stored is not None:
                return False
            session.add(DeadLetter(**letter.row()))
    except IntegrityError:
        return False  # the same letter, inserted concurrently between our check and insert
    return True


def abandoned_job(letter: Letter) -> str | None:
    """The async prediction job a dead-lettered prediction.requested was for."""
    data = letter.event.get("data")
    job_id = data.get("job_id") if letter.event_type == PREDICTION_REQUESTED and isinstance(data, dict) else None
    return job_id if isinstance(job_id, str) else None


def fail_abandoned_prediction(letter: Letter, job_id: str, jobs: JobStore) -> None:
    """An async prediction whose event was given up on would otherwise stay `queued` until its TTL."""
    from shared.jobs import JobStoreUnavailable, UnknownJob

    reason = (
        f"not computed: delivery gave up after {letter.attempts or '?'} attempts ({letter.error_data or 'no reason'})"
    )
    try:
        jobs.fail(job_id, reason)
    except (UnknownJob, JobStoreUnavailable) as exc:
        log.warning("dead-lettered prediction job %s could not be marked failed: %s", job_id, exc)


def handle_dead_letter(event: CloudEvent, services: Services) -> str:
    letter = letter_from_event(event)
    if not store_letter(letter, services.engine):
        return "duplicate"
    code = str(letter.error_code) if letter.error_code is not None else "none"
    DEAD_LETTERS_STORED.labels(letter.event_type, code).inc()
    job_id = abandoned_job(letter)
    if job_id is not None:  # the job store (rq) is built only for these
        fail_abandoned_prediction(letter, job_id, services.job_store)
    return "stored"


def cloudevent_attributes(event: CloudEvent) -> CloudEvent:
    """The dead-letter sink's validation: functions-framework's CloudEvent parsing already required id,
    source, type and specversion."""
    return event
