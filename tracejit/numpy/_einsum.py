"""einsum, and the contraction helpers tracejit.numpy.linalg shares with it.

An einsum is evaluated as JAX does: the subscripts are parsed and checked,
opt_einsum chooses the order of pairwise contractions, and each step is
  - per operand: a repeated label ``...i..i...`` keeps only its diagonal (an
    iota mask and a sum over one of the two axes), and a label needed neither
    by the output nor by another operand is summed out (``reduce_sum``);
  - per pair: one ``dot_general`` whose batch dimensions are the shared labels
    still needed later and whose contracting dimensions are the other shared
    labels.
A final transpose puts the labels in the output's order.
"""

from __future__ import annotations

import collections
import itertools
import string
from typing import Any

import numpy as np
import opt_einsum

from tracejit import dtypes
from tracejit.numpy._promote import asarray_arg, convert, result_dtype
from tracejit.primitives import elementwise as ew
from tracejit.primitives.linalg import dot_general
from tracejit.primitives.reductions import reduce_sum
from tracejit.primitives.shape import broadcast_in_dim, broadcasted_iota, reshape, transpose
from tracejit.tracing import aval_of

_LABELS = frozenset(string.ascii_letters)


def promote_dtypes(name: str, *args: Any) -> list:
    """``args`` as arrays of their common dtype (JAX's promotion); shapes untouched."""
    args = [asarray_arg(name, a) for a in args]
    dtype, weak = result_dtype(*args)
    out = []
    for a in args:
        aval = aval_of(a)
        if aval.dtype != dtype or isinstance(a, (bool, int, float, complex)):
            a = convert(a, dtype, weak and aval.weak_type)
        out.append(a)
    return out


def offset_mask(shape: tuple[int, ...], p: int, q: int, offset: int = 0) -> Any:
    """Boolean array of ``shape``: True where (index along q) == (index along p) + offset."""
    rows = broadcasted_iota(np.int32, shape, p)
    if offset:
        rows = ew.add(rows, np.int32(offset))
    return ew.eq(broadcasted_iota(np.int32, shape, q), rows)


def where_or_zero(mask: Any, x: Any) -> Any:
    """``x`` where ``mask`` else 0 (a select, so inf/NaN elsewhere never leak in)."""
    aval = aval_of(x)
    zeros = broadcast_in_dim(np.zeros((), aval.dtype)[()], aval.shape, ())
    return ew.select_n(mask, zeros, x)


# --- parsing ---------------------------------------------------------------------------


def _check_chars(spec: str, term: str) -> None:
    stripped = term.replace("...", "")
    for c in stripped:
        if c not in _LABELS:
            what = "an ellipsis must be written '...'" if c == "." else "use letters a-z, A-Z"
            raise ValueError(f"einsum: invalid character {c!r} in subscripts {spec!r}; {what}")
    if term.count("...") > 1:
        raise ValueError(f"einsum: more than one ellipsis in the term {term!r} of {spec!r}")


def _fresh_labels(used: set[str], count: int) -> str:
    fresh = (opt_einsum.get_symbol(i) for i in itertools.count())
    return "".join(itertools.islice((c for c in fresh if c not in used), count))


