"""custom_jvp and custom_vjp: functions with user-defined derivative rules.

JAX's semantics and spellings::

    @tj.custom_jvp
    def f(x):
        return tnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), tnp.cos(x) * t

Called with no transform, the function just runs. Under a transform (jit,
vmap, grad, ...) the function is traced in the current trace, the values it
closes over become operands (closure conversion), and one primitive holding
its IR and its (lazily traced) rules is bound: see
tracejit/transforms/custom_rules.py. As in JAX, a rule traced later must not
close over a traced value of a transform that has finished; pass such values
as arguments.

``nondiff_argnums`` marks arguments that are not differentiated (Python
values such as functions, or arrays, which are then treated as constants):
the jvp rule receives them first, ``jvp(*nondiff, primals, tangents)``;
``fwd`` receives every argument in order; ``bwd(*nondiff, residuals,
cotangent)``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from tracejit.ir import Aval
from tracejit.primitives._rules import zeros_like_aval
from tracejit.primitives.control_flow import close_over
from tracejit.tracing import Tracer, aval_of, current_builder, source_of, trace_flat
from tracejit.transforms._util import check_leaves, float0_zeros, fun_name, tree_util
from tracejit.transforms.custom_rules import LazyIR, custom_jvp_call_p, custom_vjp_call_p
from tracejit.transforms.jvp import differentiable, tangent_aval


class _Args:
    """A call's arguments split for tracing: the array leaves that become operands
    (differentiated arguments, and nondiff ones holding traced values) and the
    Python values kept as they are."""

    def __init__(self, args: tuple, nondiff_argnums: Sequence[int]):
        n = len(args)
        self.args = args
        self.nondiff = sorted({i % n for i in nondiff_argnums})
        self.dynamic = [
            i
            for i in range(n)
            if i not in self.nondiff
            or any(isinstance(x, Tracer) for x in tree_util.tree_leaves(args[i]))
        ]
        self.leaves, self.tree = tree_util.tree_flatten(tuple(args[i] for i in self.dynamic))
        self.avals = [aval_of(x) for x in self.leaves]
        diff: list[bool] = []
        self.nondiff_leaf: list[bool] = []  # leaves of nondiff arguments
        self.arg_trees: list = []  # per differentiated argument: its tree and leaf avals
        self.arg_avals: list[list[Aval]] = []
        start = 0
        for i, sub in zip(self.dynamic, self.tree.children()):
            avals = self.avals[start : start + sub.num_leaves]
            start += sub.num_leaves
            is_nondiff = i in self.nondiff
            # Differentiated leaves: the float leaves of arguments not in nondiff_argnums.
            diff += [differentiable(v) and not is_nondiff for v in avals]
            self.nondiff_leaf += [is_nondiff] * len(avals)
            if not is_nondiff:
                self.arg_trees.append(sub)
                self.arg_avals.append(avals)
        self.diff = tuple(diff)

    def full(self, leaves: Sequence[Any]) -> list:
        """Every positional argument, the dynamic ones rebuilt from ``leaves``."""
        dyn = dict(zip(self.dynamic, tree_util.tree_unflatten(self.tree, leaves)))
        return [dyn[i] if i in dyn else a for i, a in enumerate(self.args)]

    def split(self, leaves: Sequence[Any]) -> tuple[list, tuple]:
        """(nondiff argument values, differentiated arguments) for the user's rules."""
        full = self.full(leaves)
        nondiff = [full[i] for i in self.nondiff]
        return nondiff, tuple(a for i, a in enumerate(full) if i not in self.nondiff)

    def nondiff_values(self, nondiff_leaves: Sequence[Any]) -> list:
        """The nondiff argument values, given the leaves of the traced ones."""
        it = iter(nondiff_leaves)
        leaves = [next(it) if nd else None for nd in self.nondiff_leaf]
        return self.split(leaves)[0]


