"""A sensor on the raw bucket: a new or replaced raw file runs its day; many days run as ranges.

Each tick lists the raw files from a few days before the newest day it has judged (S3's
StartAfter), so a tick costs the same in a bucket of ten files or of ten years. At most hourly
it lists everything once more, to find a file replaced or landed long after its day. What
raw_events recorded for a day decides whether its file is done; a day whose run failed is
requested again, a bounded number of times.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import dagster as dg

from featurepipe.defs.jobs import featurepipe_job
from featurepipe.defs.names import RAW
from featurepipe.defs.records import (
    PARTITION_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    RECORDS_PER_PAGE,
    SENSOR_NAME_TAG,
    WILL_RETRY_TAG,
    latest_materializations,
)
from featurepipe.defs.resources import StorageResource
from featurepipe.storage.keys import raw_key, raw_key_date
from featurepipe.storage.objects import ObjectInfo

SENSOR_NAME = "raw_file_sensor"
# Only raw files are listed: whatever else the bucket holds costs no LIST call.
RAW_PREFIX = "user_events_"
# The days up to the newest one judged whose files each tick compares with the cursor: a file
# corrected within these days is found on the next tick, an older one by the sweep.
RECENT_DAYS = 7
SWEEP_EVERY = dt.timedelta(hours=1)
# A sweep looks at files changed since the last sweep began, less this: S3 dates a multipart
# upload by its start, and the bucket's clock is not the daemon's.
SWEEP_MARGIN = dt.timedelta(hours=1)
# A run counts as covering a version of a file when it was created this long after the file's
# LastModified: S3 gives that to the second, and the clocks differ. Too early, and a day is
# only run once more.
COVERING_AFTER = dt.timedelta(seconds=2)
# Runs the sensor gives one file (one day and ETag), and the wait before each new one.
MAX_ATTEMPTS = 3
RETRY_DELAY = dt.timedelta(minutes=5)  # doubled for each failed run
# Keys named in one log line; the rest are counted.
KEYS_LOGGED = 10

KEY_TAG, ETAG_TAG = "featurepipe/raw_key", "featurepipe/raw_etag"
KEYS_TAG, ATTEMPT_TAG = "featurepipe/raw_keys", "featurepipe/attempt"


@dataclass
class Cursor:
    """What a tick leaves for the next: a size bounded by RECENT_DAYS, not by the bucket."""

    newest: dt.date | None = None  # the newest day whose file was judged
    recent: dict[str, str] = field(default_factory=dict)  # key -> ETag, newest RECENT_DAYS days
    swept: dt.datetime | None = None  # when the last full listing began
    failures: dt.datetime | None = None  # failed runs updated up to this time are judged

    @classmethod
    def load(cls, text: str | None) -> "Cursor":
        data = json.loads(text) if text else {}
        if data and "v" not in data:
            # The earlier cursor, every key to its ETag: the last tick's view of the bucket.
            return cls(recent=data)
        return cls(
            newest=_date(data.get("newest")),
            recent=data.get("recent", {}),
            swept=_time(data.get("swept")),
            failures=_time(data.get("failures")),
        )

    def dump(self) -> str:
        return json.dumps(
            {
                "v": 2,
                "newest": self.newest.isoformat() if self.newest else None,
                "recent": dict(sorted(self.recent.items())),
                "swept": self.swept.isoformat() if self.swept else None,
                "failures": self.failures.isoformat() if self.failures else None,
            },
            separators=(",", ":"),
        )

    def window_start(self) -> dt.date | None:
        """The first day each tick lists; None: every day."""
        return self.newest - dt.timedelta(days=RECENT_DAYS - 1) if self.newest else None


@dataclass(frozen=True)
class File:
    """A raw file to judge, its day, and which run of this version of it a request would be."""

    info: ObjectInfo
    day: dt.date
    attempt: int = 1


def raw_file_sensor(
    partitions: dg.DailyPartitionsDefinition, days_per_run: int | None = None
) -> dg.SensorDefinition:
    """The sensor for the days of `partitions`; a range it requests holds at most
    `days_per_run` days (FEATUREPIPE_BACKFILL_DAYS_PER_RUN) when that is set."""

    @dg.sensor(
        name=SENSOR_NAME,
        job=featurepipe_job,
        minimum_interval_seconds=60,
        description="Lists the raw bucket from a few days before the newest day seen (everything "
        "once an hour); new or replaced files (new ETag) request runs of exactly their days, "
        "contiguous days as one range run, unless raw_events already recorded that ETag for the "
        "day. A day whose run failed is requested again, at most "
        f"{MAX_ATTEMPTS} runs per file.",
    )
    def raw_file_sensor(context: dg.SensorEvaluationContext, storage: StorageResource):
        tick = Tick(context, storage, partitions)
        requests = tick.run(days_per_run)
        return dg.SensorResult(run_requests=requests, cursor=tick.cursor.dump())

    return raw_file_sensor


class Tick:
    """One evaluation: list, judge, request; `cursor` is what it leaves for the next."""

    def __init__(self, context, storage: StorageResource, partitions):
        self.context, self.instance = context, context.instance
        self.store, self.bucket = storage.store, storage.raw_bucket
        self.partitions = partitions
        self.first_day = partitions.start.date()
        last = partitions.get_last_partition_key()
        self.last_day = dt.date.fromisoformat(last) if last else None
        self.cursor = Cursor.load(context.cursor)
        self.now = dt.datetime.now(dt.UTC)

    def run(self, days_per_run: int | None) -> list[dg.RunRequest]:
        new, late = self._list()
        retries, gave_up, self.cursor.failures = self._failed()
        judged = [*new, *late, *(f for f, _ in retries)]
        recorded = recorded_etags(self.instance, sorted({f.day.isoformat() for f in judged}))

        def is_done(file: File) -> bool:
            return recorded.get(file.day.isoformat()) == file.info.etag

        done = [f.info.key for f in judged if is_done(f)]
        late = [f for f in late if not is_done(f)]
        retries = [(f, ended) for f, ended in retries if not is_done(f)]
        # A late file or a failed day that a run has covered since is not requested again.
        runs = RunsSince(
            self.instance,
            self.partitions,
            [f.info.last_modified + COVERING_AFTER for f in late] + [e for _, e in retries],
        )
        covered = {
            f.info.key for f in late if runs.covers(f.day, f.info.last_modified + COVERING_AFTER)
        }
        wanted: dict[dt.date, File] = {}
        for file in [
            *(f for f in new if not is_done(f)),
            *(f for f in late if f.info.key not in covered),
            *(f for f, ended in retries if not runs.covers(f.day, ended)),
        ]:
            wanted.setdefault(file.day, file)

        self._log("skip", done, "raw_events already materialized this ETag")
        self._log("skip", sorted(covered), "a run since the file changed covers its day")
        self._log(
            "give_up",
            [f.info.key for f in gave_up],
            f"{MAX_ATTEMPTS} runs of this file failed; replace it or run the day by hand",
        )
        requests = []
        for group in ranges(list(wanted.values()), days_per_run):
            request = run_request(group)
            requests.append(request)
            first, last = group[0], group[-1]
            where = (
                f"key={first.info.key} partition={first.day}"
                if len(group) == 1
                else f"keys={first.info.key}..{last.info.key} partitions={first.day}...{last.day}"
                f" days={len(group)}"
            )
            self.context.log.info(
                f"sensor={SENSOR_NAME} action=request bucket={self.bucket} {where}"
                f" attempt={first.attempt}"
            )
        return requests

    def _list(self) -> tuple[list[File], list[File]]:
        """The files to judge: new or changed in the recent days (`new`), and on a sweep the
        older ones changed since the last sweep (`late`)."""
        cursor = self.cursor
        sweep = cursor.swept is None or self.now - cursor.swept >= SWEEP_EVERY
        window = cursor.window_start()
        start_after = "" if sweep or window is None else raw_key(_before(window))
        new, late, ignored, early, recent = [], [], [], [], []
        for info in self.store.list(self.bucket, prefix=RAW_PREFIX, start_after=start_after):
            day = raw_key_date(info.key)
            if day is None or day < self.first_day:
                ignored.append(info.key)
            elif self.last_day is None or day > self.last_day:
                early.append(info.key)  # its day has not ended: look again on a later tick
            elif window is None or day >= window:
                recent.append(File(info, day))
                if cursor.recent.get(info.key) != info.etag:
                    new.append(recent[-1])
            elif info.last_modified >= cursor.swept - SWEEP_MARGIN:
                late.append(File(info, day))
        if recent:
            cursor.newest = max(cursor.newest or recent[-1].day, recent[-1].day)
        first_kept = cursor.window_start()
        cursor.recent = {f.info.key: f.info.etag for f in recent if f.day >= first_kept}
        if sweep:
            cursor.swept = self.now
            # Only a sweep lists keys before the recent days; so it alone reports them.
            self._log("ignore", ignored, "not user_events_YYYYMMDD.csv or before the first day")
        self._log("wait", early, "the day has not ended yet")
        return new, late

    def _failed(self) -> tuple[list[tuple[File, dt.datetime]], list[File], dt.datetime]:
        """Days of this sensor's failed runs that recorded no raw_events, whose file is unchanged
        since: (the file, when its run ended) to request again, the files given up on, and how
        far failed runs have now been judged."""
        since = self.cursor.failures
        if since is None:  # the first tick: runs before it are not this sensor's to retry
            return [], [], self.now
        records = self.instance.get_run_records(
            dg.RunsFilter(
                tags={SENSOR_NAME_TAG: SENSOR_NAME},
                statuses=[dg.DagsterRunStatus.FAILURE],
                updated_after=since,
            ),
            order_by="update_timestamp",
            ascending=True,
            limit=RECORDS_PER_PAGE,
        )
        retries, gave_up, held = [], [], []
        for record in records:
            run = record.dagster_run
            attempt = int(run.tags.get(ATTEMPT_TAG, "1"))
            will_retry = run.tags.get(WILL_RETRY_TAG)
            if will_retry == "true":
                continue  # Dagster runs it again, with these tags: that run is judged instead
            ended = dt.datetime.fromtimestamp(record.end_time or record.update_timestamp, dt.UTC)
            undecided = will_retry is None and self.instance.run_retries_enabled
            if undecided or self.now < ended + RETRY_DELAY * 2 ** (attempt - 1):
                held.append(record.update_timestamp)
                continue
            for file in self._failed_files(record, attempt):
                if file.attempt > MAX_ATTEMPTS:
                    gave_up.append(file)
                else:
                    retries.append((file, ended))
        seen = [since, *(r.update_timestamp for r in records)]
        judged = min(held) - dt.timedelta(microseconds=1) if held else max(seen)
        return retries, gave_up, max(since, judged)

    def _failed_files(self, record, attempt: int) -> list[File]:
        run = record.dagster_run
        days = run_days(run, self.partitions)
        if not days:
            return []
        done = recorded_in_run(self.instance, run.run_id)
        failed = sorted(dt.date.fromisoformat(d) for d in days if d not in done)
        if not failed:
            return []
        first, last = failed[0], failed[-1]
        listed = self.store.list(
            self.bucket, prefix=RAW_PREFIX, start_after=raw_key(_before(first))
        )
        files = {}
        for info in listed:
            if info.key > raw_key(last.isoformat()):
                break
            files[raw_key_date(info.key)] = info
        # A file changed since the run began is a new version: the listing requests it.
        return [
            File(files[day], day, attempt + 1)
            for day in failed
            if day in files and files[day].last_modified < record.create_timestamp
        ]

    def _log(self, action: str, keys: list[str], reason: str) -> None:
        if keys:
            self.context.log.info(
                f"sensor={SENSOR_NAME} action={action} bucket={self.bucket}"
                f" keys={named(keys)} reason={reason}"
            )


class RunsSince:
    """When runs of raw_events created since the earliest of `times` were created, by day;
    read from the run storage only when asked."""

    def __init__(self, instance, partitions, times: list[dt.datetime]):
        self.instance, self.partitions = instance, partitions
        self.since = min(times) if times else None
        self.created: dict[str, list[dt.datetime]] | None = None

    def covers(self, day: dt.date, since: dt.datetime) -> bool:
        """Whether a run for `day` was created at `since` or later (`since` among `times`)."""
        if self.created is None:
            self.created = {}
            for record in self.instance.get_run_records(dg.RunsFilter(created_after=self.since)):
                run = record.dagster_run
                if run.job_name == featurepipe_job.name or RAW in (run.asset_selection or ()):
                    for key in run_days(run, self.partitions):
                        self.created.setdefault(key, []).append(record.create_timestamp)
        return any(created >= since for created in self.created.get(day.isoformat(), ()))


def run_days(run: dg.DagsterRun, partitions: dg.DailyPartitionsDefinition) -> list[str]:
    """The days a run was launched for: its partition, or its range."""
    if PARTITION_TAG in run.tags:
        return [run.tags[PARTITION_TAG]]
    first = run.tags.get(RANGE_START_TAG)
    last = run.tags.get(RANGE_END_TAG)
    if not (first and last):
        return []
    return list(partitions.get_partition_keys_in_range(dg.PartitionKeyRange(first, last)))


def recorded_in_run(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    """The days a run recorded raw_events for."""
    days, cursor = set(), None
    while True:
        page = instance.get_records_for_run(
            run_id,
            cursor=cursor,
            of_type=dg.DagsterEventType.ASSET_MATERIALIZATION,
            limit=RECORDS_PER_PAGE,
        )
        for record in page.records:
            materialization = record.event_log_entry.asset_materialization
            if materialization and materialization.asset_key == RAW:
                days.add(materialization.partition)
        if not page.has_more:
            return days
        cursor = page.cursor


def ranges(files: list[File], days_per_run: int | None) -> Iterator[list[File]]:
    """Runs of consecutive days with the same attempt, at most `days_per_run` days each."""
    group: list[File] = []
    for file in sorted(files, key=lambda f: (f.attempt, f.day)):
        if group and (
            file.attempt != group[-1].attempt
            or file.day != group[-1].day + dt.timedelta(days=1)
            or len(group) == days_per_run
        ):
            yield group
            group = []
        group.append(file)
    if group:
        yield group


def run_request(group: list[File]) -> dg.RunRequest:
    """One day's run, or one run of a range of days. The run key names the files and their
    ETags (a range's as a digest), and the attempt after the first: the same versions of the
    same files are never launched twice for the same attempt."""
    first, last, attempt = group[0], group[-1], group[0].attempt
    again = f"#{attempt}" if attempt > 1 else ""
    tags = {ATTEMPT_TAG: str(attempt)}
    if len(group) == 1:
        tags |= {KEY_TAG: first.info.key, ETAG_TAG: first.info.etag}
        return dg.RunRequest(
            run_key=f"{first.info.key}:{first.info.etag}{again}",
            partition_key=first.day.isoformat(),
            tags=tags,
        )
    versions = "\n".join(f"{f.info.key}:{f.info.etag}" for f in group)
    digest = hashlib.sha256(versions.encode()).hexdigest()[:20]
    keys = f"{first.info.key}..{last.info.key}"
    tags |= {
        KEYS_TAG: keys,
        RANGE_START_TAG: first.day.isoformat(),
        RANGE_END_TAG: last.day.isoformat(),
    }
    return dg.RunRequest(run_key=f"{keys}:{digest}{again}", tags=tags)


def recorded_etags(instance: dg.DagsterInstance, days: list[str]) -> dict[str, str | None]:
    """The ETag that the latest materialization of raw_events recorded, for each day that has
    one."""
    recorded: dict[str, str | None] = {}
    for day, record in latest_materializations(instance, RAW, days).items():
        etag = record.asset_materialization.metadata.get("etag")
        recorded[day] = etag.value if etag else None
    return recorded


def named(keys: list[str]) -> str:
    shown = ",".join(keys[:KEYS_LOGGED])
    return shown if len(keys) <= KEYS_LOGGED else f"{shown},…+{len(keys) - KEYS_LOGGED}"


def _before(day: dt.date) -> str:
    """The day before `day`, as a partition key: raw keys sort by day, so listing after its
    key lists `day` onwards."""
    return (day - dt.timedelta(days=1)).isoformat()


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None
