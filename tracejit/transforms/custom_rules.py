"""The primitives behind ``custom_jvp`` and ``custom_vjp``.

Operands are ``(*consts, *args)``: ``consts`` are the values the function
closes over (closure conversion, ``num_consts`` of them), ``args`` the leaves
of its array arguments; ``diff`` marks the leaves that are differentiated
(float leaves of arguments not in ``nondiff_argnums``). ``call`` is the
function's const-free IR. The user's rules are held as ``LazyIR``s, traced
when a derivative is first asked for (a rule may call the function itself,
as in JAX, so it cannot be traced when the function is):

- ``custom_jvp_call``: ``jvp`` is the rule ``(args, tangents of diff args) ->
  (outs, tangents of float outs)``; the primitive's jvp rule evaluates it.
- ``custom_vjp_call``: ``fwd`` is ``args -> (outs, residuals)`` and ``bwd``
  ``(residuals, cotangents of float outs) -> cotangents of diff args``. The
  jvp rule evaluates ``fwd`` and binds ``custom_lin``, linear in the tangents,
  whose transpose evaluates ``bwd``. Reverse mode (jvp, partial evaluation
  with the tangents unknown, transposition) thus runs ``fwd`` on the known
  side, keeps its residuals, and runs ``bwd`` in the backward pass, both as
  ordinary equations that outer transforms differentiate again (grad of grad
  works as far as ``bwd`` is differentiable). As in JAX, forward mode through
  a custom_vjp function is an error.

Batching batches ``call`` now and the rules when they are traced, so the
functions stay custom under ``vmap`` (``grad(vmap(f))`` uses the user's rules).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tracejit.errors import TracerLeakError
from tracejit.interpret import eval_ir, lower_ir
from tracejit.ir import Aval, ClosedIR
from tracejit.primitive import Primitive, register
from tracejit.primitives._rules import batch_size, instantiate, move_bdim
from tracejit.primitives.control_flow import batch_nested, close_over
from tracejit.primitives.reductions import reduce_sum
from tracejit.tracing import Tracer, trace_flat
from tracejit.transforms.jvp import differentiable, tangent_aval


class LazyIR:
    """A nested IR traced on first use; ``make()`` returns ``(ClosedIR, info)``.

    The result is cached unless the IR closed over traced values (those belong
    to the trace that was current when it was made).
    """

    def __init__(self, make: Callable[[], tuple[ClosedIR, Any]], name: str, what: str):
        self._make = make
        self._cached: tuple[ClosedIR, Any] | None = None
        self.__name__ = f"<{what} of {name}>"
        self.what, self.name = what, name

    def __call__(self) -> tuple[ClosedIR, Any]:
        if self._cached is not None:
            return self._cached
        try:
            result = self._make()
        except TracerLeakError as e:
            raise TracerLeakError(
                f"the {self.what} of {self.name} closes over a traced value of a transform "
                "that has already finished (for example a value being differentiated). Pass "
                f"that value to {self.name} as an argument instead (listed in nondiff_argnums "
                "if it must not be differentiated)."
            ) from e
        if not any(isinstance(c, Tracer) for c in result[0].consts):
            self._cached = result
        return result

    def __repr__(self) -> str:
        return self.__name__


def _closure_error(kind: str, name: str) -> TypeError:
    return TypeError(
        f"{kind} function {name} closes over a value that is being differentiated, so "
        f"its custom rule cannot account for it. Pass that value to {name} as an argument."
    )


def _out_avals(*avals: Aval, call: ClosedIR, **params: Any) -> list[Aval]:
    return list(call.out_avals)


def _lower_call(*args: Any, call: ClosedIR, **params: Any) -> list:
    return lower_ir(call.ir, call.consts, args)


def _to_front(args: Sequence[Any], dims: Sequence[int | None]) -> tuple[list, list]:
    """Batched operands with their batch axis moved to 0."""
    args = [x if d is None else move_bdim(x, d, 0) for x, d in zip(args, dims)]
    return args, [None if d is None else 0 for d in dims]


def _batch_rule_ir(
    kind: str, name: str, what: str, cir: ClosedIR, size: int, dims: list, force: list[bool]
) -> tuple[ClosedIR, list[bool]]:
    """Batch a rule's IR with its first ``len(force)`` outputs batched exactly where
    ``force`` says (where the function's own outputs are batched)."""
    n = len(force)
    bcir, out_b = batch_nested(cir, size, dims, [*force, *[False] * (len(cir.out_avals) - n)])
    if out_b[:n] != list(force):
        raise ValueError(
            f"vmap of {kind} function {name}: its {what} returns an output that depends on "
            "the mapped inputs where the function's own output does not; the rule must "
            "compute the same outputs as the function"
        )
    return bcir, out_b


# --- custom_jvp_call --------------------------------------------------------------------


def _custom_jvp_call_jvp(primals, tangents, *, call, jvp, num_consts, diff, name):
    k = num_consts
    if any(t is not None for t in tangents[:k]):
        raise _closure_error("custom_jvp", name)
    args = primals[k:]
    if not any(t is not None for t, d in zip(tangents[k:], diff) if d):
        outs = custom_jvp_call_p.bind(
            *primals, call=call, jvp=jvp, num_consts=k, diff=diff, name=name
        )
        return outs, [None] * len(outs)
    # The user's rule sees a materialised tangent for every differentiated argument.
    avals = call.in_avals[k:]
    ts = [instantiate(t, tangent_aval(a)) for t, a, d in zip(tangents[k:], avals, diff) if d]
    rule, _ = jvp()
    outs = eval_ir(rule, [*args, *ts])
    n_out = len(call.out_avals)
    rule_ts = iter(outs[n_out:])
    return outs[:n_out], [next(rule_ts) if differentiable(a) else None for a in call.out_avals]


def _custom_jvp_call_batch(args, dims, *, call, jvp, num_consts, diff, name):
    size = batch_size(args, dims)
    args, dims = _to_front(args, dims)
    n_out = len(call.out_avals)
    call_b, out_b = batch_nested(call, size, dims, [False] * n_out)
    arg_dims = dims[num_consts:]
    t_dims = [d for d, df in zip(arg_dims, diff) if df]
    t_force = [b for b, a in zip(out_b, call.out_avals) if differentiable(a)]

    def make():
        rule, _ = jvp()
        # Outputs and their tangents are batched exactly where the function's outputs are.
        bcir, _ = _batch_rule_ir(
            "custom_jvp", name, "jvp rule", rule, size, [*arg_dims, *t_dims], [*out_b, *t_force]
        )
        return bcir, None

    (call_b,), consts = close_over([call_b])
    outs = custom_jvp_call_p.bind(
        *consts,
        *args,
        call=call_b,
        jvp=LazyIR(make, name, "batched jvp rule"),
        num_consts=len(consts) + num_consts,
        diff=diff,
        name=name,
    )
    return outs, [0 if b else None for b in out_b]


custom_jvp_call_p = register(
    Primitive(
        "custom_jvp_call",
        abstract_eval=_out_avals,
        lower=_lower_call,
        jvp=_custom_jvp_call_jvp,
        batch=_custom_jvp_call_batch,
        multiple_results=True,
    )
)


# --- custom_vjp_call and custom_lin ------------------------------------------------------


def _custom_vjp_call_jvp(primals, tangents, *, call, fwd, bwd, num_consts, diff, name):
    k = num_consts
    if any(t is not None for t in tangents[:k]):
        raise _closure_error("custom_vjp", name)
    ts = [t for t, d in zip(tangents[k:], diff) if d]
    out_avals = tuple(tangent_aval(a) for a in call.out_avals if differentiable(a))
    if not out_avals or all(t is None for t in ts):
        outs = custom_vjp_call_p.bind(
            *primals, call=call, fwd=fwd, bwd=bwd, num_consts=k, diff=diff, name=name
        )
        return outs, [None] * len(outs)
    n_out = len(call.out_avals)
    fwd_ir, _ = fwd()
    outs_res = eval_ir(fwd_ir, primals[k:])
    outs, res = outs_res[:n_out], outs_res[n_out:]
    t_outs = iter(
        custom_lin_p.bind(
            *res,
            *[t for t in ts if t is not None],
            bwd=bwd,
            num_res=len(res),
            nonzeros=tuple(t is not None for t in ts),
            out_avals=out_avals,
            name=name,
        )
    )
    return outs, [next(t_outs) if differentiable(a) else None for a in call.out_avals]


def _custom_vjp_call_batch(args, dims, *, call, fwd, bwd, num_consts, diff, name):
    size = batch_size(args, dims)
    args, dims = _to_front(args, dims)
    n_out = len(call.out_avals)
    call_b, out_b = batch_nested(call, size, dims, [False] * n_out)
    arg_dims = dims[num_consts:]

    def make_fwd():
        fwd_ir, _ = fwd()
        bcir, fb = _batch_rule_ir("custom_vjp", name, "fwd", fwd_ir, size, arg_dims, out_b)
        return bcir, [0 if b else None for b in fb[n_out:]]

    fwd_b = LazyIR(make_fwd, name, "batched fwd")

    def make_bwd():
        bwd_ir, _ = bwd()
        _, res_dims = fwd_b()
        ct_dims = [0 if b else None for b, a in zip(out_b, call.out_avals) if differentiable(a)]
        in_dims = [d for d, df in zip(arg_dims, diff) if df]
        return _batch_bwd(bwd_ir, size, [*res_dims, *ct_dims], in_dims), None

    (call_b,), consts = close_over([call_b])
    outs = custom_vjp_call_p.bind(
        *consts,
        *args,
        call=call_b,
        fwd=fwd_b,
        bwd=LazyIR(make_bwd, name, "batched bwd"),
        num_consts=len(consts) + num_consts,
        diff=diff,
        name=name,
    )
    return outs, [0 if b else None for b in out_b]


def _batch_bwd(bwd: ClosedIR, size: int, dims: list, in_dims: list) -> ClosedIR:
    """Batched ``bwd``: the cotangent of a batched argument is batched at 0; that of an
    unbatched argument (shared by the whole batch) is the sum over the batch."""
    in_batched = [d is not None for d in in_dims]
    bcir, ct_b = batch_nested(bwd, size, dims, in_batched)
    if ct_b == in_batched:
        return bcir

    def summed(*xs):
        cts = eval_ir(bcir, xs)
        return [
            reduce_sum(c, (0,)) if b and not want else c
            for c, b, want in zip(cts, ct_b, in_batched)
        ]

    return trace_flat(summed, bcir.in_avals, kind="vmap")


custom_vjp_call_p = register(
    Primitive(
        "custom_vjp_call",
        abstract_eval=_out_avals,
        lower=_lower_call,
        jvp=_custom_vjp_call_jvp,
        batch=_custom_vjp_call_batch,
        multiple_results=True,
    )
)


def _forward_mode_error(name: str) -> TypeError:
    return TypeError(
        f"can't apply forward-mode autodiff (jvp, jacfwd, linearize) to the custom_vjp "
        f"function {name}: its derivative is only defined by a bwd rule. Use reverse mode "
        "(grad, vjp, jacrev), or define the function with custom_jvp."
    )


def _custom_lin_lower(*args, name, **params):
    raise _forward_mode_error(name)


def _custom_lin_jvp(primals, tangents, *, name, **params):
    raise _forward_mode_error(name)


def _custom_lin_batch(args, dims, *, name, **params):
    raise _forward_mode_error(name)


def _custom_lin_transpose(cts, *args, bwd, num_res, nonzeros, out_avals, name):
    # custom_lin is t -> J t for the J whose transpose bwd computes: ct -> J^T ct.
    bwd_ir, _ = bwd()
    cts = [instantiate(ct, a) for ct, a in zip(cts, out_avals)]
    cts_in = eval_ir(bwd_ir, [*args[:num_res], *cts])
    return [None] * num_res + [ct for ct, nz in zip(cts_in, nonzeros) if nz]


custom_lin_p = register(
    Primitive(
        "custom_lin",
        abstract_eval=lambda *avals, out_avals, **params: list(out_avals),
        lower=_custom_lin_lower,
        jvp=_custom_lin_jvp,
        transpose=_custom_lin_transpose,
        batch=_custom_lin_batch,
        multiple_results=True,
    )
)
