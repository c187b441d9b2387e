"""The differentiation API: jvp, linearize, vjp, grad, value_and_grad.

Reverse mode is JAX's design, on tracejit's IR: trace the function, build its
jvp IR, partially evaluate it with the tangents unknown (the known part is the
primal computation plus residuals, the unknown part is linear in the
tangents), evaluate the known part now, and transpose the linear part when a
cotangent arrives. Every step is an IR -> IR function, and the results are
evaluated in the caller's context, so all transforms compose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tracejit import dtypes
from tracejit.interpret import eval_ir
from tracejit.ir import Aval, ClosedIR
from tracejit.passes.dce import dce
from tracejit.primitives._rules import zeros_like_aval
from tracejit.tracing import aval_of
from tracejit.transforms import memo
from tracejit.transforms._util import (
    check_leaves,
    flatten_args,
    float0_zeros,
    fun_name,
    normalize_argnums,
    to_output,
    trace_pytree,
    tree_util,
)
from tracejit.transforms.jvp import differentiable, jvp_eval, jvp_ir
from tracejit.transforms.partial_eval import partial_eval
from tracejit.transforms.transpose import transpose_ir


def _split_aux(out_tree: Any, has_aux: bool, what: str) -> tuple[Any, Any, int]:
    """(tree of the differentiated output, tree of aux, number of output leaves)."""
    if not has_aux:
        return out_tree, None, out_tree.num_leaves
    children = tree_util.treedef_children(out_tree) if out_tree.num_nodes > 1 else []
    if out_tree.node_data() is None or out_tree.node_data()[0] not in (tuple, list) or len(
        children
    ) != 2:
        raise TypeError(
            f"{what} with has_aux=True requires the function to return a pair "
            f"(output, aux), got a value with structure {out_tree}"
        )
    return children[0], children[1], children[0].num_leaves


def _zero_tangent(aval) -> Any:
    if differentiable(aval):
        return zeros_like_aval(aval)
    return float0_zeros(aval)


# --- jvp ---------------------------------------------------------------------------


def jvp(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False):
    """Forward-mode Jacobian-vector product.

    Args:
      fun: function of the primals returning a pytree of arrays (or
        ``(output, aux)`` with ``has_aux``).
      primals: tuple of arguments.
      tangents: tuple of tangents with the primals' structure, shapes and dtypes.

    Returns:
      ``(primal_out, tangent_out)`` or ``(primal_out, tangent_out, aux)``.

    Example:
      >>> tj.jvp(tnp.sin, (1.0,), (1.0,))  # (sin 1, cos 1)
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(
            "jvp: primals and tangents must be tuples or lists, got "
            f"{type(primals).__name__} and {type(tangents).__name__}"
        )
    flat_p, in_tree = flatten_args("jvp primals", primals)
    flat_t, t_tree = flatten_args("jvp tangents", tangents)
    if t_tree != in_tree:
        raise ValueError(
            f"jvp: tangents have structure {t_tree} but primals have structure {in_tree}"
        )
    for p, t in zip(flat_p, flat_t):
        pa, ta = aval_of(p), aval_of(t)
        if differentiable(pa) and pa.shape != ta.shape:
            raise ValueError(f"jvp: tangent {ta} does not match the shape of its primal {pa}")
    cir, out_tree = trace_pytree(lambda *a: fun(*a), flat_p, in_tree, kind="jvp")
    ts = [t if differentiable(aval_of(p)) else None for p, t in zip(flat_p, flat_t)]
    ts = [_as_dtype(t, aval_of(p)) if t is not None else None for p, t in zip(flat_p, ts)]
    outs, t_outs = jvp_eval(cir, flat_p, ts)
    main_tree, aux_tree, n = _split_aux(out_tree, has_aux, "jvp")
    t_outs = [
        _zero_tangent(a) if t is None else t for t, a in zip(t_outs[:n], cir.out_avals[:n])
    ]
    out = tree_util.tree_unflatten(main_tree, outs[:n])
    t_out = tree_util.tree_unflatten(main_tree, t_outs)
    if has_aux:
        return to_output((out, t_out, tree_util.tree_unflatten(aux_tree, outs[n:])))
    return to_output((out, t_out))


def _as_dtype(t: Any, aval: Aval) -> Any:
    """A tangent / cotangent ``t`` given by the user as ``aval``'s dtype (weakly typed,
    like the tangent JAX builds, when ``aval`` is)."""
    from tracejit.primitives.elementwise import convert_element_type

    if aval_of(t).dtype == aval.dtype and not isinstance(t, (int, float)):
        return t
    return convert_element_type(t, aval.dtype, aval.weak_type)


# --- linearize ----------------------------------------------------------------------


