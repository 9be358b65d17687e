"""launchbay's runners: the agent, the runner protocol and one module per target resource.

Importing this package imports nothing heavy: a runner's SDK loads when its runner is used.
"""
