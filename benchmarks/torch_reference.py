"""The reference's model and training loop in plain PyTorch: the speed grokjax is compared with.

    python benchmarks/torch_reference.py --steps 30        # its steps/s on this machine
    python benchmarks/torch_reference.py --device cuda     # on the GPU

As frt03/grok_mod_poly runs a config: one seed, full batch, eager; the transformer computed at
every position in the reference's weight layouts and einsums (`model.py`), logits read at the
last; AdamW(lr 1e-3, weight decay 1, betas (0.9, 0.98)); the loss on logits cast to float64
(`cross_entropy_high_precision`); and at every step, as it logs to wandb each epoch, the train
and test loss, accuracy and correct-label probability and the weight norms, read with `.item()`.
`from_grokjax` loads one seed of grokjax params, so a benchmark can first check that both
compute the same logits. Needs torch (not a grokjax dependency); `available()` says whether it
is installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np


def available() -> bool:
    return importlib.util.find_spec("torch") is not None


def build(d_vocab: int, d_model: int = 128, num_heads: int = 4, d_head: int = 32,
          d_mlp: int = 512, n_ctx: int = 3, seed: int = 0):
    """The reference Transformer (one layer, no LayerNorm, biases or positional embedding)."""
    import torch  # pylint: disable=import-outside-toplevel
    from torch import nn  # pylint: disable=import-outside-toplevel

    class Transformer(nn.Module):
        def __init__(self):
            super().__init__()
            g = torch.Generator().manual_seed(seed)

            def normal(*shape, std):
                return nn.Parameter(torch.randn(*shape, generator=g) * std)

            s = 1 / np.sqrt(d_model)
            self.W_E = normal(d_model, d_vocab, std=1 / np.sqrt(d_vocab))
            self.W_K = normal(num_heads, d_head, d_model, std=s)
            self.W_Q = normal(num_heads, d_head, d_model, std=s)
            self.W_V = normal(num_heads, d_head, d_model, std=s)
            self.W_O = normal(d_model, d_head * num_heads, std=s)
            self.W_in = normal(d_mlp, d_model, std=s)
            self.W_out = normal(d_model, d_mlp, std=s)
            self.W_U = normal(d_model, d_vocab, std=s)
            self.register_buffer("mask", torch.tril(torch.ones((n_ctx, n_ctx))))

        def forward(self, tokens):
            x = torch.einsum("dbp->bpd", self.W_E[:, tokens])
            k = torch.einsum("ihd,bpd->biph", self.W_K, x)
            q = torch.einsum("ihd,bpd->biph", self.W_Q, x)
            v = torch.einsum("ihd,bpd->biph", self.W_V, x)
            scores = torch.einsum("biph,biqh->biqp", k, q)
            c = tokens.shape[-1]
            scores = torch.tril(scores) - 1e10 * (1 - self.mask[:c, :c])
            attn = torch.softmax(scores / np.sqrt(d_head), dim=-1)
            z = torch.einsum("biph,biqp->biqh", v, attn)
            z_flat = z.permute(0, 2, 1, 3).reshape(z.shape[0], c, -1)
            x = x + torch.einsum("df,bqf->bqd", self.W_O, z_flat)
            x = x + torch.einsum("dm,bpm->bpd", self.W_out,
                                 torch.relu(torch.einsum("md,bpd->bpm", self.W_in, x)))
            return x @ self.W_U

    return Transformer()


def from_grokjax(model, params_one_seed: dict) -> None:
    """Copies one seed of grokjax params (TransformerLens layouts) into the reference layouts."""
    import torch  # pylint: disable=import-outside-toplevel
    from grokjax.models import param_names  # pylint: disable=import-outside-toplevel
    p = {k: np.asarray(v, np.float32) for k, v in param_names(params_one_seed).items()}
    layouts = {
        "W_E": p["embed.W_E"].T,
        **{f"W_{n}": p[f"blocks.0.attn.W_{n}"].transpose(0, 2, 1) for n in "QKV"},
        "W_O": p["blocks.0.attn.W_O"].reshape(-1, p["blocks.0.attn.W_O"].shape[-1]).T,
        "W_in": p["blocks.0.mlp.W_in"].T, "W_out": p["blocks.0.mlp.W_out"].T,
        "W_U": p["unembed.W_U"],
    }
    with torch.no_grad():
        for name, value in layouts.items():
            getattr(model, name).copy_(torch.from_numpy(np.array(value, np.float32)))


def _loss(logits, labels):
    """frt03's cross_entropy_high_precision: log_softmax in float64."""
    import torch  # pylint: disable=import-outside-toplevel
    logprobs = torch.log_softmax(logits.to(torch.float64), dim=-1)
    return -torch.gather(logprobs, -1, labels[:, None])[:, 0].mean()


