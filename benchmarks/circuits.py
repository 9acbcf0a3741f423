"""Circuit discovery speed: grokjax's compiled, vmapped ACDC against ACDC's own way, and more.

    python benchmarks/circuits.py                     # ~10 minutes on this CPU; torch optional
    python benchmarks/circuits.py --configs quick --seeds 4
    python benchmarks/circuits.py --only scaling --out benchmarks/results/circuits-cpu-scaling.json

Measured in one run, on the same models and inputs (the whole p x p table, corruption
'shuffle', KL from the clean model, tau 0.01, the position-resolved graph):

* ACDC for every seed: grokjax (`circuits.acdc`, one program for all seeds) against a
  reference-style loop in eager PyTorch: as ACDC's code does, the corrupted activations are
  cached once, then for each edge in ACDC's order one patched forward pass (every position
  computed, each head's q/k/v input split, as TransformerLens's hooks make it), the KL read to
  the host and the edge kept or removed, seed after seed. The torch loop's circuits are
  checked against grokjax's (the fraction of edges both keep or both remove).
* EAP (one forward and one backward pass for every edge) against ACDC, both grokjax.
* The activation-patching tables (`circuits.act_patch`, one program) against a Python loop of
  `models.apply(hooks=...)` replacement runs, one per index, as a user would write it.
* How grokjax's ACDC time grows with the graph: one or two layers, positions resolved or not.

The models are each seed's freshly initialised params: the time of a forward pass does not
depend on the weights, and the torch loop reads the same params. Results go to
benchmarks/results/circuits-<backend>.json; benchmarks/README.md has the table.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from grokjax import circuits, models
from grokjax.circuits import corrupt as corrupt_lib
from grokjax.circuits import patching

CONFIGS = {  # Furuta's model on add mod p: the default config and configs/quick.py
    "default": dict(p=97, d_model=128, num_heads=4, d_head=32, d_mlp=512),
    "quick": dict(p=31, d_model=64, num_heads=4, d_head=16, d_mlp=256),
}


def _problem(name: str, seeds: int, layers: int = 1, examples: int = 0):
    c = dict(CONFIGS[name])
    p = c.pop("p")
    cfg = models.ModelConfig(d_vocab=p + 2, n_ctx=3, num_layers=layers, **c)
    params = jax.vmap(lambda k: models.init(k, cfg))(jax.random.split(jax.random.PRNGKey(0),
                                                                      seeds))
    ab = np.array([(a, b) for a in range(p) for b in range(p)])
    if examples:
        ab = ab[np.random.default_rng(0).choice(len(ab), examples, replace=False)]
    bad = corrupt_lib.operands(ab, p, "shuffle", 0)
    tok = lambda x: np.stack([x[:, 0], np.full(len(x), p), x[:, 1]], 1).astype(np.int32)  # noqa: E731
    return cfg, params, tok(ab), tok(bad), ((ab[:, 0] + ab[:, 1]) % p).astype(np.int32), p


def _timed(fn, repeats: int = 1):
    """(seconds of the first call, best seconds of `repeats` later calls, the result)."""
    t = time.perf_counter()
    out = jax.block_until_ready(fn())
    first = time.perf_counter() - t
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t)
    return first, best, out


# -- the reference-style loop ------------------------------------------------------------------

def torch_acdc(params_one, graph, order, tokens, bad, tau: float) -> np.ndarray:
    """ACDC as its code runs it: one eager forward pass per edge, the metric read each time."""
    import torch  # pylint: disable=import-outside-toplevel
    W = {k: torch.tensor(np.asarray(v, np.float32)) for k, v in
         models.param_names(params_one).items()}
    H = W["blocks.0.attn.W_Q"].shape[0]
    E = W["blocks.0.attn.W_Q"].shape[-1]
    edges = graph.edge_array
    R, U, C = len(graph.receivers), len(graph.senders), tokens.shape[1]
    causal = torch.tril(torch.ones(C, C))

    def forward(tok, mask, corrupt):
        """Senders [U, B, C, D] and logits; mask [R, U, C] (1 keeps the clean path)."""
        senders = [W["embed.W_E"][tok]]

        def read(r):  # the receiver's input at every position
            total = 0
            for u, s in enumerate(senders):
                m = mask[r, u][None, :, None]
                total = total + m * s + (1 - m) * corrupt[u]
            return total
        for layer in range(graph.n_layers):
            b = f"blocks.{layer}"
            rows = graph.receiver_rows(layer)
            q_in, k_in, v_in = (torch.stack([read(r) for r in range(rows[n].start, rows[n].stop)], 2)
                                for n in "qkv")  # [B, C, H, D], TransformerLens's split input
            q = torch.einsum("bchd,hde->bche", q_in, W[f"{b}.attn.W_Q"])
            k = torch.einsum("bchd,hde->bche", k_in, W[f"{b}.attn.W_K"])
            v = torch.einsum("bchd,hde->bche", v_in, W[f"{b}.attn.W_V"])
            scores = torch.einsum("bqhe,bkhe->bhqk", q, k)
            scores = torch.where(causal.bool(), scores, torch.tensor(-1e10)) / np.sqrt(E)
            z = torch.einsum("bhqk,bkhe->bqhe", torch.softmax(scores, -1), v)
            result = torch.einsum("bqhe,hed->bqhd", z, W[f"{b}.attn.W_O"])
            senders += [result[:, :, h] for h in range(H)]
            x = read(rows["mlp"].start)
            senders.append(torch.relu(x @ W[f"{b}.mlp.W_in"]) @ W[f"{b}.mlp.W_out"])
        final = read(R - 1)
        return torch.stack(senders), final[:, -1] @ W["unembed.W_U"]

    with torch.inference_mode():
        tok, badt = torch.tensor(tokens, dtype=torch.long), torch.tensor(bad, dtype=torch.long)
        ones = torch.ones(R, U, C)
        zero = torch.zeros(U, 1, C, W["embed.W_E"].shape[1])
        _, clean_logits = forward(tok, ones, zero)
        corrupt, _ = forward(badt, ones, zero)
        logp = torch.log_softmax(clean_logits, -1)

        def kl(mask):
            _, logits = forward(tok, mask, corrupt)
            return float((logp.exp() * (logp - torch.log_softmax(logits, -1))).sum(-1).mean())
        mask = ones.clone()
        current = kl(mask)
        kept = np.ones(len(edges), bool)
        for e in order:
            s, r, c = edges[e]
            mask[r, s, c] = 0.0
            value = kl(mask)
            if value - current < tau:
                current, kept[e] = value, False
            else:
                mask[r, s, c] = 1.0
    return kept


# -- the measurements ------------------------------------------------------------------------

def acdc_against_torch(name: str, seeds: int, tau: float, torch_seeds: int) -> dict:
    cfg, params, tok, bad, labels, p = _problem(name, seeds)
    g = circuits.graph(cfg)
    units = g.units("edges")
    setup = circuits.prepare(params, cfg, g, tok, labels, corrupt_tokens=bad, n_answers=p)
    first, warm, r = _timed(lambda: circuits.acdc(setup, units, "kl", tau).kept, repeats=2)
    prep_first, prep_warm, _ = _timed(lambda: circuits.prepare(
        params, cfg, g, tok, labels, corrupt_tokens=bad, n_answers=p).corrupt, repeats=1)
    out = {"config": name, "p": p, "examples": len(tok), "seeds": seeds, "edges": len(units),
           "tau": tau, "grokjax_acdc_s": warm, "grokjax_acdc_first_call_s": first,
           "grokjax_prepare_s": prep_warm, "grokjax_kept": np.asarray(r).sum(-1).tolist()}
    try:
        import torch  # noqa: F401  pylint: disable=import-outside-toplevel
    except ImportError:
        out["torch"] = "not installed"
        return out
    torch_seeds = min(torch_seeds, seeds)
    t = time.perf_counter()
    agree = []
    for m in range(torch_seeds):
        kept = torch_acdc(jax.tree.map(lambda x: x[m], params), g, units.acdc_order, tok, bad, tau)
        agree.append(float((kept == np.asarray(r)[m]).mean()))
    per_seed = (time.perf_counter() - t) / torch_seeds
    out.update(torch_seeds_timed=torch_seeds, torch_acdc_s_per_seed=per_seed,
               torch_acdc_s=per_seed * seeds, torch_version=torch.__version__,
               kept_agreement_with_torch=agree,
               ratio=per_seed * seeds / warm,
               ratio_with_compile=per_seed * seeds / (first + prep_warm))
    return out


def eap_against_acdc(name: str, seeds: int, tau: float) -> dict:
    cfg, params, tok, bad, labels, p = _problem(name, seeds)
    g = circuits.graph(cfg)
    units = g.units("edges")
    setup = circuits.prepare(params, cfg, g, tok, labels, corrupt_tokens=bad, n_answers=p)
    _, acdc_s, _ = _timed(lambda: circuits.acdc(setup, units, "kl", tau).kept, repeats=2)
    _, eap_s, _ = _timed(lambda: circuits.eap(setup, units, "logit_diff"), repeats=2)
    _, ig_s, _ = _timed(lambda: circuits.eap_ig(setup, units, "logit_diff", 10), repeats=2)
    _, exact_s, _ = _timed(lambda: circuits.edge_effects(setup, units, "logit_diff"), repeats=2)
    return {"config": name, "seeds": seeds, "acdc_s": acdc_s, "eap_s": eap_s,
            "eap_ig10_s": ig_s, "edge_patching_s": exact_s, "acdc_over_eap": acdc_s / eap_s}


def patching_against_hook_loop(name: str, seeds: int, examples: int) -> dict:
    cfg, params, tok, bad, labels, p = _problem(name, seeds, examples=examples)
    kinds = ("resid_pre", "attn_head_out_by_pos")
    _, ours, _ = _timed(lambda: [patching.act_patch(params, cfg, tok, bad, labels, kind=k,
                                                    metric="logit_diff", n_answers=p)
                                 for k in kinds], repeats=2)

    def loop():
        from grokjax.circuits import metrics  # pylint: disable=import-outside-toplevel
        out = []
        for m in range(seeds):
            pm = jax.tree.map(lambda x: x[m], params)
            clean_logits = models.apply(pm, tok, cfg)
            for kind in kinds:
                name_ = {"resid_pre": "blocks.0.hook_resid_pre",
                         "attn_head_out_by_pos": "blocks.0.attn.hook_z"}[kind]
                src = models.apply(pm, tok, cfg, cache=[name_])[1][name_]
                shape = (3,) if kind == "resid_pre" else (3, cfg.num_heads)
                for idx in np.ndindex(shape):
                    sl = (slice(None),) + idx
                    logits = models.apply(pm, bad, cfg, hooks={name_: lambda x: x.at[sl].set(src[sl])})
                    out.append(float(metrics.value("logit_diff", logits, clean_logits,
                                                   jnp.asarray(labels), p)))
        return out
    t = time.perf_counter()
    loop()
    hook_loop = time.perf_counter() - t
    return {"config": name, "seeds": seeds, "examples": len(tok), "tables": list(kinds),
            "grokjax_s": ours, "hook_loop_s": hook_loop, "ratio": hook_loop / ours}


def acdc_scaling(name: str, seeds: int, tau: float) -> list[dict]:
    rows = []
    for layers in (1, 2):
        cfg, params, tok, bad, labels, p = _problem(name, seeds, layers)
        g = circuits.graph(cfg)
        setup = circuits.prepare(params, cfg, g, tok, labels, corrupt_tokens=bad, n_answers=p)
        for kind in ("edges-nopos", "edges"):
            units = g.units(kind)
            _, s, _ = _timed(lambda: circuits.acdc(setup, units, "kl", tau).kept, repeats=1)
            _, e, _ = _timed(lambda: circuits.eap(setup, units, "logit_diff"), repeats=1)
            rows.append({"config": name, "layers": layers, "granularity": kind,
                         "units": len(units), "seeds": seeds, "acdc_s": s,
                         "ms_per_unit": 1000 * s / len(units), "eap_s": e, "acdc_over_eap": s / e})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="quick,default")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--torch-seeds", type=int, default=2,
                        help="seeds the torch loop is timed on (its time is per seed, times --seeds)")
    parser.add_argument("--tau", type=float, default=0.01)
    parser.add_argument("--only", default="acdc,eap,patching,scaling",
                        help="the sections to run (comma-separated)")
    parser.add_argument("--out")
    args = parser.parse_args()
    only = set(args.only.split(","))
    jax.config.update("jax_enable_x64", True)  # as in a grokjax run (the float64 loss)
    result = {"backend": jax.default_backend(), "jax": jax.__version__,
              "python": platform.python_version(), "machine": platform.processor() or
              platform.machine(), "acdc": [], "eap": [], "patching": [], "scaling": []}
    sections = {"acdc": lambda n: acdc_against_torch(n, args.seeds, args.tau, args.torch_seeds),
                "eap": lambda n: eap_against_acdc(n, args.seeds, args.tau),
                "patching": lambda n: patching_against_hook_loop(n, args.seeds, 0)}
    for name in args.configs.split(","):
        for section, measure in sections.items():
            if section in only:
                result[section].append(measure(name))
                print(json.dumps(result[section][-1]))
    if "scaling" in only:
        result["scaling"] = acdc_scaling("quick", args.seeds, args.tau)
        print(json.dumps(result["scaling"]))
    out = pathlib.Path(args.out or f"benchmarks/results/circuits-{jax.default_backend()}.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
