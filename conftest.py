"""The suite's pytest plugin, harness/plugin.py: options, the hardware profile, machine_info,
result files. Loaded as a plugin module, not written here: options a plugin registers are known
before pytest reads the command line's paths (``--data-dir DIR`` is an option's value, not a path)."""

pytest_plugins = ["harness.plugin"]
