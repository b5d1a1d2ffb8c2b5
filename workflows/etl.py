"""etl: scrape (optional) and import in parallel -> export parquet to object storage.

The daily WhoScored scrape is the PingSource's job (knative/base/eventing/pingsource.yaml), so the
nightly CronWorkflow leaves `scrape` off; a run submitted by hand can switch it on for any league-season.
"""

from __future__ import annotations

from shared.competitions import KNOWN_COMPETITIONS
from workflows.common import SMALL, Node, Pipeline, Schedule, Step, param, wf

REGIONS = sorted({info.country for info in KNOWN_COMPETITIONS.values()})
TOURNAMENTS = sorted({info.name for info in KNOWN_COMPETITIONS.values()})

SCRAPE_STEP = Step(
    name="scrape",
    description="One WhoScored league-season into the store through the remote browser (SELENOID_URL).",
    command=[
        "scrape",
        "whoscored",
        "--region",
        wf("region"),
        "--tournament",
        wf("tournament"),
        "--season",
        wf("season"),
        "--months",
        wf("months"),
    ],
    resources=SMALL,
    drop_empty=True,
    deadline_s=3 * 3600,
)
IMPORT_STEP = Step(
    name="import",
    description="football-data.co.uk CSVs into the store (upserts: re-running changes nothing).",
    command=["ingest", "football-data", wf("source")],
)
EXPORT_STEP = Step(
    name="export",
    description="Parquet snapshots of matches and odds to raw/<dataset>/league=/season=/ in object storage.",
    command=["export", "--leagues", wf("leagues")],
    drop_empty=True,
)

PIPELINE = Pipeline(
    name="etl",
    title="ETL",
    description="Scrape (when asked) and import into PostgreSQL, then export parquet to object storage.",
    parameters=[
        param("source", "data/demo/football-data", "football-data CSV file or folder inside the image"),
        param("leagues", "", "leagues to export, comma-separated football-data codes (E0,SP1); empty = all"),
        param("scrape", "false", "also scrape WhoScored (needs a WebDriver: SELENOID_URL)", ["false", "true"]),
        param("region", "England", "WhoScored region of the league to scrape", REGIONS),
        param("tournament", "Premier League", "WhoScored tournament of the league to scrape", TOURNAMENTS),
        param("season", "2021/2022", "season to scrape, WhoScored spelling (2021/2022) or id"),
        param("months", "", "scrape only the first N months of the season; empty = all"),
    ],
    nodes=[
        Node(SCRAPE_STEP, when=f"{wf('scrape')} == true"),
        Node(IMPORT_STEP),
        Node(EXPORT_STEP, depends_on=["scrape", "import"]),
    ],
    deadline_s=6 * 3600,
)

SCHEDULE = Schedule(
    pipeline="etl",
    name="etl-nightly",
    cron="0 2 * * *",
    description="Imports and exports every night at 02:00 (Europe/London); scraping stays with the PingSource.",
    arguments={"scrape": "false"},
)
