"""The private Dagster names of `featurepipe/defs/dagster_internals.py` still do what the
pipeline step relies on. If Dagster moves or changes one, this fails before a run records the
wrong thing (and the module's import fails first if a name is gone)."""

import dagster as dg

from featurepipe.defs.dagster_internals import check_target, output_without_events

DAYS = dg.DailyPartitionsDefinition("2025-11-01")
TABLE = dg.AssetKey("table")


@dg.multi_asset(
    specs=[dg.AssetSpec(TABLE, skippable=True)],
    check_specs=[dg.AssetCheckSpec("ok", asset=TABLE, partitions_def=DAYS)],
    partitions_def=DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def step(context: dg.AssetExecutionContext):
    for day in context.partition_keys:
        yield dg.AssetMaterialization(TABLE, partition=day, metadata={"day": day})
        (record,) = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=TABLE, asset_partitions=[day]), limit=1
        ).records
        yield dg.AssetCheckEvaluation(
            asset_key=TABLE,
            check_name="ok",
            passed=True,
            partition=day,
            target_materialization_data=check_target(record),
        )
    for name in context.op_execution_context.op_def.output_dict:
        yield output_without_events(name)


@dg.asset(partitions_def=DAYS, deps=[TABLE], backfill_policy=dg.BackfillPolicy.single_run())
def downstream(context: dg.AssetExecutionContext) -> None:
    context.log.info(f"built {len(context.partition_keys)} days")


def test_outputs_without_events_run_downstream_and_record_each_day_once():
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [step, downstream],
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": "2025-11-02",
                "dagster/asset_partition_range_end": "2025-11-04",
            },
        )
        assert result.success
        events = result.get_asset_materialization_events()
        recorded = sorted((e.asset_key.path[-1], e.partition) for e in events)
        days = ["2025-11-02", "2025-11-03", "2025-11-04"]
        assert recorded == sorted([("table", d) for d in days] + [("downstream", d) for d in days])
        evaluations = result.get_asset_check_evaluations()
        assert sorted(e.partition for e in evaluations) == days
        assert all(e.target_materialization_data is not None for e in evaluations)
        logged = [e.user_message for e in instance.all_logs(result.run_id)]
        assert not any("did not yield" in m for m in logged)


def test_the_run_tags_featurepipe_names_are_dagsters():
    from dagster._core.storage import tags

    from featurepipe.defs import records

    assert {
        name: name
        for name in (
            records.PARTITION_TAG,
            records.RANGE_START_TAG,
            records.RANGE_END_TAG,
            records.PARENT_RUN_TAG,
            records.ROOT_RUN_TAG,
            records.SENSOR_NAME_TAG,
            records.WILL_RETRY_TAG,
        )
    } == {
        records.PARTITION_TAG: tags.PARTITION_NAME_TAG,
        records.RANGE_START_TAG: tags.ASSET_PARTITION_RANGE_START_TAG,
        records.RANGE_END_TAG: tags.ASSET_PARTITION_RANGE_END_TAG,
        records.PARENT_RUN_TAG: tags.PARENT_RUN_ID_TAG,
        records.ROOT_RUN_TAG: tags.ROOT_RUN_ID_TAG,
        records.SENSOR_NAME_TAG: tags.SENSOR_NAME_TAG,
        records.WILL_RETRY_TAG: tags.WILL_RETRY_TAG,
    }
