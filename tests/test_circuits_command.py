"""`grokjax circuits RUN` as a user meets it: the metric each method defaults to (and the pairing
it refuses, saying why), the output directory's name, the answer it prints, report.json's
scores keyed by unit, and "which heads matter for seed 1" as one command and one line of Python.
"""

import json

import numpy as np
import pytest

from grokjax import circuits as C
from grokjax import cli
from grokjax.errors import GrokjaxError
from grokjax.report import circuits
from grokjax.report.circuits import Options


def test_eap_defaults_to_the_logit_difference_and_refuses_kl_saying_why(tmp_path, capsys):
    assert cli.parser().parse_args(["circuits", "RUN"]).metric is None  # "not given" is not kl
    assert [Options(m).metric for m in ("acdc", "edges", "patch", "eap", "eap-ig")] == [
        "kl", "kl", "kl", "logit_diff", "logit_diff"]
    circuits.validate(Options("eap-ig", metric="kl"))  # averages gradients at masks k/10
    for o in (Options("eap", metric="kl"), Options("eap-ig", metric="kl", ig_steps=1),
              Options("eap", metric="accuracy"), Options("eap-ig", metric="accuracy")):
        with pytest.raises(GrokjaxError, match="gradient.*is.*0.*use --metric logit_diff"):
            circuits.validate(o)
    # on the command line: one line, before any run is read
    assert cli.main(["circuits", str(tmp_path), "--method", "eap", "--metric", "kl"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exactly 0" in err[0] and "--metric logit_diff" in err[0], err


def test_the_directory_names_the_metric_unless_kl_and_a_subset_of_seeds_or_an_older_step():
    def name(o, seeds=(0, 1), step=1500):
        return circuits.directory(o, list(seeds), [0, 1], step, 1500)
    assert name(Options("acdc")) == name(Options("acdc", metric="kl")) == "acdc-edges"
    assert name(Options("eap")) == name(Options("eap", metric="logit_diff")) == \
        "eap-edges-logit_diff"
    assert name(Options("acdc"), seeds=[1]) == "acdc-edges-seeds-1"
    assert name(Options("acdc"), seeds=[1, 0]) == "acdc-edges"  # every seed: the default
    assert name(Options("edges", granularity="nodes"), seeds=[1], step=800) == \
        "edges-nodes-step-800-seeds-1"
    assert name(Options("patch", direction="noise", metric="logit_diff")) == \
        "patch-noise-logit_diff"
    assert name(Options("clock-pizza"), seeds=[0]) == "clock-pizza-seeds-0"


def test_clock_pizza_and_patching_print_their_answer_per_seed():
    pizza = {"method": "clock-pizza", "step": 800, "attn_rate": 0.0, "triples": 1000,
             "members": [{"name": f"seed_00{i}", "gradient_symmetricity": g,
                          "distance_irrelevance": d, "verdict": v} for i, (g, d, v) in
                         enumerate([(0.99, 0.2, "pizza"), (0.4, 0.85, "clock")])]}
    lines = circuits.summary(pizza).splitlines()
    assert lines[2].split() == ["seed_000", "0.990", "0.200", "pizza"]
    assert lines[3].split() == ["seed_001", "0.400", "0.850", "clock"]
    # denoising: the corrupted run's kl is 30, the clean run's 0; attn_out at b restores it all
    patch = {"method": "patch", "step": 800, "metric": "kl", "direction": "denoise",
             "corrupt": "shuffle", "examples": 961, "members": ["seed_000"],
             "positions": ["a", "op", "b"], "n_heads": 2, "full": [0.0], "corrupted": [30.0],
             "tables": {"attn_out": [[[30.0, 30.0, 0.0]]],
                        "attn_head_out_by_pos": [[[[30.0, 30.0], [30.0, 30.0], [30.0, 21.0]]]]}}
    lines = circuits.summary(patch).splitlines()
    assert lines[3].split()[0] == "1.00" and lines[3].endswith("attn_out L0 @b")
    assert lines[4].split()[0] == "0.30" and lines[4].endswith("attn_head_out_by_pos L0H1 @b")
