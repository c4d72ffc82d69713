"""featurepipe's definitions on Kubernetes: the same assets, jobs, schedules, sensors and checks as
featurepipe.definitions, with the k8s_job_executor, so that each step of a run is its own pod.

The image puts this module on the path; the code location loads it with
`dagster code-server start -m featurepipe_k8s` (deploy/helm/values.yaml). Everywhere else
(laptop, tests, one host) featurepipe.definitions runs a run's steps in the run's own process,
and dagster-k8s need not be installed.

Step pods are sized per run by run config (deploy/run-config/k8s.yaml: the launchpad, or a
schedule's run config); without it a step pod gets the code location's env, secrets and
resources.
"""

from dagster_k8s import k8s_job_executor

import featurepipe.definitions as local  # a module, not a second Definitions at module scope
from featurepipe.settings import Settings

defs = local.build(Settings.from_env(), k8s_job_executor)
