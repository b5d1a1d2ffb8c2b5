"""Parquet exports, read back through the minio client from a real S3 server (moto) and from disk."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from shared.config import get_settings
from shared.db.session import get_engine
from shared.export import export_store, matches_table, odds_table, partition_key
from shared.ingest.football_data import import_file
from shared.serving.teams import TEAM_DIRECTORY_KEY, TeamDirectory
from shared.storage import LocalObjectStore, get_store, minio_client

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "football-data"


@pytest.fixture
def loaded_pg(pg_url: str) -> str:
    engine = get_engine(pg_url)
    for path in (DEMO / "E0" / "2020-2021.csv", DEMO / "E0" / "2021-2022.csv", DEMO / "SP1" / "2021-2022.csv"):
        assert import_file(engine, path).ok
    return pg_url


@pytest.mark.s3
def test_export_to_s3_reads_back_equal_to_the_database(configure, loaded_pg: str, s3_settings: dict) -> None:
    configure(DATABASE_URL=loaded_pg, **s3_settings)
    engine = get_engine()
    exported = export_store(engine, get_store())
    assert {e.key for e in exported} >= {
        partition_key("matches", "E0", "2021-2022"),
        partition_key("odds", "SP1", "2021-2022"),
    }
    client = minio_client(get_settings())
    bucket = s3_settings["S3_BUCKET"]
    keys = sorted(obj.object_name for obj in client.list_objects(bucket, prefix="raw/", recursive=True))
    assert keys == sorted([*(e.key for e in exported), TEAM_DIRECTORY_KEY])
    assert TeamDirectory.read(get_store()) == TeamDirectory.load(engine)  # what POST /predict reads

    def read(dataset: str):
        tables = []
        for key in keys:
            if key.startswith(f"raw/{dataset}/"):
                response = client.get_object(bucket, key)
                tables.append(pq.read_table(io.BytesIO(response.read())))
                response.close()
        return tables

    from_s3 = read("matches")
    assert sum(t.num_rows for t in from_s3) == 1140
    db_matches = matches_table(engine).sort_by("match_id").to_pylist()
    s3_matches = sorted((row for t in from_s3 for row in t.to_pylist()), key=lambda r: r["match_id"])
    assert s3_matches == db_matches
    db_odds = sorted(odds_table(engine).to_pylist(), key=lambda r: (r["match_id"], r["bookmaker"], r["kind"]))
    s3_odds = sorted(
        (r for t in read("odds") for r in t.to_pylist()), key=lambda r: (r["match_id"], r["bookmaker"], r["kind"])
    )
    assert s3_odds == db_odds


def test_local_export_replaces_objects_whole(sqlite_url: str, tmp_path: Path) -> None:
    engine = get_engine(sqlite_url)
    import_file(engine, DEMO / "E0" / "2021-2022.csv")
    store = LocalObjectStore(tmp_path / "objects")
    first = export_store(engine, store)
    key = partition_key("matches", "E0", "2021-2022")
    assert Path(store.location(key)).is_file()
    second = export_store(engine, store)
    assert [e.key for e in first] == [e.key for e in second]
    assert not list((tmp_path / "objects").rglob(".tmp-*"))
    table = pq.read_table(store.location(key))
    assert table.num_rows == 380
    assert table.column("kickoff_utc").type.tz == "UTC"


def test_local_store_rejects_keys_outside_its_root(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    with pytest.raises(ValueError, match="escapes"):
        store.put_bytes("../outside.txt", b"x")


def test_export_of_chosen_leagues_writes_only_theirs(sqlite_url: str, tmp_path: Path) -> None:
    engine = get_engine(sqlite_url)
    for league in ("E0", "SP1"):
        import_file(engine, DEMO / league / "2021-2022.csv")
    store = LocalObjectStore(tmp_path / "objects")
    exported = export_store(engine, store, leagues={"SP1"})
    assert {(e.dataset, e.league) for e in exported} == {("matches", "SP1"), ("odds", "SP1")}
    assert not Path(store.location(partition_key("matches", "E0", "2021-2022"))).exists()
