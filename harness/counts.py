"""The counted run: instruction counts of the timed calls, under valgrind (``tox -e counts``).

``python -m harness.counts`` does it in two processes:

1. this one (no valgrind) prepares what the counted cases call: the ``.tflite``
   flatbuffer of every model of the grid, the sample image, the dataset archive,
   an RSA key pair and the archive's ciphertext, into the run's folder (the private
   key owner-only, removed when the run ends);
2. one ``valgrind --tool=callgrind --collect-atstart=no`` child runs
   ``pytest benchmarks/test_counts.py`` on them: each case counts its callable's
   calls as one region and dumps it (harness/callgrind.py); valgrind's start-up
   (~20 s) is paid once for all cases. It runs in its own session and dies with this
   process (harness/children.py): a killed coordinator leaves no child writing results.

The models are *not* trained or fine-tuned: the base is the preset's MobileNet v1
seeded with random weights, pruned (magnitude and filter, every pruning factor)
and converted, untimed. A dense LiteRT model runs the same instructions whatever
its weight values (XNNPACK's float kernels have no value-dependent branches, and a
magnitude-pruned model is run dense: see docs/counts.md for the check), and
filter pruning keeps a number of filters that depends on the pruning factor only,
so the counts are the grid's without its ~10 minutes of training.

Counts do not depend on a CPU quota, a memory limit or a background load: one
counted run serves every profile (docs/counts.md).

Exit codes: 0 all counted; 1 a case failed; 3 valgrind or a C compiler is
missing (the message says how to install it); pytest's own codes otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import pytest

from harness import callgrind
from harness.children import die_with_parent, termination_as_interrupt

#: Environment variable naming the prepared inputs of a counted session (set by :func:`main`).
INPUTS_ENV_VARIABLE = "CONTINUUM_BENCH_COUNTS_INPUTS"
MANIFEST = "manifest.json"
#: The counted run's private key (decryption's input) in the run's folder.
KEY_FILE = "key.pem"
EXIT_UNAVAILABLE = 3
DEFAULT_JSON = Path("results/counts.json")
DEFAULT_INJECTED_JSON = Path("results/counts-injected.json")
DEFAULT_HISTORY = Path("results/history/counts")
TEST_FILE = Path(__file__).resolve().parents[1] / "benchmarks" / "test_counts.py"
#: PYTHONHASHSEED of the counted child: with Python's default random seed, string hashes (dict
#: probing, set order) differ between runs, and with them the Python-level part of a count.
HASH_SEED = "0"
#: Seconds the child gets to exit after SIGTERM before it is killed.
TERMINATE_GRACE_S = 10.0


#: Quantizations of every model the counted run prepares (``none``: float32; ``int8``: full-integer).
COUNTED_QUANTIZATIONS = ("none", "int8")


def model_file_name(pf: float, method: str | None, quantization: str = "none") -> str:
    from harness.record import case_id

    return f"model-{case_id(pf, method, *([] if quantization == 'none' else [quantization]))}.tflite"


@dataclass(frozen=True)
class CountInputs:
    """The prepared inputs of a counted session (see the module docstring); no TensorFlow."""

    folder: Path
    manifest: dict

    @classmethod
    def load(cls, folder: Path | str) -> "CountInputs":
        folder = Path(folder)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"{folder / MANIFEST}: prepared inputs of a counted run unreadable: {err}") from None
        return cls(folder, manifest)

    def tflite(self, pf: float, method: str | None, quantization: str = "none") -> bytes:
        path = self.folder / model_file_name(pf, method, quantization)
        if not path.is_file():
            raise ValueError(f"{path}: no prepared model for pf={pf} method={method} quantization={quantization}")
        return path.read_bytes()

    def gzip_bytes(self, pf: float, method: str | None, quantization: str = "none") -> int:
        """The prepared model's gzip size [byte] (measured outside valgrind, in :func:`prepare_inputs`)."""
        return self.manifest["gzip_bytes"][model_file_name(pf, method, quantization)]

    @property
    def sample(self):
        import numpy as np

        return np.load(self.folder / "sample.npy")

    @property
    def archive(self) -> Path:
        return self.folder / "dataset.tar"

    @property
    def ciphertext(self) -> Path:
        return self.folder / "dataset.tar.enc"

    def private_key(self):
        from pipeline.encrypt import load_private_key_pem

        return load_private_key_pem((self.folder / KEY_FILE).read_bytes())