class _LinearPlan:
    """The IR work of linearizing one traced program, independent of the values of
    its constants (so it is memoised by the program's structure, see ``memo``):
    the known IR ``(consts..., primals...) -> (known outputs..., residuals...)``,
    the linear IR ``(residuals..., tangents...) -> tangents``, and its transpose
    (built on the first vjp)."""

    def __init__(self, cir: ClosedIR, nonzeros: list[bool], n: int, need_outs: bool):
        n_const = len(cir.consts)
        jcir, out_nz = jvp_ir(memo.opened(cir), [False] * n_const + nonzeros)
        n_all = len(cir.out_avals)
        # Tangents of aux outputs are not wanted: drop them before splitting.
        tangent_used = [i < n for i, nz in enumerate(out_nz) if nz]
        jcir = dce(jcir, [True] * n_all + tangent_used)
        self.n_all = n_all
        self.out_nz = [nz and i < n for i, nz in enumerate(out_nz)][:n]
        n_in = n_const + len(cir.in_avals)
        pe = partial_eval(jcir, [False] * n_in + [True] * sum(nonzeros))
        known = pe.known
        if not need_outs:
            # grad needs the residuals (and aux), not the primal output itself.
            known = dce(known, [i >= n for i in range(len(known.outvars))])
        self.known = known
        self.num_res = pe.num_res
        # Outputs of jcir, in order: primal outs, then the wanted nonzero tangents.
        assert not any(pe.out_unknowns[:n_all]), "primal outputs cannot depend on tangents"
        self.tangent_unknown = pe.out_unknowns[n_all:]
        self.linear_ir = pe.unknown
        self.n_lin = sum(nonzeros)
        self._ct_ir: ClosedIR | None = None

    def ct_ir(self) -> ClosedIR:
        if self._ct_ir is None:
            linear = [False] * self.num_res + [True] * self.n_lin
            self._ct_ir = transpose_ir(self.linear_ir, linear)
        return self._ct_ir


class _Linearized:
    """The result of differentiating a traced function once: evaluated primal
    outputs, residuals, and the linear IR mapping input tangents to output
    tangents (from which the transpose is built on demand)."""

    def __init__(self, fun: Callable, flat_p: list, in_tree: Any, what: str, has_aux: bool,
                 nonzeros: Sequence[bool] | None = None, need_outs: bool = True):
        cir, out_tree = trace_pytree(fun, flat_p, in_tree, kind=what)
        self.main_tree, self.aux_tree, n = _split_aux(out_tree, has_aux, what)
        self.in_avals = list(cir.in_avals)
        self.out_avals = list(cir.out_avals[:n])
        if nonzeros is None:
            nonzeros = [differentiable(a) for a in self.in_avals]
        self.nonzeros = list(nonzeros)
        self.plan = plan = memo.memoized(
            "linearize", cir, (tuple(self.nonzeros), n, need_outs),
            lambda: _LinearPlan(cir, self.nonzeros, n, need_outs))
        known_outs = eval_ir(plan.known, [*cir.consts, *flat_p])
        if not need_outs:
            known_outs = [None] * n + known_outs
        self.residuals = known_outs[len(known_outs) - plan.num_res:]
        known_vals = iter(known_outs[: len(known_outs) - plan.num_res])
        self.primal_outs = [next(known_vals) for _ in range(plan.n_all)]
        self.known_tangents = [next(known_vals) for u in plan.tangent_unknown if not u]

    @property
    def outs(self) -> list:
        return self.primal_outs[: len(self.out_avals)]

    @property
    def aux(self) -> list:
        return self.primal_outs[len(self.out_avals):]

    def jvp(self, flat_tangents: Sequence[Any]) -> list:
        ts = [t for t, nz in zip(flat_tangents, self.nonzeros) if nz]
        lin_outs = iter(eval_ir(ClosedIR(self.plan.linear_ir, ()), [*self.residuals, *ts]))
        known = iter(self.known_tangents)
        unknown_flags = iter(self.plan.tangent_unknown)
        result = []
        for nz, aval in zip(self.plan.out_nz, self.out_avals):
            if not nz:
                result.append(_zero_tangent(aval))
            else:
                result.append(next(lin_outs) if next(unknown_flags) else next(known))
        return result

    def vjp(self, flat_cts: Sequence[Any]) -> list:
        unknown_flags = iter(self.plan.tangent_unknown)
        cts = [ct for ct, nz in zip(flat_cts, self.plan.out_nz) if nz and next(unknown_flags)]
        cts_in = iter(eval_ir(self.plan.ct_ir(), [*self.residuals, *cts]))
        return [
            next(cts_in) if nz else float0_zeros(a) if not differentiable(a) else
            zeros_like_aval(a)
            for nz, a in zip(self.nonzeros, self.in_avals)
        ]


def linearize(fun: Callable, *primals: Any):
    """Evaluate ``fun`` and return its linearization at ``primals``.

    Returns ``(out, jvp_fn)``; ``jvp_fn(*tangents)`` evaluates only the
    linear part (the primal computation is not repeated).
    """
    flat_p, in_tree = flatten_args("linearize", primals)
    lin = _Linearized(lambda *a: fun(*a), flat_p, in_tree, "linearize", has_aux=False)

    def jvp_fn(*tangents: Any) -> Any:
        flat_t, t_tree = flatten_args("linearize jvp_fn", tangents)
        if t_tree != in_tree:
            raise ValueError(
                f"linearize: jvp_fn expects tangents with structure {in_tree}, got {t_tree}"
            )
        return to_output(tree_util.tree_unflatten(lin.main_tree, lin.jvp(flat_t)))

    return to_output(tree_util.tree_unflatten(lin.main_tree, lin.outs)), jvp_fn


