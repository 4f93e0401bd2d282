"""Pure functions from domain objects to Google Workspace card dicts: no I/O, no environment."""
