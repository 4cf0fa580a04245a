"""Bad options are refused before any benchmark starts, with the problem named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_pytest(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks", "-p", "no:cacheprovider", "--benchmark-disable", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def refusal(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_unknown_preset_is_refused_with_the_known_ones():
    message = refusal(run_pytest("--preset", "huge"))
    assert "'huge'" in message and "paper, quick, tiny" in message


def test_unknown_profile_is_refused_with_the_known_ones():
    message = refusal(run_pytest("--profile", "phone"))
    assert "'phone'" in message and "device" in message and "edge-loaded" in message


def test_missing_data_dir_is_refused_naming_the_path(tmp_path):
    missing = tmp_path / "no-such-folder"
    message = refusal(run_pytest("--preset", "tiny", "--data-dir", str(missing)))
    assert str(missing) in message


def test_data_dir_with_one_class_is_refused(tmp_path):
    from PIL import Image

    (tmp_path / "only").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "only" / "a.png")
    message = refusal(run_pytest("--preset", "tiny", "--data-dir", str(tmp_path)))
    assert str(tmp_path) in message and "class" in message


def test_paper_preset_needs_a_data_dir():
    message = refusal(run_pytest("--preset", "paper"))
    assert "--data-dir" in message


def test_missing_weights_file_is_refused(tmp_path):
    message = refusal(run_pytest("--preset", "tiny", "--weights", str(tmp_path / "w.h5")))
    assert "w.h5" in message


def test_data_dir_with_another_class_count_is_refused(tmp_path):
    from PIL import Image

    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / name / "a.png")
    message = refusal(run_pytest("--preset", "tiny", "--data-dir", str(tmp_path)))
    assert "2 classes" in message and "num_classes=4" in message


def test_bad_data_dir_under_a_profile_leaves_no_cgroup(tmp_path):
    """The profile is applied before the data dir is checked (numpy must see the thread
    settings): a refusal then must still remove what was created."""
    own = Path("/proc/self/cgroup").read_text()
    message = refusal(run_pytest("--preset", "tiny", "--profile", "device", "--allow-unenforced",
                                 "--data-dir", str(tmp_path / "missing")))
    assert "missing" in message
    for line in own.splitlines():
        _, controllers, group = line.split(":", 2)
        if controllers in ("cpu", "memory"):
            base = Path("/sys/fs/cgroup") / controllers / group.lstrip("/")
            if base.is_dir():
                # groups of other live runs (a benchmark session beside the tests) are theirs
                stray = [g for g in base.glob("continuum-bench-*") if not Path(f"/proc/{g.name.rsplit('-', 1)[1]}").exists()]
                assert not stray, f"stray cgroup under {base}: {stray}"


def test_weights_of_another_width_are_refused_naming_what_the_file_is(tmp_path):
    from fixtures.tfenv import keras

    path = tmp_path / "mobilenet_5_0_224_tf_no_top.h5"
    keras.applications.MobileNet(alpha=0.5, input_shape=(32, 32, 3), weights=None, include_top=False).save_weights(str(path))
    result = run_pytest("--preset", "tiny", "--weights", str(path), "-k", "full-keras")
    refusal(result)
    message = result.stdout + result.stderr  # the base fixture ends the session: pytest prints it on stdout
    assert f"weights file {path} is MobileNet v1 alpha 0.5 (224 px by its name)" in message
    assert "preset 'tiny' needs MobileNet v1 alpha 0.25 at 32 px" in message


def test_unknown_quantization_is_refused_naming_it_in_one_line():
    message = refusal(run_pytest("--preset", "tiny", "--quantization", "none,int4"))
    assert "--quantization" in message and "'int4'" in message and "int8-qat" in message
    assert len([line for line in message.splitlines() if line.strip()]) == 1


def test_quantization_selects_the_cases_of_those_quantizations():
    result = run_pytest("--preset", "tiny", "--quantization", "int8,int8-qat", "--collect-only", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    ids = [line for line in result.stdout.splitlines() if "::" in line]
    inference = [i for i in ids if "test_inference[" in i]
    assert inference and all(i.endswith(("-int8]", "-int8-qat]")) for i in inference)
    assert any(i.endswith("test_finetune_qat[pf=70-magnitude-int8-qat]") for i in ids)
    assert not any("test_finetune[" in i or "test_serialize_model[" in i for i in ids)  # float cases
    assert any("test_prune[" in i for i in ids) and any("test_encrypt" in i for i in ids)  # no quantization
