"""launchbay's runners: the runner protocol and the resource registry at the top; then one
package per concern: agent/, launch/, catalog/, images/, runlog/, system/, and
targets/<name>/, one package per target resource.

Importing this package imports nothing heavy: a runner's SDK loads when its runner is used.
"""
