"""Thread pool sizes: environment variables before TensorFlow starts, and TF's own pools after.

The environment variables are read by the libraries when their pools start,
so they must be set before TensorFlow (or numpy's BLAS) is imported;
:func:`thread_env` says which variable carries which count.
"""

from __future__ import annotations

import os
import sys

from emulation.profiles import ProfileNotEnforced, ThreadCounts

#: Environment variable -> ThreadCounts field it carries.
THREAD_ENV_VARS = {
    "OMP_NUM_THREADS": "omp",
    "OPENBLAS_NUM_THREADS": "blas",
    "MKL_NUM_THREADS": "blas",
    "TF_NUM_INTRAOP_THREADS": "tf_intra_op",
    "TF_NUM_INTEROP_THREADS": "tf_inter_op",
}
#: Modules whose pools read the variables at import: set them before these load.
POOL_MODULES = {"numpy": ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"),
                "tensorflow": tuple(THREAD_ENV_VARS)}


def thread_env(counts: ThreadCounts) -> dict[str, str]:
    """The environment variables that size every pool to ``counts``."""
    return {var: str(getattr(counts, field)) for var, field in THREAD_ENV_VARS.items()}


def set_thread_env(counts: ThreadCounts, environ: dict | None = None) -> dict[str, str | None]:
    """Set the variables in ``environ`` (default os.environ); returns their previous values."""
    env = os.environ if environ is None else environ
    previous = {var: env.get(var) for var in THREAD_ENV_VARS}
    env.update(thread_env(counts))
    return previous


def restore_thread_env(previous: dict[str, str | None]) -> None:
    for var, value in previous.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value


def read_back_thread_env(counts: ThreadCounts) -> dict:
    """Per variable: requested, what os.environ holds, and whether a pool that reads it had already started."""
    out = {}
    for var, value in thread_env(counts).items():
        late = [m for m, vars_ in POOL_MODULES.items() if var in vars_ and m in sys.modules]
        entry = {"requested": int(value), "value": os.environ.get(var), "enforced": os.environ.get(var) == value}
        if late:
            entry["enforced"] = False
            entry["reason"] = f"{', '.join(late)} imported before the variable was set: its pool may ignore it"
        out[var] = entry
    return out


def configure_tensorflow_threads(applied) -> dict:
    """Set TensorFlow's intra/inter-op pools to the profile's counts and read them back.

    ``applied`` is an :class:`emulation.apply.AppliedProfile`. Call before
    TensorFlow's first operation (it imports TensorFlow). Updates ``applied``'s
    record; raises ProfileNotEnforced if TF had already started its pools with
    other sizes and the run does not allow unenforced limits. Returns the counts
    to use: ``tensorflow_intra_op``, ``tensorflow_inter_op`` (as read back),
    ``litert`` (to pass to ``LiteRTRunner(num_threads=...)``), and ``enforced``.
    """
    from fixtures.tfenv import tf  # noqa: PLC0415 -- lazily: the benchmark process imports TF after apply_profile

    want = applied.profile.threads
    entry: dict = {"requested": True, "intra_op": want.tf_intra_op, "inter_op": want.tf_inter_op}
    current = (tf.config.threading.get_intra_op_parallelism_threads(),
               tf.config.threading.get_inter_op_parallelism_threads())
    if current != (want.tf_intra_op, want.tf_inter_op):
        try:
            tf.config.threading.set_intra_op_parallelism_threads(want.tf_intra_op)
            tf.config.threading.set_inter_op_parallelism_threads(want.tf_inter_op)
        except RuntimeError as exc:  # TF's context is already initialised with other sizes
            entry["set_error"] = str(exc)
    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    entry.update(intra_op_read_back=intra, inter_op_read_back=inter,
                 enforced=(intra, inter) == (want.tf_intra_op, want.tf_inter_op))
    if not entry["enforced"]:
        entry["reason"] = (f"tf.config.threading reads back intra={intra}, inter={inter} "
                           f"for a request of {want.tf_intra_op}, {want.tf_inter_op}")
    applied.enforced["threads"]["tensorflow"] = entry
    if not entry["enforced"] and not applied.allow_unenforced:
        raise ProfileNotEnforced(applied.profile.name, {"threads.tensorflow": entry["reason"]})
    return {"tensorflow_intra_op": intra, "tensorflow_inter_op": inter, "litert": want.litert,
            "enforced": entry["enforced"]}
