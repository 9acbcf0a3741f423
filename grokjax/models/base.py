"""What every architecture shares: the static `ModelConfig`, the params type, hook points,
activations and TransformerLens-style flat parameter names.

The architectures (`transformer`, `decoder`, `mlp`, `onehot_mlp`) import from here, never from
the interface in `grokjax.models`, so the package has no import cycle; the decoder reuses the
transformer's attention and MLP (`transformer.attention`, `transformer.mlp`), the one import
between them. The decoder and the one-hot MLP share torch.nn.Linear's init
(`torch_linear_init`)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Iterable

import jax
import jax.numpy as jnp
from flax import traverse_util

Params = dict[str, Any]
Hooks = dict[str, Callable[[jax.Array], jax.Array]]


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Static model hyperparameters (hashable, so it can be a static argument of jit)."""

    d_vocab: int
    n_ctx: int
    arch: str = "transformer"  # 'transformer' | 'mlp'
    # 'furuta' (no pos-embed, no biases) | 'nanda' (pos-embed, MLP biases) | 'power' (openai/grok's
    # post-LayerNorm decoder, sinusoidal positions: grokjax.models.decoder) | 'prieto' (arch
    # 'mlp': Prieto et al.'s MLP on one-hot operands, grokjax.models.onehot_mlp)
    variant: str = "furuta"
    num_layers: int = 1
    d_model: int = 128
    num_heads: int = 4
    d_head: int = 32
    d_mlp: int = 512
    act: str = "relu"  # 'relu' | 'gelu' (exact erf GELU, as torch's F.gelu)
    d_emb: int = 500  # MLP model only: the embedding width
    weight_scale: float = 1.0  # multiplies every init std (Omnigrok's alpha); 1 = the reference
    precision: str = "highest"  # matmul precision: 'default' | 'high' | 'highest'
    attn_rate: float = 1.0  # attention = rate * softmax + (1 - rate) * uniform (Zhong et al.)
    # a first layer read out at the last position: 'tables' (per-vocabulary tables, gathered;
    # chosen on a CPU) | 'dense' (per example; which is faster on a GPU is for gpu.py to say)
    attention: str = "tables"


def torch_linear_init(key: jax.Array, shape: tuple[int, ...], fan_in: int,
                      scale: float = 1.0) -> jax.Array:
    """torch.nn.Linear's default weight init, kaiming_uniform(a=sqrt(5)): U(-b, b) with
    b = scale / sqrt(fan_in), float32."""
    bound = scale / math.sqrt(fan_in)
    return jax.random.uniform(key, shape, jnp.float32, -bound, bound)


def activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """'relu' or 'gelu' (the exact erf GELU, as torch's F.gelu)."""
    return {"relu": jax.nn.relu, "gelu": lambda x: jax.nn.gelu(x, approximate=False)}[name]


def param_names(params: Params) -> dict[str, jax.Array]:
    """Flat {'blocks.0.attn.W_Q': array, ...} view of a params tree."""
    return traverse_util.flatten_dict(params, sep=".")


def unflatten(flat: dict[str, Any]) -> Params:
    """The params tree of a flat {'blocks.0.attn.W_Q': array, ...} dict."""
    return traverse_util.unflatten_dict(flat, sep=".")


class HookPoints:
    """Applies the user's hooks and records the cache during one forward pass."""

    def __init__(self, hooks: Hooks, cache: bool | Iterable[str]):
        self.hooks = hooks
        self.names = None if cache is True else frozenset(cache or ())  # None: keep every name
        # Whether anything is observed; if not, the model may skip what the readout never uses.
        self.active = bool(hooks) or self.names is None or bool(self.names)
        self.cache: dict[str, jax.Array] = {}

    def __call__(self, name: str, x: jax.Array) -> jax.Array:
        if name in self.hooks:
            x = self.hooks[name](x)
        if self.names is None or name in self.names:
            self.cache[name] = x
        return x

    def observes(self, name: str) -> bool:
        """Whether `name` is hooked or cached: what decides if an optional activation (a split
        head input, a head's own output) is computed at all."""
        return name in self.hooks or self.names is None or name in self.names

    def output(self, logits: jax.Array):
        """What `apply` returns: the logits, with the cache when one was asked for."""
        return (logits, self.cache) if self.names != frozenset() else logits
