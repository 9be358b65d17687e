"""launchbay's faces: the command line (`tui.cli`) and the Textual app.

Importing this package imports nothing: headless commands must not pay for Textual.
"""
