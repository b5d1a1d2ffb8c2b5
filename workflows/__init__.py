"""Argo Workflows authored with Hera: one module per pipeline, each a WorkflowTemplate and its CronWorkflow.

`t2b workflows render` writes them to workflows/rendered/; `t2b workflows run NAME` runs the rendered
DAG locally, `t2b workflows submit NAME` sends it to an Argo Server.
"""

from workflows import batch_scoring, drift_report, etl, live_quality, prediction_log, training
from workflows.common import Pipeline, Schedule

MODULES = (etl, training, batch_scoring, drift_report, prediction_log, live_quality)
PIPELINES: dict[str, Pipeline] = {module.PIPELINE.name: module.PIPELINE for module in MODULES}
SCHEDULES: list[Schedule] = [module.SCHEDULE for module in MODULES]
