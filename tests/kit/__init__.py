"""What the tests share, in one package: `from kit import wait_for, launch, AgentThread`.

waiting: waiting on evidence (wait_for, run_of, log_of, forget_handle); agents: agents in a
thread or a process; cli: `launchbay` as a subprocess; jobs: jobs, queues and launches; git;
engine: the Docker engine, its images and the local registry; cluster: the fake Kubernetes API;
targets: a target that only a test has; refusals: bad input refused, the store unchanged;
aws (imported as kit.aws): moto's AWS, its output bucket, a sagemaker queue; gcp (imported
as kit.gcp): fake Vertex AI, Cloud Storage's emulator, a vertex queue;
ray (imported as kit.ray): the Ray head, the network namespace it runs in, a forwarder to lose it;
slurm (imported as kit.slurm): the Slurm cluster, its test sshd and a key for it, its queues.
The fixtures (engine, cluster, kubeconfig, ray_head, slurm_cluster, ssh_login, …) are registered
in tests/conftest.py."""

from kit.agents import (
    AgentOutput,
    AgentThread,
    agent_killed_after,
    agent_process,
    run_agent,
    run_agent_until_empty,
)
from kit.cli import (
    REPO,
    CliProcess,
    Result,
    bench_results,
    clean_env,
    modules_loaded_by_cli,
    run_launchbay,
)
from kit.cluster import CLUSTER, NAMESPACE, evict_pods_of, kube_queue, release_pod
from kit.engine import (
    BUILDER,
    BUSYBOX,
    PYTHON,
    REGISTRY,
    containers_of,
    containers_removed_after,
    docker_queue,
    engine,
    fresh_registry,
    image_job,
    pushed_image,
    registry_tags,
)
from kit.git import git
from kit.jobs import (
    PYTHON_ENTRYPOINT,
    claimed_run,
    launch,
    make_code_job,
    make_queue,
    write_code_job,
)
from kit.refusals import ERROR_PREFIX, assert_bad_input, refusal_checker, snapshot
from kit.targets import add_fake_target
from kit.waiting import (
    forget_handle,
    lines_after_a_kill_between_copy_and_cursor,
    log_of,
    run_for_item,
    run_of,
    run_state,
    wait_for,
)

__all__ = [
    "AgentOutput", "AgentThread", "agent_killed_after", "agent_process", "run_agent",
    "run_agent_until_empty",
    "REPO", "CliProcess", "Result", "bench_results", "clean_env", "modules_loaded_by_cli",
    "run_launchbay",
    "CLUSTER", "NAMESPACE", "evict_pods_of", "kube_queue", "release_pod",
    "BUILDER", "BUSYBOX", "PYTHON", "REGISTRY", "containers_of", "containers_removed_after",
    "docker_queue", "engine", "fresh_registry", "image_job", "pushed_image", "registry_tags",
    "git",
    "add_fake_target",
    "ERROR_PREFIX", "assert_bad_input", "refusal_checker", "snapshot",
    "PYTHON_ENTRYPOINT", "claimed_run", "launch", "make_code_job", "make_queue", "write_code_job",
    "forget_handle", "lines_after_a_kill_between_copy_and_cursor", "log_of", "run_for_item",
    "run_of", "run_state", "wait_for",
]  # fmt: skip