# --- vjp / grad ---------------------------------------------------------------------------


def vjp(fun: Callable, *primals: Any, has_aux: bool = False):
    """Reverse-mode vector-Jacobian product.

    Returns ``(out, vjp_fn)`` (plus ``aux`` with ``has_aux``);
    ``vjp_fn(cotangent)`` returns a tuple with one cotangent per primal.
    """
    flat_p, in_tree = flatten_args("vjp", primals)
    lin = _Linearized(lambda *a: fun(*a), flat_p, in_tree, "vjp", has_aux)
    out = tree_util.tree_unflatten(lin.main_tree, lin.outs)

    def vjp_fn(ct: Any) -> tuple:
        flat_ct, ct_tree = tree_util.tree_flatten(ct)
        if ct_tree != lin.main_tree:
            raise ValueError(
                f"vjp_fn: cotangent has structure {ct_tree} but the output has {lin.main_tree}"
            )
        check_leaves("vjp_fn cotangent", ct)
        for c, a in zip(flat_ct, lin.out_avals):
            if aval_of(c).shape != a.shape:
                raise ValueError(
                    f"vjp_fn: cotangent {aval_of(c)} does not match the output's shape {a}"
                )
        flat_ct = [_as_dtype(c, a) if differentiable(a) else c
                   for c, a in zip(flat_ct, lin.out_avals)]
        return to_output(tuple(tree_util.tree_unflatten(in_tree, lin.vjp(flat_ct))))

    out = to_output(out)
    if has_aux:
        return out, vjp_fn, to_output(tree_util.tree_unflatten(lin.aux_tree, lin.aux))
    return out, vjp_fn


def _grad_core(fun: Callable, argnums: int | Sequence[int], has_aux: bool, what: str,
               need_value: bool = True):
    def value_and_grad_f(*args: Any, **kwargs: Any):
        nums = normalize_argnums(argnums, len(args), what)
        for i in nums:
            check_leaves(f"{what} of {fun_name(fun)} (argument {i})", args[i])
            for leaf in tree_util.tree_leaves(args[i]):
                aval = aval_of(leaf)
                if not dtypes.is_inexact(aval.dtype):
                    raise TypeError(
                        f"{what}: argument {i} of {fun_name(fun)} has dtype {aval.dtype} "
                        f"({aval}); differentiation needs floating-point inputs. Cast it "
                        "with .astype(tnp.float32), or leave it out of argnums."
                    )

        def partial(*diff_args):
            full = list(args)
            for i, a in zip(nums, diff_args):
                full[i] = a
            return fun(*full, **kwargs)

        flat_p, in_tree = flatten_args(what, [args[i] for i in nums])
        lin = _Linearized(partial, flat_p, in_tree, what, has_aux, need_outs=need_value)
        if lin.main_tree.num_leaves != 1 or lin.main_tree != tree_util.tree_structure(0):
            raise TypeError(
                f"{what} requires {fun_name(fun)} to return a scalar, got a value with "
                f"structure {lin.main_tree} (use jacrev / vjp for non-scalar outputs)"
            )
        out_aval = lin.out_avals[0]
        if out_aval.shape != () or not dtypes.is_float(out_aval.dtype):
            raise TypeError(
                f"{what} requires {fun_name(fun)} to return a real scalar, got {out_aval} "
                "(shape " + str(out_aval.shape) + "); reduce it first (e.g. .sum()) or use "
                "jacrev / vjp for non-scalar outputs"
            )
        # The seed has the output's type: weak when the output is (JAX's ones_like).
        ct = 1.0 if out_aval.weak_type else np.ones((), out_aval.dtype)[()]
        flat_g = lin.vjp([ct])
        grads = tree_util.tree_unflatten(in_tree, flat_g)
        g = grads[0] if isinstance(argnums, int) else tuple(grads)
        value = lin.outs[0]
        if has_aux:
            return to_output(((value, tree_util.tree_unflatten(lin.aux_tree, lin.aux)), g))
        return to_output((value, g))

    return value_and_grad_f


def value_and_grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False):
    """``fun``'s value and gradient with respect to ``argnums``.

    Returns a function giving ``(value, grad)`` or ``((value, aux), grad)``.
    """
    f = _grad_core(fun, argnums, has_aux, "value_and_grad")
    f.__name__ = f"value_and_grad({fun_name(fun)})"
    return f


def grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False):
    """The gradient of a real-scalar-valued ``fun`` with respect to ``argnums``.

    Example:
      >>> tj.grad(tj.grad(tnp.sin))(1.0)  # -sin(1)
    """
    core = _grad_core(fun, argnums, has_aux, "grad", need_value=False)

    def grad_f(*args: Any, **kwargs: Any):
        value, g = core(*args, **kwargs)
        if has_aux:
            return g, value[1]
        return g

    grad_f.__name__ = f"grad({fun_name(fun)})"
    return grad_f
