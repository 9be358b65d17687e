"""`launchbay gpus`: the inventory with who holds each device, from a declared inventory (no GPU
exists here) and from NVML on a machine without a driver."""

import json
import os

from kit import claimed_run, run_launchbay

DECLARED = """\
gpus:
  - {index: 0, name: NVIDIA A100-SXM4-80GB, memory_mib: 81920, uuid: GPU-aaa}
  - {index: 1, name: NVIDIA GeForce RTX 4090, memory_mib: 24564}
"""


def _config(config_dir, text):
    (config_dir / "config.yaml").write_text(text)
    return dict(os.environ)


def test_gpus_lists_declared_devices_and_the_run_holding_each(store, db_path, tmp_path, config_dir):
    claimed_run(store, tmp_path, "k3x9mf2a", gpus=[("GPU-aaa", 0)])
    env = _config(config_dir, DECLARED)
    listed = json.loads(run_launchbay("gpus", "--json", db=db_path, env=env).out)
    assert listed["source"] == "config"
    assert [(g["index"], g["run_id"]) for g in listed["gpus"]] == [(0, "k3x9mf2a"), (1, None)]
    table = run_launchbay("gpus", db=db_path, env=env)
    assert table.code == 0
    assert table.out.splitlines()[1].split()[:2] == ["0", "NVIDIA"]
    assert "k3x9mf2a" in table.out.splitlines()[1]


def test_without_a_driver_gpus_says_so_and_lists_none(db_path, config_dir):
    result = run_launchbay("gpus", db=db_path, env=_config(config_dir, "theme: nord\n"))
    assert result.code == 0
    assert result.out.strip() == "(no GPUs)"
    assert "no NVIDIA driver here" in result.err


def test_keeping_a_gpu_the_machine_lacks_is_exit_2_naming_the_field(db_path, config_dir):
    result = run_launchbay("gpus", db=db_path, env=_config(config_dir, "gpus: [0, 3]\n"))
    assert result.code == 2
    assert result.err.startswith("launchbay: error: config.gpus: GPU 0 does not exist")
    assert len(result.err.strip().splitlines()) == 1
