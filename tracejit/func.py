"""tracejit.func: tracejit's transforms under torch.func's spellings.

Code written for functorch / torch.func ports by renaming the import::

    from tracejit import func
    per_sample_grads = func.vmap(func.grad(loss), in_dims=(None, 0, 0))(w, xs, ys)

The transforms are the same objects as the top-level ones (``tj.grad`` is
``func.grad``); only the names and keyword spellings differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tracejit.transforms.ad import grad, jvp, linearize, value_and_grad, vjp
from tracejit.transforms.ensemble import stack_params
from tracejit.transforms.jacobians import hessian, jacrev
from tracejit.transforms.jacobians import jacfwd as _jacfwd
from tracejit.transforms.vmap import vmap as _vmap

__all__ = [
    "grad",
    "grad_and_value",
    "vjp",
    "jvp",
    "linearize",
    "vmap",
    "jacrev",
    "jacfwd",
    "hessian",
    "stack_module_state",
]

_RANDOMNESS = ("error", "different", "same")


def grad_and_value(
    func: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable:
    """``func``'s gradient and value, in torch's order: ``(grad, value)``.

    With ``has_aux`` the result is ``(grad, (value, aux))``.
    """
    value_and_grad_f = value_and_grad(func, argnums, has_aux)

    def grad_and_value_f(*args: Any, **kwargs: Any) -> tuple:
        value, g = value_and_grad_f(*args, **kwargs)
        return g, value

    grad_and_value_f.__name__ = f"grad_and_value({getattr(func, '__name__', 'func')})"
    return grad_and_value_f


def _check_randomness(what: str, randomness: str) -> None:
    if randomness not in _RANDOMNESS:
        raise ValueError(
            f"{what}: randomness must be one of {', '.join(map(repr, _RANDOMNESS))}, "
            f"got {randomness!r}"
        )


def jacfwd(
    func: Callable,
    argnums: int | Sequence[int] = 0,
    has_aux: bool = False,
    *,
    randomness: str = "error",
) -> Callable:
    """torch.func.jacfwd: ``tj.jacfwd`` (``randomness`` as in ``vmap``)."""
    _check_randomness("jacfwd", randomness)
    return _jacfwd(func, argnums, has_aux)


def vmap(
    func: Callable,
    in_dims: Any = 0,
    out_dims: Any = 0,
    randomness: str = "error",
    *,
    chunk_size: int | None = None,
) -> Callable:
    """torch.func.vmap: ``tj.vmap(func, in_axes=in_dims, out_axes=out_dims, chunk_size=...)``.

    ``randomness`` is accepted for compatibility: tracejit's random numbers come
    from explicit keys, so a batched key gives each member its own stream and an
    unbatched key the same one, whatever this says.

    Raises:
      ValueError: for a ``randomness`` other than 'error', 'different' or 'same'.
    """
    _check_randomness("vmap", randomness)
    return _vmap(func, in_axes=in_dims, out_axes=out_dims, chunk_size=chunk_size)


def stack_module_state(models: Sequence[Any]) -> tuple[Any, dict]:
    """torch.func.stack_module_state for parameter pytrees: ``(stacked params, {})``.

    tracejit models are functions of plain parameter pytrees and have no
    buffers, so the second entry (torch's buffers) is always empty.
    """
    return stack_params(models), {}