def parse_subscripts(spec: str, avals: list) -> tuple[list[str], str]:
    """Input label strings (ellipses expanded) and the output label string."""
    subs = spec.replace(" ", "")
    lhs, arrow, out = subs.partition("->")
    if "->" in out or (not arrow and ("-" in subs or ">" in subs)):
        raise ValueError(f"einsum: malformed subscripts {spec!r}; write 'ij,jk->ik'")
    terms = lhs.split(",")
    if len(terms) != len(avals):
        raise ValueError(
            f"einsum: the subscripts {spec!r} name {len(terms)} operand(s), but "
            f"{len(avals)} were given"
        )
    ell_ranks = []
    for i, (term, aval) in enumerate(zip(terms, avals)):
        _check_chars(spec, term)
        named = len(term.replace("...", ""))
        rank = aval.ndim - named if "..." in term else 0
        if rank < 0 or ("..." not in term and named != aval.ndim):
            raise ValueError(
                f"einsum: the term {term!r} of {spec!r} names {named} axes, but operand {i} "
                f"is {aval} ({aval.ndim} axes)"
            )
        ell_ranks.append(rank)
    ell = _fresh_labels(set(subs), max(ell_ranks, default=0))
    ins = [t.replace("...", ell[len(ell) - r :]) for t, r in zip(terms, ell_ranks)]
    if not arrow:
        counts = collections.Counter("".join(t.replace("...", "") for t in terms))
        return ins, ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    _check_chars(spec, out)
    out = out.replace("...", ell)
    present = set("".join(ins))
    for c in out:
        if out.count(c) > 1:
            raise ValueError(f"einsum: output label {c!r} appears more than once in {spec!r}")
        if c not in present:
            raise ValueError(
                f"einsum: output label {c!r} of {spec!r} does not appear in any input term"
            )
    return ins, out


def _interleaved(args: tuple) -> tuple[str, list]:
    """einsum(x, [0, 1], y, [1, 2], [0, 2]) -> ('ab,bc->ac', [x, y])."""
    operands = list(args[0::2])
    out = None
    if len(args) % 2:
        out = args[-1]
        operands = operands[:-1]

    def term(sub) -> str:
        try:
            return "".join("..." if s is Ellipsis else opt_einsum.get_symbol(int(s)) for s in sub)
        except (TypeError, ValueError):
            raise TypeError(f"einsum: sublists must hold ints or Ellipsis, got {sub!r}") from None

    terms = [term(s) for s in args[1::2][: len(operands)]]
    spec = ",".join(terms) + ("" if out is None else "->" + term(out))
    return spec, operands


# --- evaluation ------------------------------------------------------------------------


def _reduce(x: Any, labels: str, keep: set[str]) -> tuple[Any, str]:
    """Diagonals for repeated labels, then sums over the labels not in ``keep``."""
    for c in dict.fromkeys(labels):
        while labels.count(c) > 1:
            p = labels.index(c)
            q = labels.index(c, p + 1)
            # x[.., i, .., j, ..] restricted to i == j, then summed over j.
            x = where_or_zero(offset_mask(aval_of(x).shape, p, q), x)
            x = reduce_sum(x, (q,))
            labels = labels[:q] + labels[q + 1 :]
    axes = tuple(i for i, c in enumerate(labels) if c not in keep)
    x = reduce_sum(x, axes)
    return x, "".join(c for c in labels if c in keep)


def _contract_pair(x, lx: str, y, ly: str, keep: set[str], out: str):
    x, lx = _reduce(x, lx, keep | set(ly))
    y, ly = _reduce(y, ly, keep | set(lx))
    shared = [c for c in lx if c in ly]
    batch = sorted((c for c in shared if c in keep), key=out.find)
    contract = [c for c in shared if c not in keep]
    dims = (
        (tuple(lx.index(c) for c in contract), tuple(ly.index(c) for c in contract)),
        (tuple(lx.index(c) for c in batch), tuple(ly.index(c) for c in batch)),
    )
    z = dot_general(x, y, dims)
    labels = "".join(batch) + "".join(c for c in lx if c not in shared)
    return z, labels + "".join(c for c in ly if c not in shared)


def _squeeze_broadcast_dims(x: Any, labels: str, sizes: dict[str, int]) -> tuple[Any, str]:
    """Drop size-1 axes whose label has a larger size elsewhere (they broadcast)."""
    shape = aval_of(x).shape
    keep = [i for i, c in enumerate(labels) if not (shape[i] == 1 and sizes[c] != 1)]
    if len(keep) == len(labels):
        return x, labels
    return reshape(x, tuple(shape[i] for i in keep)), "".join(labels[i] for i in keep)