def train_steps(model, train_tokens, train_labels, test_tokens, test_labels, steps: int,
                lr: float = 1e-3, weight_decay: float = 1.0) -> list[dict]:
    """`steps` reference-style steps (metrics before each update, read to the host)."""
    import torch  # pylint: disable=import-outside-toplevel
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay,
                            betas=(0.9, 0.98))
    log = []
    for _ in range(steps):
        train_logits = model(train_tokens)[:, -1]
        train_loss = _loss(train_logits, train_labels)
        with torch.inference_mode():
            test_logits = model(test_tokens)[:, -1]
            test_loss = _loss(test_logits, test_labels)
            metrics = {
                "train_loss": train_loss.item(), "test_loss": test_loss.item(),
                "train_acc": (train_logits.argmax(-1) == train_labels).float().mean().item(),
                "test_acc": (test_logits.argmax(-1) == test_labels).float().mean().item(),
                "train_prob": torch.exp(-torch.nn.functional.cross_entropy(
                    train_logits.double(), train_labels, reduction="none")).mean().item(),
                "test_prob": torch.exp(-torch.nn.functional.cross_entropy(
                    test_logits.double(), test_labels, reduction="none")).mean().item(),
                "l2norm": float(np.mean([p.norm().item() for p in model.parameters()])),
            }
        train_loss.backward()
        opt.step()
        opt.zero_grad()
        log.append(metrics)
    return log


def default_data(p: int = 97, train_fraction: float = 0.3, seed: int = 0):
    """grokjax's split of the default task for one seed, as torch tensors."""
    import torch  # pylint: disable=import-outside-toplevel
    from grokjax import config as config_lib  # pylint: disable=import-outside-toplevel
    from grokjax.experiment import build as build_exp  # pylint: disable=import-outside-toplevel
    cfg = config_lib.load_config("configs/add.py", [f"p={p}", f"train_fraction={train_fraction}",
                                                    *config_lib.seed_overrides([seed])])
    exp = build_exp(cfg)
    data = exp.data()
    tokens, labels = np.asarray(data.tokens[0]), np.asarray(data.labels[0])
    tr, te = np.asarray(exp.train_idx[0]), np.asarray(exp.test_idx[0])
    as_t = torch.from_numpy
    return (exp, as_t(tokens[tr]).long(), as_t(labels[tr]).long(), as_t(tokens[te]).long(),
            as_t(labels[te]).long())


def default_device() -> str:
    """'cuda' where torch sees a GPU, else 'cpu'."""
    import torch  # pylint: disable=import-outside-toplevel
    return "cuda" if torch.cuda.is_available() else "cpu"


def steps_per_second(steps: int, warmup: int = 2, p: int = 97, device: str = "cpu",
                     repeats: int = 3) -> dict:
    """The reference loop's speed on `device` ('cpu' or 'cuda'; every step syncs through
    `.item()`, as the reference's logging does): the best of `repeats` timings of `steps`
    steps, the most favourable reading for the reference on a machine whose speed varies."""
    import torch  # pylint: disable=import-outside-toplevel
    exp, *data = default_data(p)
    model = build(exp.dataset.vocab.d_vocab).to(device)
    data = [t.to(device) for t in data]
    train_steps(model, *data, steps=warmup)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        train_steps(model, *data, steps=steps)
        times.append(time.perf_counter() - t0)
    seconds = min(times)
    return {"steps": steps, "seconds": round(seconds, 3),
            "all_seconds": [round(t, 3) for t in times],
            "steps_per_second": round(steps / seconds, 3), "torch": torch.__version__,
            "device": device, "torch_threads": torch.get_num_threads(),
            **({"gpu": torch.cuda.get_device_name()} if device == "cuda" else {})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--device", default=None, help="cpu | cuda (default: cuda if torch sees one)")
    args = ap.parse_args()
    if not available():
        print("torch is not installed: nothing to compare (pip install torch)")
        return
    print(steps_per_second(args.steps, device=args.device or default_device()))


if __name__ == "__main__":
    main()