class _Custom:
    """What custom_jvp and custom_vjp share: argument handling and tracing."""

    kind = "custom"

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.name = fun_name(fun)

    def _prepare(self, args: tuple, kwargs: dict) -> _Args:
        if kwargs:
            try:
                bound = inspect.signature(self.fun).bind(*args, **kwargs)
            except (TypeError, ValueError) as e:
                raise TypeError(f"{self.kind} function {self.name}: {e}") from None
            bound.apply_defaults()
            if bound.kwargs:
                raise TypeError(
                    f"{self.kind} function {self.name} was called with keyword-only arguments "
                    f"{sorted(bound.kwargs)}; pass them positionally"
                )
            args = bound.args
        n = len(args)
        for i in self.nondiff_argnums:
            if not -n <= i < n:
                raise ValueError(
                    f"{self.kind} function {self.name}: nondiff_argnums={self.nondiff_argnums} "
                    f"is out of range for a call with {n} positional arguments"
                )
        a = _Args(tuple(args), self.nondiff_argnums)
        for i in a.dynamic:
            check_leaves(f"{self.kind} function {self.name} (argument {i})", args[i])
        return a

    def _trace_call(self, a: _Args):
        """The function's IR, closure-converted, its output tree and the consts."""
        out_box: list = []

        def call_flat(*xs):
            out = self.fun(*a.full(xs))
            check_leaves(f"output of {self.kind} function {self.name}", out)
            leaves, out_tree = tree_util.tree_flatten(out)
            out_box.append(out_tree)
            return leaves

        call = trace_flat(
            call_flat,
            a.avals,
            kind=f"{self.kind} function {self.name}",
            sources=[source_of(x) for x in a.leaves],
        )
        (call,), consts = close_over([call])
        return call, out_box[0], consts

    def _trace_rule(self, fun: Callable, avals: list[Aval], what: str):
        return trace_flat(fun, avals, kind=f"{what} of {self.kind} function {self.name}")

    def _check_outputs(self, what: str, out: Any, out_tree: Any, expected: Sequence[Aval]) -> list:
        check_leaves(f"{self.kind} function {self.name}: {what}", out)
        leaves, tree = tree_util.tree_flatten(out)
        if tree != out_tree:
            raise TypeError(
                f"{self.kind} function {self.name}: {what} must have the structure of the "
                f"function's output ({out_tree}), got {tree}"
            )
        for x, a in zip(leaves, expected):
            b = aval_of(x)
            if b.shape != a.shape or b.dtype != a.dtype:
                raise TypeError(
                    f"{self.kind} function {self.name}: {what} must match the function's "
                    f"output {a} in shape and dtype, got {b}"
                )
        return leaves

    def _tangents(self, what: str, tree: Any, value: Any, avals: Sequence[Aval]) -> list:
        """The float leaves of a tangent/cotangent shaped like ``tree`` (None = zero)."""
        from tracejit.primitives.elementwise import convert_element_type

        got = tree_util.tree_structure(value)
        with_nones = tree_util.tree_structure(value, is_leaf=lambda x: x is None)
        if value is not None and tree not in (got, with_nones):
            raise TypeError(
                f"{self.kind} function {self.name}: {what} must have the structure {tree} "
                f"(None for a zero), got {got}"
            )
        leaves = [None] * tree.num_leaves if value is None else tree.flatten_up_to(value)
        out = []
        for x, a in zip(leaves, avals):
            if not differentiable(a):
                continue
            if x is None:
                out.append(zeros_like_aval(tangent_aval(a)))
                continue
            check_leaves(f"{self.kind} function {self.name}: {what}", x)
            b = aval_of(x)
            if b.shape != a.shape or (b.dtype != a.dtype and not b.weak_type):
                raise TypeError(
                    f"{self.kind} function {self.name}: {what} is {b}, but its primal is "
                    f"{a}; they must have the same shape and dtype"
                )
            out.append(x if b.dtype == a.dtype else convert_element_type(x, a.dtype))
        return out


class custom_jvp(_Custom):
    """A function with a custom forward-mode derivative rule (JAX's ``custom_jvp``).

    Define the rule with ``@f.defjvp``: ``jvp(primals, tangents) -> (primal_out,
    tangent_out)`` (tuples of the arguments; ``nondiff_argnums`` values come
    first). Reverse mode transposes the rule's tangent part, which must be
    linear in the tangents. Works under jit, vmap and every differentiation
    transform, to any order the rule supports.

    Raises:
      AttributeError: when called before ``defjvp``.
    """

    kind = "custom_jvp"

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        super().__init__(fun, nondiff_argnums)
        self.jvp: Callable | None = None

    def defjvp(self, jvp: Callable) -> Callable:
        """Set the jvp rule; returns it, so this can be used as a decorator."""
        self.jvp = jvp
        return jvp

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.jvp is None:
            raise AttributeError(
                f"No JVP defined for custom_jvp function {self.name} using defjvp."
            )
        if current_builder() is None:
            return self.fun(*args, **kwargs)
        a = self._prepare(args, kwargs)
        call, out_tree, consts = self._trace_call(a)
        jvp = LazyIR(
            lambda: (self._trace_jvp(a, out_tree, call.out_avals), None), self.name, "jvp rule"
        )
        outs = custom_jvp_call_p.bind(
            *consts,
            *a.leaves,
            call=call,
            jvp=jvp,
            num_consts=len(consts),
            diff=a.diff,
            name=self.name,
        )
        return tree_util.tree_unflatten(out_tree, outs)

    def _trace_jvp(self, a: _Args, out_tree: Any, out_avals: Sequence[Aval]):
        """``(args, tangents of diff leaves) -> (outs, tangents of float outs)``."""
        n = len(a.avals)
        t_avals = [tangent_aval(v) for v, d in zip(a.avals, a.diff) if d]

        def jvp_flat(*xs):
            nondiff, primals = a.split(xs[:n])
            ts = iter(xs[n:])
            t_leaves = [next(ts) if d else float0_zeros(v) for v, d in zip(a.avals, a.diff)]
            _, tangents = a.split(t_leaves)
            result = self.jvp(*nondiff, primals, tangents)
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                raise TypeError(
                    f"custom_jvp function {self.name}: the jvp rule must return a pair "
                    f"(primal_out, tangent_out), got {type(result).__name__}"
                )
            out = self._check_outputs(
                "the jvp rule's primal output", result[0], out_tree, out_avals
            )
            t_out = self._tangents("the jvp rule's tangent output", out_tree, result[1], out_avals)
            return [*out, *t_out]

        return self._trace_rule(jvp_flat, [*a.avals, *t_avals], "the jvp rule")


