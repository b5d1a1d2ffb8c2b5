"""Inputs and outputs the ML steps share: params.yaml, the raw export, the feature table."""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import yaml
from sqlalchemy import Engine

from shared.export import export_store, read_dataset
from shared.features.offline import FeatureTable, ProgressCallback, build_feature_table
from shared.features.params import FeatureParams
from shared.ml.train import TrainParams
from shared.ml.value import ValueParams
from shared.storage import ObjectNotFound, ObjectStore

FEATURE_TABLE_KEY = "features/table/latest.parquet"
DEFAULT_TRAIN_UNTIL = "2020-2021"
DEFAULT_TEST_SEASONS = ("2021-2022",)


class InputError(ValueError):
    pass


@dataclass(frozen=True)
class MLParams:
    features: FeatureParams
    train: TrainParams
    train_until: str = DEFAULT_TRAIN_UNTIL
    test_seasons: tuple[str, ...] = DEFAULT_TEST_SEASONS
    value: ValueParams = field(default_factory=ValueParams)

    @classmethod
    def embedded(cls) -> MLParams:
        return cls(FeatureParams(), TrainParams())

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": self.features.to_dict(),
            "train": self.train.to_dict(),
            "evaluate": {"train_until": self.train_until, "test_seasons": list(self.test_seasons)},
            "value": asdict(self.value),
        }


def load_params(path: Path | None) -> MLParams:
    """params.yaml's `features`, `train` and `evaluate` sections; the embedded defaults without a file."""
    if path is None:
        return MLParams.embedded()
    if not path.is_file():
        raise InputError(f"params file {path} does not exist")
    document = yaml.safe_load(path.read_text()) or {}
    evaluate = document.get("evaluate") or {}
    try:
        return MLParams(
            features=FeatureParams.from_mapping(document.get("features")),
            train=TrainParams.from_mapping(document.get("train")),
            train_until=str(evaluate.get("train_until", DEFAULT_TRAIN_UNTIL)),
            test_seasons=tuple(evaluate.get("test_seasons", DEFAULT_TEST_SEASONS)),
            value=ValueParams.from_mapping(document.get("value")),
        )
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: {exc}") from None


def raw_export(store: ObjectStore) -> tuple[pa.Table, pa.Table]:
    matches, odds = read_dataset(store, "matches"), read_dataset(store, "odds")
    if matches.num_rows == 0:
        raise InputError(f"no exported matches under {store.location('raw/matches/')} (run `t2b export` first)")
    return matches, odds


def build_features(store: ObjectStore, params: FeatureParams, progress: ProgressCallback | None = None) -> FeatureTable:
    matches, odds = raw_export(store)
    return build_feature_table(matches, odds, params, progress)


def ensure_export(store: ObjectStore, engine: Engine) -> int:
    """Export the store's matches to parquet when no export exists yet (what `t2b export` does);
    the number of objects written, 0 when an export was already there."""
    if next(iter(store.list_keys("raw/matches/")), None) is not None:
        return 0
    written = export_store(engine, store)
    if not written:
        raise InputError("the database holds no matches: run `t2b ingest football-data PATH` first")
    return len(written)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)


def table_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"feature table {path} does not exist (run `t2b features build` first)")
    return pd.read_parquet(path)


def read_stored_table(store: ObjectStore) -> pd.DataFrame:
    try:
        return pd.read_parquet(io.BytesIO(store.get_bytes(FEATURE_TABLE_KEY)))
    except ObjectNotFound:
        raise InputError(
            f"no feature table at {store.location(FEATURE_TABLE_KEY)} (run `t2b features build`)"
        ) from None


def parse_seasons(text: str) -> list[str]:
    seasons = [s.strip() for s in text.split(",") if s.strip()]
    for season in seasons:
        if len(season) != 9 or season[4] != "-" or not (season[:4] + season[5:]).isdigit():
            raise InputError(f"season {season!r} is not like 2021-2022")
    if not seasons:
        raise InputError("no season given")
    return seasons
