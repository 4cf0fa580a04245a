"""reports.config: the one reader of [tool.continuum-bench.gate], [.counts] and [.paired], and its errors
(file, table, key)."""
from pathlib import Path

import pytest

from reports import countrule as CR
from reports.config import ConfigError, gate_config, load_gate_config, load_paired_config

REPO = Path(__file__).resolve().parents[2]


def test_gate_config_from_pyproject(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text('[tool.continuum-bench.gate]\nfactor = 1.2\nalpha = 0.01\nbaseline_runs = 8\n'
                 '[tool.continuum-bench.gate.factors]\ninference = 1.05\n')
    cfg = load_gate_config(p)
    assert cfg.factor_for("inference") == 1.05 and cfg.factor_for("serialization") == 1.2
    assert cfg.alpha == 0.01 and cfg.baseline_runs == 8 and cfg.min_baseline_runs == 3
    assert gate_config(str(p), baseline_runs=4, min_baseline_runs=None).baseline_runs == 4


def test_unknown_config_key_is_an_error(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text("[tool.continuum-bench.gate]\nfactr = 1.2\n")
    with pytest.raises(ValueError, match="factr"):
        load_gate_config(p)


def test_the_rule_is_read_by_the_gates_loader(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.continuum-bench.gate]\nfactor = 1.2\n[tool.continuum-bench.counts]\nthreshold = 0.02\n"
                    "[tool.continuum-bench.counts.thresholds]\ninference = 0.005\n")
    config = load_gate_config(path)
    assert config.factor == 1.2
    assert config.counts.threshold_for("encryption") == 0.02 and config.counts.threshold_for("inference") == 0.005
    path.write_text("[tool.continuum-bench.counts]\nthreshhold = 0.02\n")
    with pytest.raises(ValueError, match=r"unknown key.*threshhold.*tool.continuum-bench.counts"):
        load_gate_config(path)
    path.write_text("[tool.continuum-bench.counts]\nthreshold = 2\n")
    with pytest.raises(ValueError, match=f"{path}.*counts.*threshold must"):
        load_gate_config(path)


def test_the_repository_config_is_valid():
    assert load_gate_config(REPO / "pyproject.toml").counts.threshold == CR.DEFAULT_THRESHOLD


def test_config_from_pyproject(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.continuum-bench.paired]\nfactor = 1.03\npairs = 12\n"
                    "[tool.continuum-bench.paired.factors]\ninference = 1.04\n")
    cfg = load_paired_config(path, pairs=20)
    assert (cfg.factor, cfg.pairs, cfg.factor_for("inference")) == (1.03, 20, 1.04)
    path.write_text("[tool.continuum-bench.paired]\nfactr = 1.03\n")
    with pytest.raises(ValueError, match=r"pyproject.toml: unknown key\(s\) \['factr'\]"):
        load_paired_config(path)
    path.write_text("[tool.continuum-bench.paired]\nfactor = 0.9\n")
    with pytest.raises(ValueError, match="factor must be a number > 1, got 0.9"):
        load_paired_config(path)


def test_the_repository_config_loads():
    cfg = load_paired_config()
    assert cfg.pairs >= cfg.min_pairs and cfg.cases


@pytest.mark.parametrize("text, match", [
    ("[tool.continuum-bench.gate]\nfactor = 0.9\n", r"\[tool\.continuum-bench\.gate\]: gate factor must be a number > 1, got 0.9"),
    ("[tool.continuum-bench.gate.factors]\ninference = 1.0\n", r"\[tool\.continuum-bench\.gate\]: gate factors.inference must"),
    ("[tool.continuum-bench.counts.thresholds]\ninference = 2\n", r"\[tool\.continuum-bench\.counts\]: counts thresholds.inference must"),
    ("[tool.continuum-bench.paired]\nmin_pairs = 2\n", r"\[tool\.continuum-bench\.paired\]: paired min_pairs must"),
    ("[tool.continuum-bench.paired]\nclock = \"tsc\"\n", r"\[tool\.continuum-bench\.paired\]: paired clock must be one of"),
])
def test_every_table_names_the_file_the_table_and_the_key(tmp_path, text, match):
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    loader = load_paired_config if "paired" in text else load_gate_config
    with pytest.raises(ConfigError, match=f"^{path}: " + match):
        loader(path)


def test_a_factors_key_that_is_not_a_table_is_named(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.continuum-bench.counts]\nthresholds = 0.1\n")
    with pytest.raises(ConfigError, match=r"\[tool\.continuum-bench\.counts\]: thresholds must be a table"):
        load_gate_config(path)


def test_a_missing_or_broken_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=f"{tmp_path / 'none.toml'}: configuration file not found"):
        load_gate_config(tmp_path / "none.toml")
    with pytest.raises(ConfigError, match=f"{tmp_path / 'none.toml'}: configuration file not found"):
        load_paired_config(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[tool.continuum-bench.gate\n")
    with pytest.raises(ConfigError, match=f"{bad}: not valid TOML"):
        load_gate_config(bad)


def test_paired_lists_become_tuples_and_overrides_win(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.continuum-bench.paired]\ncases = ["full-keras"]\nrenew = []\n')
    cfg = load_paired_config(path, clock="cpu", pairs=None)
    assert cfg.cases == ("full-keras",) and cfg.renew == () and cfg.clock == "cpu"