#: Sources the counted models depend on: a change to one of them rebuilds the model cache.
MODEL_SOURCES = ("fixtures/model.py", "pipeline/prune.py", "pipeline/infer.py", "pipeline/quantize.py")
#: Bump whenever :func:`_build_models` changes: it is part of the cache key.
MODELS_VERSION = 2
#: Packages whose version changes the converted flatbuffers.
MODEL_PACKAGES = ("tensorflow", "tf-keras", "tensorflow-model-optimization")


def _models_key(preset) -> str:
    import hashlib
    import importlib.metadata

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(json.dumps([preset.to_dict(), MODELS_VERSION], sort_keys=True, default=str).encode())
    for source in MODEL_SOURCES:
        digest.update((root / source).read_bytes())
    for package in MODEL_PACKAGES:
        digest.update(f"{package}=={importlib.metadata.version(package)}".encode())
    return f"{preset.name}-{digest.hexdigest()[:16]}"


def _build_models(preset, folder: Path, progress) -> list[dict]:
    """Convert the grid's models (random weights, see the module docstring) into ``folder``, float32
    and full-integer int8 (calibrated on the int8 cases' representative set: the preset's seeded
    choice of training images, so the activations' ranges are those of real inputs)."""
    from harness.record import MODELS
    from fixtures.dataset import dataset_for
    from fixtures.model import build_mobilenet
    from fixtures.tfenv import keras
    from pipeline.infer import to_tflite
    from pipeline.prune import filter_prune, magnitude_prune
    from pipeline.quantize import REPRESENTATIVE_SAMPLES, quantize_tflite, representative_images

    keras.utils.set_random_seed(preset.seed)
    base = build_mobilenet(preset)
    representative = representative_images(dataset_for(preset).x_train, REPRESENTATIVE_SAMPLES, preset.seed)
    prune = {"magnitude": magnitude_prune, "filter": filter_prune}
    models = []
    for pf, method in MODELS:
        model = base if pf == 0 else prune[method](base, pf)
        for quantization in COUNTED_QUANTIZATIONS:
            name = model_file_name(pf, method, quantization)
            data = to_tflite(model) if quantization == "none" else quantize_tflite(
                model, quantization, representative=representative).tflite
            (folder / name).write_bytes(data)
            models.append({"pruning_factor": pf, "pruning_method": method, "quantization": quantization, "file": name,
                           "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
            progress(f"[counts] converted {name} ({len(data)} bytes)")
    return models


def cached_models(preset, progress=print) -> Path:
    """The folder of the grid's counted ``.tflite`` models, built once per preset and code version.

    Cached in ``<cache>/counts/<preset>-<key>/`` (key: the preset, :data:`MODEL_SOURCES`,
    :data:`MODEL_PACKAGES`' versions); built in a temporary folder and renamed into place
    under a lock, and each file's sha256 is checked before use, so a half-built cache is
    rebuilt, never read.
    """
    from fixtures.cache import cache_root, file_lock

    folder = cache_root() / "counts" / _models_key(preset)
    if _models_ok(folder):
        return folder
    with file_lock(folder.with_name(folder.name + ".lock")):
        if _models_ok(folder):
            return folder
        if folder.exists():
            shutil.rmtree(folder)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            models = _build_models(preset, tmp, progress)
            (tmp / MANIFEST).write_text(json.dumps({"preset": preset.name, "models": models}, indent=2) + "\n")
            os.replace(tmp, folder)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    return folder


def _models_ok(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return all((folder / m["file"]).is_file()
               and hashlib.sha256((folder / m["file"]).read_bytes()).hexdigest() == m["sha256"]
               for m in manifest.get("models", []))


def write_key_pair(folder: Path):
    """A fresh RSA key pair, its private key written to ``folder/key.pem`` owner-only (0600), never through
    a file or link already there (pipeline.encrypt.write_private_key); returns the key."""
    from pipeline.encrypt import generate_keypair, write_private_key

    key = generate_keypair()
    write_private_key(folder / KEY_FILE, key)
    return key


def prepare_inputs(preset_name: str, folder: Path, *, progress=print) -> dict:
    """Write the counted cases' inputs into ``folder``; returns the manifest.

    The models come from :func:`cached_models` (TensorFlow is imported only to build
    them); the sample, the dataset archive, a fresh RSA key pair and the archive's
    ciphertext are made here each run, as the timed session's fixtures make them.
    """
    from fixtures.dataset import dataset_for
    from fixtures.presets import get_preset
    from pipeline.archive import archive_dataset
    from pipeline.encrypt import encrypt_file
    from pipeline.serialize import gzip_size

    import numpy as np

    started = time.perf_counter()
    preset = get_preset(preset_name)
    models = cached_models(preset, progress)
    gzip_bytes = {}
    for item in json.loads((models / MANIFEST).read_text())["models"]:
        os.symlink(models / item["file"], folder / item["file"])
        gzip_bytes[item["file"]] = gzip_size((models / item["file"]).read_bytes())
    dataset = dataset_for(preset)
    np.save(folder / "sample.npy", dataset.x_test[:1].copy())
    archive = archive_dataset(dataset.root, folder / "dataset.tar")
    key = write_key_pair(folder)
    encrypt_file(archive.path, folder / "dataset.tar.enc", key.public_key())
    manifest = {
        "preset": preset.name,
        "config_hash": preset.config_hash,
        "models": str(models),
        "weights": f"random (seed {preset.seed}): counts of dense kernels do not depend on weight values",
        "archive_bytes": archive.bytes,
        "gzip_bytes": gzip_bytes,  # the results contract's model_bytes_gzip, not measured under valgrind
        "prepare_s": time.perf_counter() - started,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def skip_reason() -> str | None:
    """Why counted cases cannot run in this process, or None when they can."""
    try:
        callgrind.find_valgrind()
    except callgrind.CallgrindUnavailable as err:
        return f"{err}; then run tox -e counts"
    if not os.environ.get(INPUTS_ENV_VARIABLE):
        return "counted cases run only under valgrind, through python -m harness.counts (tox -e counts)"
    return None


def counts_machine_info(counter: callgrind.Counter | None) -> dict:
    """``machine_info["counts"]`` of a counted session: the tool and the CPU features that pick kernels."""
    return {
        "tool": "callgrind",
        "valgrind_version": callgrind.valgrind_version(),
        "events": ["Ir"],
        "cpu_features_host": callgrind.host_cpu_features(),
        # What the counted process's CPUID says: valgrind's virtual CPU, which hides what it
        # cannot emulate (AVX-512 in valgrind 3.19), so XNNPACK picks its kernels from this.
        "cpu_features_counted": counter.cpu_features() if counter is not None else None,
        "python_hash_seed": os.environ.get("PYTHONHASHSEED"),
        "note": "instructions per call do not depend on CPU quota, memory limit or background load: "
        "one counted run serves every profile",
    }


COUNTER_KEY = pytest.StashKey[callgrind.Counter]()


def _parse(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m harness.counts",
        description="Count the instructions of the timed calls under valgrind; remaining arguments go to pytest.",
    )
    parser.add_argument("--preset", default="quick", help="preset of the models and data (default: quick)")
    parser.add_argument("--json", type=Path, default=None,
                        help=f"result file (default: {DEFAULT_JSON}; {DEFAULT_INJECTED_JSON} with --inject-slowdown)")
    parser.add_argument("--history", type=Path, default=DEFAULT_HISTORY,
                        help=f"pytest-benchmark storage the run is saved into (default: {DEFAULT_HISTORY}; "
                        "never with --inject-slowdown)")
    parser.add_argument("--no-save", action="store_true",
                        help="write the JSON only, do not save the run into the history (tox -e counts-gate: a "
                        "change under test is no baseline; default: save)")
    parser.add_argument("--inject-slowdown", action="append", default=[], metavar="OP=SHARE",
                        help="passed to pytest (harness/inject.py); the run is then not saved (default: none)")
    return parser.parse_known_args(argv)


def save_options(args: argparse.Namespace) -> list[str]:
    """pytest's options saving the counted run into ``<history>/<host>`` (one history per host, as the
    profiles': a host's CPU features pick the kernels); none with ``--no-save`` or ``--inject-slowdown``."""
    if args.inject_slowdown or args.no_save:
        return []
    history = args.history / (socket.gethostname() or "unknown-host")
    return ["--benchmark-autosave", f"--benchmark-storage=file://{history}"]


@contextlib.contextmanager
def run_folder() -> Iterator[Path]:
    """The counted run's working folder, ``<cache>/counts/run``: the same path every run.

    Every path a counted call touches (the inputs, pytest's ``tmp_path`` under
    ``--basetemp``) is then the same string in every run; with random temporary names
    the serialization counts moved by up to 0.45 % between runs (path handling and
    string hashing). One counted run at a time per cache (a lock); emptied before and after,
    the private key first (:data:`KEY_FILE`), so it goes even where the rest cannot.
    """
    from fixtures.cache import cache_root, file_lock

    folder = cache_root() / "counts" / "run"
    with file_lock(folder.with_name("run.lock")):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        try:
            yield folder
        finally:
            (folder / KEY_FILE).unlink(missing_ok=True)
            shutil.rmtree(folder, ignore_errors=True)


def run_child(command: list[str], env: dict) -> int:
    """Run the valgrind child in its own process group; on SIGINT, SIGTERM or SIGHUP stop it, and if this
    process is killed outright the child gets SIGKILL (parent-death signal): never an orphan."""
    child = subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=die_with_parent())
    with termination_as_interrupt():
        try:
            return child.wait()
        except KeyboardInterrupt:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=TERMINATE_GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
            raise


def main(argv: Sequence[str] | None = None) -> int:
    args, pytest_args = _parse(argv)
    try:
        valgrind = callgrind.find_valgrind()
        callgrind.build_helper()
    except callgrind.CallgrindUnavailable as err:
        print(f"counts: {err}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    json_path = args.json or (DEFAULT_INJECTED_JSON if args.inject_slowdown else DEFAULT_JSON)
    save = save_options(args)
    if args.inject_slowdown:
        print("counts: --inject-slowdown: this run is not saved into the history (never a baseline)", file=sys.stderr)
    started = time.perf_counter()
    with run_folder() as folder:
        prepare_inputs(args.preset, folder, progress=lambda line: print(line, file=sys.stderr))
        prepared_s = time.perf_counter() - started
        out_file = folder / "callgrind.out.%p"
        command = [
            *callgrind.valgrind_command(out_file, valgrind=valgrind),
            sys.executable, "-m", "pytest", str(TEST_FILE),
            f"--preset={args.preset}", "-p", "no:cacheprovider", "-v", "--benchmark-sort=name",
            f"--basetemp={folder / 'tmp'}",
            "--benchmark-save-data", f"--benchmark-json={json_path}", *save,
            *(f"--inject-slowdown={value}" for value in args.inject_slowdown),
            *pytest_args,
        ]
        env = dict(os.environ, PYTHONHASHSEED=HASH_SEED,
                   **{INPUTS_ENV_VARIABLE: str(folder), callgrind.OUT_FILE_ENV_VARIABLE: str(out_file)})
        json_path.parent.mkdir(parents=True, exist_ok=True)
        rc = run_child(command, env)
    print(f"counts: prepared the inputs in {prepared_s:.0f} s, counted in {time.perf_counter() - started - prepared_s:.0f} s "
          f"(valgrind child exit {rc}); results in {json_path}", file=sys.stderr)
    if rc and args.no_save:  # the count gate's measurement: a failed run is no verdict, never "regression" (1)
        from harness.gate_job import measurement_exit

        return measurement_exit(rc)
    return rc


if __name__ == "__main__":
    sys.exit(main())
