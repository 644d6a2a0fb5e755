"""Experiment configs register themselves (src.configs.config_classes): importing any experiment
module defines them all, so W2GN_OVERRIDES sections of every config class are told from fields."""
import json
import os
import subprocess
import sys
from dataclasses import dataclass

from conftest import ROOT

import src.experiments as experiments
from src.configs import ExperimentConfig, apply_overrides, config_classes

NAMES = {"toy": "ToyConfig", "gaussians": "GaussiansConfig", "gaussians_baselines": "GaussiansBaselinesConfig",
         "benchmark": "BenchmarkConfig", "autoencoder": "AEConfig", "latent_ot": "LatentOTConfig",
         "style_transfer": "StyleTransferConfig", "domain_adaptation": "DomainAdaptationConfig",
         "color_transfer": "ColorTransferConfig"}


def test_every_experiment_module_registers_its_config():
    on_disk = {p.stem for p in (ROOT / "src" / "experiments").glob("*.py")} - {"__init__", "common", "run"}  # run: the CLI
    assert sorted(NAMES) == sorted(experiments.MODULES) == sorted(on_disk), \
        "src/experiments/__init__.py imports each experiment module and lists it in MODULES"
    classes = config_classes()
    for module, name in NAMES.items():
        assert classes[name] is getattr(getattr(experiments, module), name), name


def test_a_subclass_registers_itself_and_its_section_is_kept_apart():
    @dataclass
    class RegistryProbeConfig(ExperimentConfig):
        steps: int = 3

    assert config_classes()["RegistryProbeConfig"] is RegistryProbeConfig
    cfg = apply_overrides(RegistryProbeConfig(), {"RegistryProbeConfig": {"steps": 5}, "ToyConfig": {"n_fit": 1}})
    assert cfg.steps == 5   # the ToyConfig section is another class's, not an unknown field


def test_one_experiment_imported_knows_every_section():
    """A notebook imports one experiment module; the overrides of the others are still sections."""
    code = ("import json, sys\n"
            "from src.configs import get_config\n"
            "from src.experiments.autoencoder import AEConfig\n"
            "print(json.dumps(get_config(AEConfig, 'smoke').iterations))\n")
    env = dict(os.environ, W2GN_OVERRIDES=json.dumps({"AEConfig": {"iterations": 2},
                                                      "LatentOTConfig": {"w2gn.iterations": 3}}))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "2"
