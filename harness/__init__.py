"""The pytest harness of continuum-bench: the plugin, its options and hooks, the results contract it
writes, timing, injection, the counting and paired-gate runners. No TensorFlow at import."""
