#!/usr/bin/env bash
# On a machine with NVIDIA GPUs: the agent hands each run its own device.
#
#   bash scripts/gpu_check.sh            (from the repo root, with launchbay installed)
#
# 1. lists the inventory through NVML (`launchbay gpus`);
# 2. launches two local-process runs asking for one GPU each, held at once (--max-jobs 2);
# 3. inside each run, asks CUDA itself (the driver's libcuda, which honours
#    CUDA_VISIBLE_DEVICES, unlike nvidia-smi) how many devices it sees and their UUIDs;
# 4. checks that each run saw exactly one device, the one its allocation row names, and that
#    the two runs' devices differ. Exit 0 when all holds; 1, saying what did not.
# Everything lives in a temporary folder (database, config, job); nothing else is touched.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=${PYTHON:-python3}; fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export LAUNCHBAY_DB="$WORK/lb.db" LAUNCHBAY_CONFIG_DIR="$WORK/config"
mkdir -p "$LAUNCHBAY_CONFIG_DIR" "$WORK/job"
lb() { "$PYTHON" -m tui.cli "$@"; }

echo "== inventory (NVML)"
lb gpus
COUNT=$(lb gpus --json | "$PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)["gpus"]))')
if [ "$COUNT" -lt 2 ]; then
    echo "need at least 2 GPUs for two runs side by side; NVML sees $COUNT" >&2
    exit 1
fi

cat > "$WORK/job/main.py" <<'PY'
"""What CUDA shows this process: the devices of CUDA_VISIBLE_DEVICES, through libcuda."""
import ctypes, os, time

cuda = ctypes.CDLL("libcuda.so.1")
assert cuda.cuInit(0) == 0, "cuInit failed"
count = ctypes.c_int()
assert cuda.cuDeviceGetCount(ctypes.byref(count)) == 0
uuids = []
for ordinal in range(count.value):
    device = ctypes.c_int()
    cuda.cuDeviceGet(ctypes.byref(device), ordinal)
    raw = (ctypes.c_ubyte * 16)()
    cuda.cuDeviceGetUuid(raw, device)
    h = bytes(raw).hex()
    uuids.append(f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
print("CUDA_VISIBLE_DEVICES=" + os.environ.get("CUDA_VISIBLE_DEVICES", "(unset)"), flush=True)
print("cuda_devices=" + ",".join(uuids), flush=True)
time.sleep(5)  # held long enough for the other run to start beside it
PY

echo "== two runs, one GPU each"
lb job create code gpu-check "$WORK/job" -E "$PYTHON main.py" >/dev/null
printf 'resource_args:\n  gpus: 1\n' > "$WORK/queue.yaml"
lb queue create gpu-check -r local-process -c "$WORK/queue.yaml" >/dev/null
lb launch -j gpu-check -q gpu-check >/dev/null
lb launch -j gpu-check -q gpu-check >/dev/null
lb agent -q gpu-check --max-jobs 2 --until-empty

echo "== what each run saw"
"$PYTHON" - <<'PY'
import sys
from store import Store

store = Store.open()
runs = store.runs.list()
seen, problems = [], []
for run in runs:
    log = store.run_log_path(run.id).read_text()
    cuda = next((l.split("=", 1)[1] for l in log.splitlines() if l.startswith("cuda_devices=")), "")
    given = [a.device for a in store.gpus.of_run(run.id)]
    print(f"run {run.id}: {run.state.value}; given {given}; CUDA sees {cuda or 'nothing'}")
    print("  " + "\n  ".join(log.strip().splitlines()))
    if run.state.value != "finished":
        problems.append(f"run {run.id} ended {run.state.value}")
    if cuda.split(",") != given:
        problems.append(f"run {run.id} sees {cuda!r}, was given {given}")
    seen.append(cuda)
if len(runs) != 2 or len(set(seen)) != 2:
    problems.append(f"expected two runs on two different devices, got {seen}")
overlap = store.conn.execute(
    "SELECT COUNT(*) FROM gpu_allocations a JOIN gpu_allocations b ON a.device = b.device"
    " AND a.id < b.id AND b.allocated_at < COALESCE(a.released_at, 1e18)"
).fetchone()[0]
if overlap:
    problems.append(f"{overlap} device(s) held by two runs at once")
print("OK: each run saw exactly its own device" if not problems else "FAILED:\n" + "\n".join(problems))
sys.exit(1 if problems else 0)
PY
