"""checkpoint (remat): trade memory for compute in reverse mode.

``checkpoint(fun)`` binds one ``checkpoint`` primitive whose ``body`` is
``fun``'s const-free IR. Its rules keep the body whole through every
transform:

- jvp: a checkpoint of the body's jvp IR;
- partial evaluation (the split reverse mode makes): the known side is a
  checkpoint computing the known outputs; the unknown side is a checkpoint of
  the *whole* body reduced to the unknown outputs, so it reads only the
  checkpoint's inputs — they are the only residuals, no intermediate of
  ``fun`` is stored;
- transpose: a checkpoint whose body recomputes the forward values the
  linear part needs and then runs the backward pass;
- batching: a checkpoint of the batched body.

``prevent_cse`` (the default) lowers the body behind an XLA optimization
barrier, so XLA cannot merge the recomputation with the forward pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax

from tracejit.interpret import lower_ir
from tracejit.ir import Eqn
from tracejit.passes.dce import dce
from tracejit.primitive import Primitive, register
from tracejit.primitives._rules import batch_size, instantiate, is_undefined
from tracejit.primitives.control_flow import batch_nested, close_over, jvp_nested
from tracejit.tracing import aval_of, current_builder, source_of, trace_flat
from tracejit.transforms._util import check_leaves, fun_name, tree_util
from tracejit.transforms.partial_eval import partial_eval
from tracejit.transforms.transpose import backward_pass


def _checkpoint_lower(*args, body, prevent_cse, name):
    if prevent_cse and args:
        args = jax.lax.optimization_barrier(tuple(jax.numpy.asarray(a) for a in args))
    return lower_ir(body.ir, body.consts, args)


def _bind(operands: Sequence[Any], body, prevent_cse: bool, name: str) -> list:
    (body,), consts = close_over([body])
    return checkpoint_p.bind(*consts, *operands, body=body, prevent_cse=prevent_cse, name=name)


def _checkpoint_jvp(primals, tangents, *, body, prevent_cse, name):
    nonzeros = [t is not None for t in tangents]
    n_out = len(body.out_avals)
    jbody, out_nz = jvp_nested(body, nonzeros, [False] * n_out)
    outs = _bind([*primals, *[t for t in tangents if t is not None]], jbody, prevent_cse, name)
    t_outs = iter(outs[n_out:])
    return outs[:n_out], [next(t_outs) if nz else None for nz in out_nz]


def _checkpoint_partial_eval(eqn: Eqn, unknowns: list[bool]):
    body = eqn.params["body"]
    pe = partial_eval(body, unknowns)
    out_unknowns = pe.out_unknowns
    n_known = len(out_unknowns) - sum(out_unknowns)
    known_eqns = []
    if n_known:
        # Only the known outputs: the body's residuals are not kept, they are recomputed.
        known_body = dce(pe.known, [True] * n_known + [False] * pe.num_res)
        known_eqns.append(
            Eqn(
                checkpoint_p,
                tuple(a for a, u in zip(eqn.invars, unknowns) if not u),
                tuple(v for v, u in zip(eqn.outvars, out_unknowns) if not u),
                {**eqn.params, "body": known_body},
                eqn.source,
            )
        )
    unknown_eqn = Eqn(
        checkpoint_p,
        eqn.invars,
        tuple(v for v, u in zip(eqn.outvars, out_unknowns) if u),
        {**eqn.params, "body": dce(body, out_unknowns)},
        eqn.source,
    )
    return known_eqns, [unknown_eqn], out_unknowns


def _checkpoint_transpose(cts, *args, body, prevent_cse, name):
    linear = [is_undefined(a) for a in args]
    used = [ct is not None for ct in cts]
    ir = dce(body, used).ir
    nonlin = [a for a, lin in zip(args, linear) if not lin]
    lin_avals = [a.aval for a in args if is_undefined(a)]
    live_cts = [ct for ct in cts if ct is not None]

    def transposed(*xs):
        # Forward equations of the body (those reading no linear input) are
        # re-evaluated here: this is the recomputation.
        it = iter(xs[: len(nonlin)])
        full = [None if lin else next(it) for lin in linear]
        cts_in = backward_pass(ir, linear, full, xs[len(nonlin) :])
        return [instantiate(c, a) for c, a in zip(cts_in, lin_avals)]

    avals = [aval_of(x) for x in (*nonlin, *live_cts)]
    tbody = trace_flat(transposed, avals, kind="transpose")
    cts_in = iter(_bind([*nonlin, *live_cts], tbody, prevent_cse, name))
    return [next(cts_in) if lin else None for lin in linear]


def _checkpoint_batch(args, dims, *, body, prevent_cse, name):
    size = batch_size(args, dims)
    n_out = len(body.out_avals)
    bbody, out_b = batch_nested(body, size, dims, [False] * n_out)
    outs = _bind(args, bbody, prevent_cse, name)
    return outs, [0 if b else None for b in out_b]


checkpoint_p = register(
    Primitive(
        "checkpoint",
        abstract_eval=lambda *avals, body, **params: list(body.out_avals),
        lower=_checkpoint_lower,
        jvp=_checkpoint_jvp,
        transpose=_checkpoint_transpose,
        batch=_checkpoint_batch,
        partial_eval=_checkpoint_partial_eval,
        multiple_results=True,
    )
)


def checkpoint(
    fun: Callable, *, prevent_cse: bool = True, static_argnums: int | Sequence[int] = ()
) -> Callable:
    """``fun``, with its intermediates recomputed in the backward pass instead of stored.

    Values and derivatives are ``fun``'s; reverse mode keeps only the inputs
    of ``fun`` as residuals. Called with no transform, ``fun`` just runs.

    Args:
      fun: function of pytrees of arrays.
      prevent_cse: keep XLA from merging the recomputation with the forward
        computation (JAX's default).
      static_argnums: positional arguments that are Python values, not arrays.

    Example:
      >>> tj.grad(tj.checkpoint(lambda x: tnp.sin(tnp.sin(x))))(1.0)
    """
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    name = fun_name(fun)

    @functools.wraps(fun)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_builder() is None:
            return fun(*args, **kwargs)
        n = len(args)
        static_set = {i % n for i in static if -n <= i < n}
        dyn = [a for i, a in enumerate(args) if i not in static_set]
        check_leaves(f"checkpoint of {name}", (dyn, kwargs))
        leaves, in_tree = tree_util.tree_flatten((dyn, kwargs))
        out_box: list = []

        def body_flat(*xs):
            d_args, d_kwargs = tree_util.tree_unflatten(in_tree, xs)
            it = iter(d_args)
            full = [args[i] if i in static_set else next(it) for i in range(n)]
            out = fun(*full, **d_kwargs)
            check_leaves(f"output of checkpoint of {name}", out)
            flat_out, out_tree = tree_util.tree_flatten(out)
            out_box.append(out_tree)
            return flat_out

        body = trace_flat(
            body_flat,
            [aval_of(x) for x in leaves],
            kind=f"checkpoint of {name}",
            sources=[source_of(x) for x in leaves],
        )
        outs = _bind(leaves, body, prevent_cse, name)
        return tree_util.tree_unflatten(out_box[0], outs)

    return wrapped


remat = checkpoint