def _label_sizes(spec: str, ins: list[str], avals: list) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for i, (labels, aval) in enumerate(zip(ins, avals)):
        for c, n in zip(labels, aval.shape):
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise ValueError(
                    f"einsum: label {c!r} of {spec!r} has size {n} in operand {i} ({aval}) but "
                    f"size {sizes[c]} in an earlier operand"
                )
            if n != 1 or c not in sizes:
                sizes[c] = n
    return sizes


def einsum(
    subscripts: Any,
    *operands: Any,
    out: Any = None,
    optimize: Any = "auto",
    precision: Any = None,
    preferred_element_type: Any = None,
) -> Any:
    """Einstein summation over the labelled axes of ``operands``.

    Supports explicit (``'ij,jk->ik'``) and implicit (``'ij,jk'``) outputs,
    ``'...'`` broadcasting, repeated labels (traces ``'ii->'``, diagonals
    ``'ii->i'``) and the interleaved form ``einsum(x, [0, 1], y, [1, 2])``.

    Args:
      subscripts: the subscripts string (or the first operand, interleaved form).
      *operands: the arrays.
      optimize: opt_einsum's path strategy ('auto', 'greedy', 'optimal', ...);
        False contracts left to right.
      precision: accepted for compatibility with jax.numpy; XLA's default is used.
      preferred_element_type: dtype of the result (accumulation happens in the
        wider of it and the operands' dtype).

    Returns:
      The contracted array, its axes in the output's label order.

    Raises:
      ValueError: for malformed subscripts, a subscript/operand count or rank
        mismatch, or label sizes that disagree.
    """
    if out is not None:
        raise TypeError("einsum: the 'out' argument is not supported (arrays are immutable)")
    if not isinstance(subscripts, str):
        subscripts, ops = _interleaved((subscripts, *operands))
        operands = tuple(ops)
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    ops = promote_dtypes("einsum", *operands)
    dtype = out_dtype = aval_of(ops[0]).dtype
    if preferred_element_type is not None:
        out_dtype = dtypes.canonicalize(preferred_element_type)
        # Compute in the wider of the two (int8 operands accumulate in int32, f32
        # operands asked for bf16 compute in f32 and round once at the end).
        dtype = dtypes.result_type((dtype, False), (out_dtype, False))[0]
    work = dtypes.int32 if dtype == dtypes.bool_ else dtype
    ops = [convert(x, work) if aval_of(x).dtype != work else x for x in ops]
    avals = [aval_of(x) for x in ops]
    ins, out_labels = parse_subscripts(subscripts, avals)
    sizes = _label_sizes(subscripts, ins, avals)
    pairs = [_squeeze_broadcast_dims(x, lab, sizes) for x, lab in zip(ops, ins)]
    if len(pairs) == 1:
        path = [(0,)]
    else:
        spec = ",".join(lab for _, lab in pairs) + "->" + out_labels
        strategy = "optimal" if optimize is True else optimize
        strategy = [tuple(range(len(pairs)))] if strategy is False else strategy
        shapes = [aval_of(x).shape for x, _ in pairs]
        path, _ = opt_einsum.contract_path(spec, *shapes, shapes=True, optimize=strategy)
    for step in path:
        picked = [pairs[i] for i in step]
        for i in sorted(step, reverse=True):
            pairs.pop(i)
        keep = set(out_labels).union(*(lab for _, lab in pairs))
        x, lx = picked[0]
        for k, (y, ly) in enumerate(picked[1:], start=2):
            later = keep.union(*(lab for _, lab in picked[k:]))
            x, lx = _contract_pair(x, lx, y, ly, later, out_labels)
        pairs.append(_reduce(x, lx, keep))
    ((x, labels),) = pairs
    x = transpose(x, tuple(labels.index(c) for c in out_labels))
    if dtype == dtypes.bool_:
        x = ew.ne(x, np.int32(0))
    return x if out_dtype == aval_of(x).dtype else convert(x, out_dtype)
