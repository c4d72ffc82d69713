"""The deployment files in deploy/, checked without a cluster, a registry or Docker.

What can be checked here is: every YAML file parses; the instance file is valid Dagster config
down to each class's own config; the Helm values use only keys the Dagster chart (1.13) knows,
with the types it expects, and make the instance the chart renders the same as
deploy/dagster.yaml; the secrets the values name are the ones secrets.example.yaml defines; the
run config files are valid for their executor; the Dockerfile and .dockerignore keep to their
rules. What cannot: `helm template` with the chart itself, `docker build`, a real cluster.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.storage.config import pg_config
from dagster._serdes.config_class import class_from_code_pointer

from featurepipe.settings import STORAGE

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
VALUES = DEPLOY / "helm" / "values.yaml"
SECRETS = DEPLOY / "helm" / "secrets.example.yaml"
INSTANCE_ENV = {
    "DAGSTER_PG_HOST": "db.example.internal",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": "p@ss:w/rd",
    "DAGSTER_COMPUTE_LOG_BUCKET": "featurepipe-dagster-logs",
}
FEATUREPIPE_VARIABLES = {name for name, _ in STORAGE.values()} | {"FEATUREPIPE_START_DATE"}

# The keys of the Dagster chart's values (its pydantic schema, helm/dagster/schema, for 1.13)
# in the sections these values set; "*" means any key (a Kubernetes object or a free map).
K8S = "*"
IMAGE = {"repository", "tag", "pullPolicy"}
CHART_KEYS: dict[str, object] = {
    "": {
        "global",
        "nameOverride",
        "fullnameOverride",
        "rbacEnabled",
        "imagePullSecrets",
        "dagsterWebserver",
        "dagster-user-deployments",
        "postgresql",
        "generatePostgresqlPasswordSecret",
        "generateCeleryConfigSecret",
        "rabbitmq",
        "redis",
        "flower",
        "ingress",
        "computeLogManager",
        "scheduler",
        "runLauncher",
        "pythonLogs",
        "dagsterDaemon",
        "busybox",
        "migrate",
        "telemetry",
        "serviceAccount",
        "retention",
        "concurrency",
        "additionalInstanceConfig",
    },
    "global": {
        "postgresqlSecretName",
        "dagsterHome",
        "serviceAccountName",
        "celeryConfigSecretName",
        "dagsterInstanceConfigMap",
    },
    "postgresql": {
        "image",
        "enabled",
        "postgresqlHost",
        "postgresqlUsername",
        "postgresqlPassword",
        "postgresqlDatabase",
        "postgresqlParams",
        "postgresqlScheme",
        "service",
    },
    "postgresql.service": {"port"},
    "postgresql.postgresqlParams": K8S,
    "rabbitmq": {"enabled", "rabbitmq", "service", "volumePermissions"},
    "redis": {"enabled", "internal", "usePassword", "password", "host", "port", "brokerDbNumber"},
    "flower": {"enabled", "image", "service", "resources", "nodeSelector", "affinity"},
    "telemetry": {"enabled"},
    # Merged as is into the instance the chart renders.
    "additionalInstanceConfig": K8S,
    "dagsterWebserver": {
        "replicaCount",
        "image",
        "nameOverride",
        "service",
        "workspace",
        "env",
        "envConfigMaps",
        "envSecrets",
        "deploymentLabels",
        "labels",
        "nodeSelector",
        "affinity",
        "tolerations",
        "podSecurityContext",
        "securityContext",
        "resources",
        "readinessProbe",
        "livenessProbe",
        "startupProbe",
        "annotations",
        "enableReadOnly",
        "dbStatementTimeout",
        "dbPoolRecycle",
        "logLevel",
        "schedulerName",
        "volumeMounts",
        "volumes",
        "pathPrefix",
    },
    "dagsterWebserver.image": IMAGE,
    "dagsterWebserver.resources": K8S,
    "dagster-user-deployments": {"enabled", "enableSubchart", "imagePullSecrets", "deployments"},
    "dagster-user-deployments.deployments[]": {
        "name",
        "image",
        "dagsterApiGrpcArgs",
        "codeServerArgs",
        "includeConfigInLaunchedRuns",
        "deploymentNamespace",
        "port",
        "replicaCount",
        "env",
        "envConfigMaps",
        "envSecrets",
        "annotations",
        "nodeSelector",
        "affinity",
        "tolerations",
        "podSecurityContext",
        "securityContext",
        "resources",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "labels",
        "volumeMounts",
        "volumes",
        "schedulerName",
        "initContainers",
        "sidecarContainers",
        "deploymentStrategy",
    },
    "dagster-user-deployments.deployments[].image": IMAGE,
    "dagster-user-deployments.deployments[].includeConfigInLaunchedRuns": {"enabled"},
    "dagster-user-deployments.deployments[].podSecurityContext": K8S,
    "dagster-user-deployments.deployments[].securityContext": K8S,
    "dagster-user-deployments.deployments[].resources": K8S,
    "runLauncher": {"type", "config"},
    "runLauncher.config": {"celeryK8sRunLauncher", "k8sRunLauncher", "customRunLauncher"},
    "runLauncher.config.k8sRunLauncher": {
        "image",
        "imagePullPolicy",
        "jobNamespace",
        "loadInclusterConfig",
        "kubeconfigFile",
        "envConfigMaps",
        "envSecrets",
        "envVars",
        "volumeMounts",
        "volumes",
        "labels",
        "failPodOnRunFailure",
        "resources",
        "schedulerName",
        "securityContext",
        "runK8sConfig",
    },
    "runLauncher.config.k8sRunLauncher.runK8sConfig": {
        "containerConfig",
        "podSpecConfig",
        "podTemplateSpecMetadata",
        "jobSpecConfig",
        "jobMetadata",
    },
    "runLauncher.config.k8sRunLauncher.runK8sConfig.jobSpecConfig": K8S,
    "computeLogManager": {"type", "config"},
    "computeLogManager.config": {
        "azureBlobComputeLogManager",
        "gcsComputeLogManager",
        "s3ComputeLogManager",
        "customComputeLogManager",
    },
    "computeLogManager.config.s3ComputeLogManager": {
        "bucket",
        "localDir",
        "prefix",
        "useSsl",
        "verify",
        "verifyCertPath",
        "endpointUrl",
        "skipEmptyFiles",
        "uploadInterval",
        "uploadExtraArgs",
        "showUrlOnly",
        "region",
    },
    "dagsterDaemon": {
        "enabled",
        "image",
        "runCoordinator",
        "heartbeatTolerance",
        "env",
        "envConfigMaps",
        "envSecrets",
        "deploymentLabels",
        "labels",
        "nodeSelector",
        "affinity",
        "tolerations",
        "podSecurityContext",
        "securityContext",
        "resources",
        "checkDbReadyInitContainer",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "annotations",
        "runMonitoring",
        "runRetries",
        "sensors",
        "schedules",
        "backfills",
        "schedulerName",
        "logFormat",
        "volumeMounts",
        "volumes",
        "initContainerResources",
        "extraContainers",
        "extraPrependedInitContainers",
    },
    "dagsterDaemon.image": IMAGE,
    "dagsterDaemon.resources": K8S,
    "dagsterDaemon.runCoordinator": {"enabled", "type", "config"},
    "dagsterDaemon.runCoordinator.config": {"queuedRunCoordinator", "customRunCoordinator"},
    "dagsterDaemon.runCoordinator.config.queuedRunCoordinator": {
        "maxConcurrentRuns",
        "tagConcurrencyLimits",
        "dequeueIntervalSeconds",
        "dequeueNumWorkers",
        "dequeueUseThreads",
        "blockOpConcurrencyLimitedRuns",
    },
    "dagsterDaemon.runCoordinator.config.queuedRunCoordinator.tagConcurrencyLimits[]": {
        "key",
        "value",
        "limit",
    },
    "dagsterDaemon.runCoordinator.config.queuedRunCoordinator.tagConcurrencyLimits[].value": {
        "applyLimitPerUniqueValue"
    },
    # runMonitoring is a free map in the schema; these are the keys the chart's template reads.
    "dagsterDaemon.runMonitoring": {
        "enabled",
        "startTimeoutSeconds",
        "pollIntervalSeconds",
        "maxResumeRunAttempts",
        "freeSlotsAfterRunEndSeconds",
    },
    "dagsterDaemon.runRetries": {"enabled", "maxRetries", "retryOnAssetOrOpFailure"},
}
ENUMS = {
    "runLauncher.type": {"CeleryK8sRunLauncher", "K8sRunLauncher", "CustomRunLauncher"},
    "computeLogManager.type": {
        "NoOpComputeLogManager",
        "AzureBlobComputeLogManager",
        "GCSComputeLogManager",
        "S3ComputeLogManager",
        "CustomComputeLogManager",
    },
    "dagsterDaemon.runCoordinator.type": {"QueuedRunCoordinator", "CustomRunCoordinator"},
}
PULL_POLICIES = {"Always", "IfNotPresent", "Never"}


def load(path: Path):
    return yaml.safe_load(path.read_text())


@pytest.fixture
def values() -> dict:
    return load(VALUES)


@pytest.fixture
def instance_env(monkeypatch):
    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)


def test_every_yaml_file_in_deploy_parses():
    files = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert len(files) >= 5, files
    for path in files:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert documents, f"{path} holds no YAML document"
        assert all(isinstance(d, dict) for d in documents), path


# --- deploy/dagster.yaml ---------------------------------------------------------------------


def instance_sections(config: dict) -> dict[str, dict]:
    return {
        key: config[key]
        for key in ("compute_logs", "run_coordinator", "run_launcher")
        if key in config and "module" in config[key]
    }


def check_instance_config(config: dict) -> None:
    """Each configurable class in an instance config exists and accepts its config."""
    for section, data in instance_sections(config).items():
        cls = class_from_code_pointer(data["module"], data["class"])
        result = process_config(cls.config_type(), data.get("config", {}))
        assert result.success, (section, [e.message for e in result.errors])


def test_instance_yaml_is_valid_dagster_config(instance_env):
    config, custom_class = dagster_instance_config(str(DEPLOY), "dagster.yaml")
    assert custom_class is None
    postgres = config["storage"]["postgres"]
    result = process_config(pg_config(), postgres)
    assert result.success, [e.message for e in result.errors]
    db = result.value["postgres_db"]
    assert db["scheme"] == "postgresql+psycopg2"  # not bare postgresql://, which is psycopg 3
    assert db["port"] == 5432 and db["password"] == INSTANCE_ENV["DAGSTER_PG_PASSWORD"]
    check_instance_config(config)
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_retries"]["enabled"] and config["run_monitoring"]["enabled"]


def test_instance_yaml_builds_a_quoted_driver_qualified_url(instance_env):
    from dagster_postgres.utils import pg_url_from_config
    from sqlalchemy.engine import make_url

    config, _ = dagster_instance_config(str(DEPLOY), "dagster.yaml")
    processed = process_config(pg_config(), config["storage"]["postgres"]).value
    url = make_url(pg_url_from_config(processed))
    assert url.drivername == "postgresql+psycopg2"
    assert url.get_dialect().driver == "psycopg2"  # what SQLAlchemy will load
    assert (url.username, url.password) == ("dagster", INSTANCE_ENV["DAGSTER_PG_PASSWORD"])
    assert (url.host, url.port, url.database) == ("db.example.internal", 5432, "dagster")


def test_instance_yaml_limits_runs_per_partition_and_range():
    limits = load(DEPLOY / "dagster.yaml")["run_coordinator"]["config"]["tag_concurrency_limits"]
    per_value = {
        limit["key"]: limit["limit"]
        for limit in limits
        if limit.get("value") == {"applyLimitPerUniqueValue": True}
    }
    assert per_value == {"dagster/partition": 1, "dagster/asset_partition_range_start": 1}


def test_host_workspace_points_at_the_code_server():
    from dagster._core.workspace.config_schema import process_workspace_config

    config = load(DEPLOY / "workspace.yaml")
    assert process_workspace_config(config).success
    (entry,) = config["load_from"]
    assert entry["grpc_server"]["location_name"] == "featurepipe"
    assert "-p 4000 -m featurepipe.definitions" in (DEPLOY / "workspace.yaml").read_text()


# --- deploy/helm/values.yaml -----------------------------------------------------------------


def walk(node, path: str = ""):
    """(schema path, mapping) for every mapping in the values, lists marked with []."""
    if isinstance(node, dict):
        yield path, node
        for key, child in node.items():
            yield from walk(child, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for child in node:
            yield from walk(child, f"{path}[]")


def test_helm_values_use_only_keys_the_chart_knows(values):
    unchecked = []
    for path, mapping in walk(values):
        allowed = CHART_KEYS.get(path)
        if allowed is None:
            parent = path.rsplit(".", 1)[0] if "." in path else ""
            if any(path.startswith(p) and CHART_KEYS[p] == K8S for p in CHART_KEYS if p):
                continue
            if path.endswith("[]") or CHART_KEYS.get(parent) is not None:
                unchecked.append(path)
            continue
        if allowed == K8S:
            continue
        unknown = set(mapping) - allowed
        assert not unknown, f"{path or 'top level'}: keys the chart does not know: {unknown}"
    # Lists of env vars / secret refs are Kubernetes objects; nothing else may go unchecked.
    kubernetes_lists = ("env[]", "envSecrets[]", "envConfigMaps[]", "drop[]")
    unchecked = [p for p in unchecked if not p.endswith(kubernetes_lists)]
    assert not unchecked, f"sections with no key list in this test: {unchecked}"


def test_helm_values_types_and_enums(values):
    for dotted, allowed in ENUMS.items():
        node = values
        for part in dotted.split("."):
            node = node[part]
        assert node in allowed, (dotted, node)
    for path, mapping in walk(values):
        if set(mapping) == IMAGE:
            assert mapping["pullPolicy"] in PULL_POLICIES, path
            assert isinstance(mapping["tag"], str) and mapping["tag"] != "latest", path
    deployment = values["dagster-user-deployments"]["deployments"][0]
    assert isinstance(deployment["port"], int)
    assert all(isinstance(arg, str) for arg in deployment["codeServerArgs"])
    for limit in values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"][
        "tagConcurrencyLimits"
    ]:
        assert isinstance(limit["key"], str) and isinstance(limit["limit"], int)


def test_helm_values_configure_featurepipe_for_production(values):
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert values["computeLogManager"]["type"] == "S3ComputeLogManager"
    assert values["computeLogManager"]["config"]["s3ComputeLogManager"]["bucket"]
    postgresql = values["postgresql"]
    assert postgresql["postgresqlScheme"] == "postgresql+psycopg2"
    assert postgresql["enabled"] is False and postgresql["postgresqlHost"]
    assert values["generatePostgresqlPasswordSecret"] is False
    users = values["dagster-user-deployments"]
    assert users["enabled"] and users["enableSubchart"]
    (deployment,) = users["deployments"]
    assert deployment["codeServerArgs"] == ["-m", "featurepipe_k8s"]
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    env = {item["name"]: item.get("value") for item in deployment["env"]}
    assert env["FEATUREPIPE_STORAGE"] == "s3"
    assert env["FEATUREPIPE_RAW_BUCKET"] and env["FEATUREPIPE_FEATURE_BUCKET"]
    featurepipe_env = {name for name in env if name.startswith("FEATUREPIPE_")}
    assert featurepipe_env <= FEATUREPIPE_VARIABLES, featurepipe_env - FEATUREPIPE_VARIABLES
    assert not any(name.startswith("AWS_") for name in env), "credentials belong in a Secret"
    assert deployment["podSecurityContext"]["runAsNonRoot"] is True
    webserver_tag = values["dagsterWebserver"]["image"]["tag"]
    assert webserver_tag == values["dagsterDaemon"]["image"]["tag"]
    import dagster

    assert webserver_tag == dagster.__version__, "chart, images and code on one Dagster version"


def test_every_secret_the_values_name_is_in_the_example(values):
    secrets = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(SECRETS.read_text())}
    named = {values["global"]["postgresqlSecretName"]}
    for _, mapping in walk(values):
        for ref in mapping.get("envSecrets", []) or []:
            named.add(ref["name"])
    assert named == set(secrets), (named, set(secrets))
    postgres = secrets[values["global"]["postgresqlSecretName"]]
    assert set(postgres["stringData"]) == {"postgresql-password"}
    aws = secrets["featurepipe-aws"]["stringData"]
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"} <= set(aws)
    for doc in secrets.values():
        assert doc["apiVersion"] == "v1" and doc["kind"] == "Secret"


def chart_instance(values: dict) -> dict:
    """The parts of dagster.yaml the chart's templates render from these values (the templates
    in helm/dagster/templates/helpers/instance/, for the keys set here)."""
    daemon = values["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    s3 = values["computeLogManager"]["config"]["s3ComputeLogManager"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    monitoring, retries = daemon["runMonitoring"], daemon["runRetries"]
    return {
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": queued["maxConcurrentRuns"],
                "tag_concurrency_limits": queued["tagConcurrencyLimits"],
            },
        },
        "compute_logs": {
            "module": "dagster_aws.s3.compute_log_manager",
            "class": "S3ComputeLogManager",
            "config": {
                "bucket": s3["bucket"],
                "prefix": s3["prefix"],
                "upload_interval": s3["uploadInterval"],
            },
        },
        "run_launcher": {
            "module": "dagster_k8s",
            "class": "K8sRunLauncher",
            "config": {
                "load_incluster_config": launcher["loadInclusterConfig"],
                "job_namespace": "featurepipe",
                "image_pull_policy": launcher["imagePullPolicy"],
                "service_account_name": "featurepipe-dagster",
                "dagster_home": "/opt/dagster/dagster_home",
                "instance_config_map": "featurepipe-dagster-instance",
                "postgres_password_secret": values["global"]["postgresqlSecretName"],
                "env_config_maps": ["featurepipe-dagster-pipeline-env"],
                "fail_pod_on_run_failure": launcher["failPodOnRunFailure"],
                "run_k8s_config": {
                    "job_spec_config": {
                        "backoff_limit": launcher["runK8sConfig"]["jobSpecConfig"]["backoffLimit"],
                        "ttl_seconds_after_finished": launcher["runK8sConfig"]["jobSpecConfig"][
                            "ttlSecondsAfterFinished"
                        ],
                    }
                },
            },
        },
        "run_monitoring": {
            "enabled": monitoring["enabled"],
            "start_timeout_seconds": monitoring["startTimeoutSeconds"],
            "poll_interval_seconds": monitoring["pollIntervalSeconds"],
        },
        "run_retries": {
            "enabled": retries["enabled"],
            "max_retries": retries["maxRetries"],
            "retry_on_asset_or_op_failure": retries["retryOnAssetOrOpFailure"],
        },
        **values["additionalInstanceConfig"],
    }


def test_helm_values_render_the_instance_of_dagster_yaml(values, instance_env):
    rendered = chart_instance(values)
    local = load(DEPLOY / "dagster.yaml")
    # The same queue, limits, retries and log uploads on Kubernetes as on one host.
    assert rendered["run_coordinator"] == local["run_coordinator"]
    assert rendered["run_retries"] == local["run_retries"]
    # raw_events' FreshnessPolicy is evaluated by the daemon on both.
    assert rendered["freshness"] == local["freshness"] == {"enabled": True}
    assert rendered["compute_logs"]["config"]["prefix"] == local["compute_logs"]["config"]["prefix"]
    assert (
        rendered["compute_logs"]["config"]["upload_interval"]
        == local["compute_logs"]["config"]["upload_interval"]
    )
    for key in ("enabled", "start_timeout_seconds", "poll_interval_seconds"):
        assert rendered["run_monitoring"][key] == local["run_monitoring"][key]
    # And the rendered instance is valid Dagster config, the K8sRunLauncher's included.
    check_instance_config(rendered)


# --- run config and the Kubernetes definitions ------------------------------------------------


def test_multiprocess_run_config_is_valid_for_the_daily_job():
    import dagster as dg

    from featurepipe.definitions import defs

    job = defs.resolve_job_def("featurepipe_daily")
    run_config = load(DEPLOY / "run-config" / "multiprocess.yaml")
    dg.validate_run_config(job, run_config)
    assert "forkserver" in run_config["execution"]["config"]["multiprocess"]["start_method"]


def test_k8s_definitions_variant_runs_every_job_with_the_k8s_job_executor():
    import dagster as dg

    from featurepipe.definitions import defs as local_defs

    spec = importlib.util.spec_from_file_location("featurepipe_k8s", DEPLOY / "featurepipe_k8s.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    k8s_repo = module.defs.get_repository_def()
    local_repo = local_defs.get_repository_def()
    assert {j.name for j in k8s_repo.get_all_jobs()} == {j.name for j in local_repo.get_all_jobs()}
    assert {j.executor_def.name for j in k8s_repo.get_all_jobs()} == {"k8s"}
    assert {s.name for s in k8s_repo.schedule_defs} == {s.name for s in local_repo.schedule_defs}
    assert {s.name for s in k8s_repo.sensor_defs} == {s.name for s in local_repo.sensor_defs}
    job = module.defs.resolve_job_def("featurepipe_daily")
    dg.validate_run_config(job, load(DEPLOY / "run-config" / "k8s.yaml"))


# --- the image --------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_rules():
    instructions = dockerfile_instructions()
    args = dict(a.split("=", 1) for op, a in instructions if op == "ARG" and "=" in a)
    base = args["PYTHON_IMAGE"]
    # A pinned patch release of a slim image, no digest, never "latest".
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?", base), base
    assert all(a.split()[0] == "${PYTHON_IMAGE}" for op, a in instructions if op == "FROM")
    user = [a for op, a in instructions if op == "USER"]
    assert user and user[-1].split(":")[0] not in ("0", "root"), user
    assert not [op for op, _ in instructions if op == "ENTRYPOINT"], "the chart passes args"
    runs = " ".join(a for op, a in instructions if op == "RUN")
    assert 'pip install ".[postgres,k8s]"' in runs and "pip check" in runs
    cmd = [a for op, a in instructions if op == "CMD"][-1]
    assert '"code-server", "start"' in cmd and '"-m", "featurepipe.definitions"' in cmd
    copied = " ".join(a for op, a in instructions if op == "COPY")
    assert "deploy/featurepipe_k8s.py" in copied
    env = " ".join(a for op, a in instructions if op == "ENV")
    assert "PYTHONPATH=/opt/dagster/app" in env and "DAGSTER_HOME=" in env


def test_dockerignore_keeps_the_context_small_and_secret_free():
    entries = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    for needed in (".git", ".venv", ".featurepipe", "*.env", "deploy/helm/secrets*.yaml"):
        assert needed in entries, needed
    assert "!deploy/helm/secrets.example.yaml" in entries
