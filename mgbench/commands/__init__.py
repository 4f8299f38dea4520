"""One module per CLI command. Each takes already-parsed values, does its work through the rooms
below (config, execution, records, analysis, present) and returns an exit code or text; only
``mgbench.cli`` parses arguments."""