class custom_vjp(_Custom):
    """A function with a custom reverse-mode derivative rule (JAX's ``custom_vjp``).

    Define it with ``f.defvjp(fwd, bwd)``: ``fwd(*args) -> (out, residuals)``
    and ``bwd(*nondiff, residuals, cotangent) -> tuple`` with one cotangent per
    differentiated argument (``None`` for zero). Works under jit, vmap and
    reverse mode to any order ``bwd`` supports; forward mode is an error.

    Raises:
      AttributeError: when called before ``defvjp``.
    """

    kind = "custom_vjp"

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        super().__init__(fun, nondiff_argnums)
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        """Set the forward (``(out, residuals)``) and backward rules."""
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fwd is None:
            raise AttributeError(
                f"No VJP defined for custom_vjp function {self.name} using defvjp."
            )
        if current_builder() is None:
            return self.fun(*args, **kwargs)
        a = self._prepare(args, kwargs)
        call, out_tree, consts = self._trace_call(a)
        fwd = LazyIR(lambda: self._trace_fwd(a, out_tree, call.out_avals), self.name, "fwd")
        bwd = LazyIR(
            lambda: (self._trace_bwd(a, out_tree, call.out_avals, fwd), None), self.name, "bwd"
        )
        outs = custom_vjp_call_p.bind(
            *consts,
            *a.leaves,
            call=call,
            fwd=fwd,
            bwd=bwd,
            num_consts=len(consts),
            diff=a.diff,
            name=self.name,
        )
        return tree_util.tree_unflatten(out_tree, outs)

    def _trace_fwd(self, a: _Args, out_tree: Any, out_avals: Sequence[Aval]):
        """``args -> (outs, residuals)``, and the residuals' tree."""
        res_box: list = []

        def fwd_flat(*xs):
            result = self.fwd(*a.full(xs))
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                raise TypeError(
                    f"custom_vjp function {self.name}: fwd must return a pair "
                    f"(output, residuals), got {type(result).__name__}"
                )
            out = self._check_outputs("fwd's output", result[0], out_tree, out_avals)
            check_leaves(f"custom_vjp function {self.name}: fwd's residuals", result[1])
            res, res_tree = tree_util.tree_flatten(result[1])
            res_box.append(res_tree)
            # Traced nondiff arguments travel to bwd as residuals too.
            return [*out, *res, *[x for x, nd in zip(xs, a.nondiff_leaf) if nd]]

        fwd = self._trace_rule(fwd_flat, a.avals, "fwd")
        return fwd, res_box[0]

    def _trace_bwd(self, a: _Args, out_tree: Any, out_avals: Sequence[Aval], fwd: LazyIR):
        """``(residuals, cotangents of float outs) -> cotangents of diff leaves``."""
        fwd_ir, res_tree = fwd()
        res_avals = list(fwd_ir.out_avals[len(out_avals) :])
        ct_avals = [tangent_aval(v) for v in out_avals if differentiable(v)]
        n_res = res_tree.num_leaves

        def bwd_flat(*xs):
            res = tree_util.tree_unflatten(res_tree, xs[:n_res])
            nondiff = a.nondiff_values(xs[n_res : len(res_avals)])
            cts = iter(xs[len(res_avals) :])
            ct = tree_util.tree_unflatten(
                out_tree, [next(cts) if differentiable(v) else float0_zeros(v) for v in out_avals]
            )
            result = self.bwd(*nondiff, res, ct)
            if not isinstance(result, (tuple, list)) or len(result) != len(a.arg_trees):
                got = type(result).__name__
                if isinstance(result, (tuple, list)):
                    got += f" of length {len(result)}"
                raise TypeError(
                    f"custom_vjp function {self.name}: bwd must return a tuple with one "
                    f"cotangent per differentiated argument ({len(a.arg_trees)}), got {got}"
                )
            out = []
            for i, (sub, value, avals) in enumerate(zip(a.arg_trees, result, a.arg_avals)):
                out += self._tangents(f"bwd's cotangent {i}", sub, value, avals)
            return out

        return self._trace_rule(bwd_flat, [*res_avals, *ct_avals], "bwd")
