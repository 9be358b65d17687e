"""Sweeps: W&B's sweep configs run on launchbay's queues, searched by grid, random or Optuna,
driven by the agent (controller.py)."""
