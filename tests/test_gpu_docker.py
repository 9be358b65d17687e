"""A docker run that asks for GPUs gets a device request for exactly the devices the agent
chose: read back from the real engine with inspect (the engine here has no GPUs, so the
container then fails to start, saying so)."""

from kit import AgentThread, containers_of, docker_queue, image_job, launch, run_of

from store import RunState


def test_the_container_is_created_with_a_device_request_for_its_devices_alone(
    store, db_path, engine, declare_gpus
):
    declare_gpus(3)
    docker_queue(store, config={"resource_args": {"gpus": 2, "keep_failed_containers": True}})
    image_job(store, "wants-gpus", "nvidia-smi -L")
    item = launch(store, "wants-gpus", "dock", spec={"resource_args": {"gpus": 2}})
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FAILED and run.error_stage == "run"
    assert [a.device for a in store.gpus.of_run(run.id)] == ["GPU-0", "GPU-1"]
    assert store.gpus.held() == {}  # released when it ended
    (container,) = containers_of(engine, run.id)
    try:
        requests = engine.api.inspect_container(container["Id"])["HostConfig"]["DeviceRequests"]
        assert [(r["DeviceIDs"], r["Count"]) for r in requests] == [(["GPU-0", "GPU-1"], 0)]
    finally:
        engine.api.remove_container(container["Id"], force=True)


def test_a_docker_run_that_asks_for_no_gpus_gets_no_device_request(store, db_path, engine):
    docker_queue(store, config={"resource_args": {"keep_failed_containers": True}})
    image_job(store, "plain", "exit 3")
    item = launch(store, "plain", "dock")
    with AgentThread(db_path):
        run = run_of(store, item)
    assert run.state is RunState.FAILED
    (container,) = containers_of(engine, run.id)
    try:
        host = engine.api.inspect_container(container["Id"])["HostConfig"]
        assert not host.get("DeviceRequests")
    finally:
        engine.api.remove_container(container["Id"], force=True)
