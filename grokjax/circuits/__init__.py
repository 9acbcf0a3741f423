"""Circuits of grokked models: patching, attribution patching, EAP, EAP-IG and ACDC, for every
member of a run at once.

    graph        the position-resolved computational graph and its granularities (`Units`)
    forward      the model with any subset of edges patched (the one function behind them all)
    metrics      KL from the clean model, logit difference, loss, accuracy; faithfulness
    corrupt      corruptions that suit modular arithmetic (resample b, b+1, a+1, shuffle, swap,
                 mean over the table, zero)
    methods      edge patching, EAP, EAP-IG, ACDC: jitted, vmapped over members
    patching     TransformerLens's activation-patching tables
    frequency    MLP neurons grouped by key frequency (a granularity that joins Nanda's picture)
    prune        edge pruning (Bhaskar et al.): hard-concrete unit masks trained to a target
                 sparsity, every member and target in one program
    scoring      against a known circuit (ROC AUC, average precision) and MIB's faithfulness
                 curve of a ranking's top-k circuits (CPR, CMD)
    known        models with circuits known by construction (the Fourier algorithm set by
                 hand; redundant, dead, distracting and constant parts; Gromov's MLP)
    mib          the MIB circuit track's file (EAP-IG's Graph.to_json): scores out and back
    clock_pizza  Zhong et al.'s gradient symmetricity and distance irrelevance
    runs         a run directory's params, table and corruptions

A notebook session:

    from grokjax import circuits
    model = circuits.load("runs/quick")                 # the latest checkpoint, every seed
    s, g = circuits.setup(model, circuits.inputs(model, "shuffle"))
    units = g.units("edges")
    result = circuits.acdc(s, units, "kl", tau=0.01)    # result.kept: [seeds, edges]

`grokjax circuits RUN` (grokjax.report.circuits) is the command. The package reads run
directories through `grokjax.saved` (its `Model` is the one `circuits.load` returns), beside
the training loop, which it never imports, and below the commands.
"""

from grokjax.circuits.clock_pizza import distance_irrelevance, gradient_symmetricity, verdict
from grokjax.circuits.corrupt import CORRUPTIONS
from grokjax.circuits.frequency import frequency_groups
from grokjax.circuits.graph import GRANULARITIES, Graph, Units, graph
from grokjax.circuits.methods import (AcdcResult, Setup, acdc, concat, eap, eap_ig,
                                      edge_effects, evaluate, full_and_corrupt, prepare)
from grokjax.circuits.metrics import METRICS, faithfulness
from grokjax.circuits.mib import from_mib, read_mib, to_mib, write_mib, write_mib_run
from grokjax.circuits.patching import KINDS, act_patch
from grokjax.circuits.prune import PruneResult, edge_pruning
from grokjax.circuits.runs import Inputs, Model, inputs, load, setup
from grokjax.circuits.scoring import (acdc_importance, average_precision, cpr_cmd,
                                      faithfulness_curve, importance, random_curve, roc_auc)

__all__ = ["AcdcResult", "CORRUPTIONS", "GRANULARITIES", "Graph", "Inputs", "KINDS", "METRICS",
           "Model", "PruneResult", "Setup", "Units", "acdc", "acdc_importance", "act_patch",
           "average_precision", "concat", "cpr_cmd", "distance_irrelevance", "eap", "eap_ig",
           "edge_effects", "edge_pruning", "evaluate", "faithfulness", "faithfulness_curve",
           "frequency_groups", "from_mib", "full_and_corrupt", "gradient_symmetricity",
           "graph", "importance", "inputs", "load", "prepare", "random_curve", "read_mib",
           "roc_auc", "setup", "to_mib", "verdict", "write_mib", "write_mib_run"]
