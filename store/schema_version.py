"""The schema version this launchbay writes: the number of migrations in migrations.py.

Kept apart so that opening an up-to-date file needs no sqlite-utils import.
"""

SCHEMA_VERSION = 7
