"""The suite's pytest plugin is harness/plugin.py (options, the hardware profile, machine_info,
result files); loading it here makes it every session's, whichever folder it collects."""

pytest_plugins = ["harness.plugin"]
