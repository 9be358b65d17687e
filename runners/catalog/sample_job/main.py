"""launchbay's sample job: a tiny 'training' loop that reads its run config.

It shows what every job gets: LAUNCHBAY_RUN_ID, LAUNCHBAY_CONFIG (JSON) and the same config in
the file LAUNCHBAY_CONFIG_FILE. It uses nothing but the standard library.
"""

import json
import math
import os
import time

config = json.loads(os.environ.get("LAUNCHBAY_CONFIG", "{}"))
epochs = int(config.get("epochs", 3))
learning_rate = float(config.get("learning_rate", 0.1))
step_seconds = float(config.get("step_seconds", 0.2))

print(
    f"run {os.environ.get('LAUNCHBAY_RUN_ID')} of {os.environ.get('LAUNCHBAY_JOB')}"
    f" on queue {os.environ.get('LAUNCHBAY_QUEUE')}"
)
print(f"config: {json.dumps(config, sort_keys=True)}")
loss = 2.0
for epoch in range(1, epochs + 1):
    loss *= math.exp(-learning_rate * 3)
    print(f"epoch {epoch}/{epochs}  loss={loss:.4f}")
    time.sleep(step_seconds)
print("done")
