"""What the raw-file sensor's tests share: launching its requests as the daemon does."""

import dagster as dg
from dagster._core.storage.tags import PARTITION_NAME_TAG, RUN_KEY_TAG, SENSOR_NAME_TAG

from featurepipe.definitions import IN_PROCESS_BY_DEFAULT, build
from featurepipe.defs.sensors import SENSOR_NAME
from featurepipe.settings import Settings

JOB = build(Settings(), IN_PROCESS_BY_DEFAULT).resolve_job_def("featurepipe_daily")


def daemon_tags(request: dg.RunRequest) -> dict[str, str]:
    """The tags the sensor daemon gives the run of `request`."""
    tags = {**request.tags, SENSOR_NAME_TAG: SENSOR_NAME, RUN_KEY_TAG: request.run_key}
    if request.partition_key:
        tags[PARTITION_NAME_TAG] = request.partition_key
    return tags


def queue(instance: dg.DagsterInstance, requests: list[dg.RunRequest]) -> list[dg.DagsterRun]:
    """Create the runs of `requests`, not yet started, as the daemon does."""
    return [
        instance.create_run_for_job(
            JOB, status=dg.DagsterRunStatus.NOT_STARTED, tags=daemon_tags(request)
        )
        for request in requests
    ]
