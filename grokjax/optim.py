"""The optimiser: AdamW as torch.optim.AdamW computes it, Nanda's warm-up, freezing,
Omnigrok's constrained norm, Grokfast's gradient filters and the orthogonal gradient (⊥Grad).

optax.adamw matches torch's AdamW update (decoupled decay scaled by the learning rate, eps
outside the square root). Nanda's LambdaLR warm-up, lr * min(step / warmup, 1), gives lr 0 at
step 0 exactly as torch does. Frozen elements get a zero update after AdamW, so they receive
neither the gradient step nor weight decay, as requires_grad=False does in the reference.
`optim.constrain_norm` chains `hold_norm` last: the update then lands the params on their
initial global L2 norm (kept in the optimiser state, so a run without it has the state, and the
checkpoints, it always had).

Gradient transformations before AdamW, in the order the two reference codes compose them
(Grokfast edits p.grad before `optimizer.step`; OrthoGrad projects inside it):

* `grokfast` (Lee et al. 2024, "Grokfast: accelerated grokking by amplifying slow gradients";
  ironjr/grokfast grokfast.py): g + lamb * filter(g), the filter an EMA
  (ema <- alpha ema + (1 - alpha) g, starting from the first gradient) or the mean of the last
  `window` gradients (applied only once the window is full: the reference's `warmup=True`).
* `orthogonal` (Prieto et al. 2025, "Grokking at the edge of numerical stability", §6;
  LucasPrietoAl/grokking-at-the-edge-of-numerical-stability orthograd.py): per tensor,
  g - (w.g / w.w) w, rescaled to |g|.

Their hyperparameters live in their optimiser state as float32 values (`hyperparams`, as
optax.inject_hyperparams keeps them), in every run: so a grid member (`set_hyperparams`: a
filter's kind, lamb and alpha, the projection on or off) computes exactly what a run of its own
values computes, bit for bit. A kind off contributes an exact zero (g + lamb * 0 * filter = g).
`optim.decay='coupled'` is torch.optim.Adam's weight_decay (an L2 term added to the gradient
after the filters, before Adam's moments), which Grokfast's published runs used (its main.py:
`--optimizer Adam`); the default 'decoupled' is AdamW.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax

from grokjax import models


def freeze(mask: Any) -> optax.GradientTransformation:
    """Zeroes the updates where `mask` (a tree of bools or bool arrays, True = frozen) holds."""

    def update(updates, state, params=None):
        del params
        return jax.tree.map(lambda u, m: jnp.where(m, jnp.zeros_like(u), u), updates, mask), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def global_norm(params: Any) -> jax.Array:
    """The L2 norm of all params together (the history's 'norm/total')."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(v)) for v in models.param_names(params).values()))


class HoldNormState(NamedTuple):
    norm: jax.Array  # float32 []: the params' initial global norm


def hold_norm() -> optax.GradientTransformation:
    """Omnigrok's constrained training, as the last transformation of a chain: the update that
    takes the params to (params + updates) rescaled to their initial global norm."""

    def init(params):
        return HoldNormState(norm=global_norm(params).astype(jnp.float32))

    def update(updates, state, params):
        new = jax.tree.map(lambda p, u: p + u, params, updates)
        scale = (state.norm / global_norm(new)).astype(jnp.float32)
        return jax.tree.map(lambda n, p: n * scale - p, new, params), state

    return optax.GradientTransformation(init, update)


class GrokfastState(NamedTuple):
    count: jax.Array  # int32 []: gradients seen
    ema: Any  # the EMA of the gradients, like params
    window: Any  # the last `window` gradients, [window, *shape] per param (a ring; None: EMA only)
    hyperparams: dict  # float32 []: lamb, alpha, ema and ma (1: this filter on, 0: off)


def grokfast(lamb: float, alpha: float, window: int, kind: str,
             with_ma: bool | None = None) -> optax.GradientTransformation:
    """Grokfast's filters: g + lamb * (ema * EMA(g) + ma * MA(g)), `kind` 'ema', 'ma' or 'none'
    setting the two switches; `with_ma` keeps the window (default: kind == 'ma'; a grid over
    the kind keeps it for every member)."""
    with_ma = kind == "ma" if with_ma is None else with_ma

    def init(params):
        f32 = lambda v: jnp.asarray(v, jnp.float32)  # noqa: E731
        return GrokfastState(
            count=jnp.int32(0), ema=jax.tree.map(jnp.zeros_like, params),
            window=(jax.tree.map(lambda p: jnp.zeros((window, *p.shape), p.dtype), params)
                    if with_ma else None),
            hyperparams={"grokfast_lamb": f32(lamb), "grokfast_alpha": f32(alpha),
                         "grokfast_ema": f32(kind == "ema"), "grokfast_ma": f32(kind == "ma")})

    def update(grads, state, params=None):
        del params
        h = state.hyperparams
        first = state.count == 0
        # ironjr/grokfast: grads[n] = grads[n] * alpha + g * (1 - alpha), from grads[n] = g
        ema = jax.tree.map(lambda e, g: jnp.where(first, g, e) * h["grokfast_alpha"]
                           + g * (1 - h["grokfast_alpha"]), state.ema, grads)
        slow = jax.tree.map(lambda e: h["grokfast_ema"] * e, ema)
        window_ = state.window
        if with_ma:
            slot = state.count % window
            window_ = jax.tree.map(lambda w, g: w.at[slot].set(g), state.window, grads)
            full = (state.count + 1 >= window).astype(jnp.float32)  # the deque is full
            slow = jax.tree.map(lambda s, w: s + (h["grokfast_ma"] * full) * w.mean(axis=0),
                                slow, window_)
        out = jax.tree.map(lambda g, s: g + s * h["grokfast_lamb"], grads, slow)
        return out, state._replace(count=state.count + 1, ema=ema, window=window_)

    return optax.GradientTransformation(init, update)


class OrthogonalState(NamedTuple):
    hyperparams: dict  # 'orthogonal': float32 [] (1: project, 0: pass the gradient through)


def orthogonal(on: bool = True) -> optax.GradientTransformation:
    """⊥Grad: each tensor's gradient without its component along the tensor, rescaled to the
    gradient's norm (OrthoGrad's 1e-30 guards kept)."""

    def init(params):
        del params
        return OrthogonalState(hyperparams={"orthogonal": jnp.asarray(float(on), jnp.float32)})

    def update(grads, state, params):
        def project(g, w):
            # sums of products, not dots: no matmul, so no TF32 on a GPU
            proj = jnp.sum(w * g) / (jnp.sum(w * w) + 1e-30)
            g_orth = g - proj * w
            norm = lambda x: jnp.sqrt(jnp.sum(x * x))  # noqa: E731
            scaled = g_orth * (norm(g) / (norm(g_orth) + 1e-30))
            return jnp.where(state.hyperparams["orthogonal"] > 0, scaled, g)
        return jax.tree.map(project, grads, params), state

    return optax.GradientTransformation(init, update)


def adam_coupled(learning_rate, b1, b2, eps, weight_decay) -> optax.GradientTransformation:
    """torch.optim.Adam with weight_decay: the L2 gradient wd * p added before the moments."""
    return optax.chain(optax.add_decayed_weights(weight_decay),
                       optax.scale_by_adam(b1=b1, b2=b2, eps=eps),
                       optax.scale_by_learning_rate(learning_rate))


def filters_in(ocfg: ml_collections.ConfigDict, axes: Any = ()) -> tuple[bool, bool]:
    """Whether the optimiser has Grokfast's filter and the orthogonal projection: set in the
    config, or gridded (`axes`: the grid's axis names)."""
    axes = set(axes)
    return (ocfg.grad_filter != "none" or bool({"grad_filter", "grokfast_lamb",
                                               "grokfast_alpha"} & axes),
            bool(ocfg.orthogonal) or "orthogonal" in axes)


def make_optimizer(ocfg: ml_collections.ConfigDict, frozen: Any = None,
                   traced: bool = False, axes: Any = ()) -> optax.GradientTransformation:
    """AdamW with ocfg's values; `traced`: the learning rate and weight decay live in the
    optimiser state (optax.inject_hyperparams, float32), so that every member of a grid can
    have its own (`set_hyperparams`), and the warm-up scales the whole update instead.
    `axes`: the grid's axes, which add Grokfast's filter or the projection to every member."""
    base, warmup = ocfg.lr, ocfg.warmup_steps
    adamw = dict(b1=ocfg.b1, b2=ocfg.b2, eps=ocfg.eps, weight_decay=ocfg.weight_decay)
    adam = optax.adamw if ocfg.decay == "decoupled" else adam_coupled

    def ramp(count, scale=1.0):  # scale * min(t / warmup, 1), float32: x64 never promotes params
        return jnp.asarray(scale * jnp.minimum(count / warmup, 1.0), jnp.float32)

    if traced:
        tx = optax.inject_hyperparams(adam, hyperparam_dtype=jnp.float32)(
            learning_rate=base, **adamw)
        if warmup > 0:  # lr_t (g + wd p) = min(t / warmup, 1) * (lr (g + wd p))
            tx = optax.chain(tx, optax.scale_by_schedule(ramp))
    else:
        tx = adam((lambda count: ramp(count, base)) if warmup > 0 else base, **adamw)
    filtered, projected = filters_in(ocfg, axes)
    before = []
    if filtered:
        before.append(grokfast(ocfg.grokfast_lamb, ocfg.grokfast_alpha, ocfg.grokfast_window,
                               ocfg.grad_filter, with_ma=ocfg.grad_filter == "ma" or (
                                   "grad_filter" in set(axes))))
    if projected:
        before.append(orthogonal(bool(ocfg.orthogonal)))
    if before:
        tx = optax.chain(*before, tx)
    if ocfg.constrain_norm:  # (validation refuses it together with frozen groups)
        tx = optax.chain(tx, hold_norm())
    return tx if frozen is None else optax.chain(tx, freeze(frozen))


def set_hyperparams(opt_state: Any, values: dict[str, jax.Array]) -> Any:
    """The optimiser state with these injected hyperparameters ('learning_rate',
    'weight_decay'; Grokfast's and the projection's) replaced; see make_optimizer(traced=True).
    Each injected state takes the values it holds."""
    def injected(s):
        return hasattr(s, "hyperparams") and hasattr(s, "_replace")

    def fix(s):
        if not injected(s):
            return s
        return s._replace(hyperparams={**s.hyperparams, **{
            k: jnp.asarray(v, s.hyperparams[k].dtype) for k, v in values.items()
            if k in s.hyperparams}})

    return jax.tree.map(fix, opt_state, is_leaf=injected)
