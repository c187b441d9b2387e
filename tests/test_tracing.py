"""Tracing: closure conversion, concretization, tracer leaks, argument checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tracejit as tj
import tracejit.numpy as tnp
from tracejit.errors import ConcretizationError, TracerLeakError

f32 = np.float32
X = np.array([0.5, -1.5, 2.0], f32)


# --- concretization ------------------------------------------------------------------

CONCRETIZING = {
    "bool": lambda x: bool(x[0] > 0),
    "if": lambda x: 1.0 if x[0] > 0 else 2.0,
    "while": lambda x: _while(x),
    "int": lambda x: int(x[0]),
    "float": lambda x: float(x[0]),
    "item": lambda x: x[0].item(),
    "numpy.asarray": lambda x: np.asarray(x),
}


def _while(x):
    while x[0] > 10:
        x = x - 1
    return x


@pytest.mark.parametrize("name", sorted(CONCRETIZING))
def test_concretization_error_under_jit(name):
    fn = CONCRETIZING[name]
    with pytest.raises(ConcretizationError) as info:
        tj.jit(fn)(X)
    msg = str(info.value)
    assert "f32[" in msg or "bool[]" in msg
    assert "jit" in msg and "lax.cond" in msg and "static_argnums" in msg
    assert isinstance(info.value, TypeError)


def test_concretization_error_names_where_the_value_came_from():
    def f(x):
        y = tnp.sin(x)
        return 1.0 if y > 0 else 0.0

    with pytest.raises(ConcretizationError,
                       match=r"bool\[\] \(produced by `gt` at .*test_tracing.py"):
        tj.jit(f)(f32(1.0))


def test_concretization_error_on_batched_value_under_vmap():
    with pytest.raises(ConcretizationError, match="differs across the batch"):
        tj.vmap(lambda x: x if x > 0 else -x)(X)


def test_unbatched_value_under_vmap_is_concrete():
    out = tj.vmap(lambda x, s: x * 2 if s > 0 else x, in_axes=(0, None))(X, f32(1.0))
    np.testing.assert_allclose(out, X * 2)


def test_python_control_flow_on_values_under_grad_outside_jit():
    def f(x):
        if x > 0:
            return tnp.sin(x)
        return tnp.cos(x) * float(x)

    # float(x) is a constant to the derivative, as in torch.func and JAX's eager days.
    np.testing.assert_allclose(tj.grad(f)(0.7), np.cos(0.7), rtol=1e-6)
    np.testing.assert_allclose(tj.grad(f)(-0.4), -np.sin(-0.4) * -0.4, rtol=1e-6)
    with pytest.raises(ConcretizationError):
        tj.jit(tj.grad(f))(0.7)


def test_control_flow_on_values_in_nested_grad_and_closures():
    def f(x):
        y = x * 3.0
        return tnp.sin(y) if y > 1.0 else y * y

    np.testing.assert_allclose(tj.grad(tj.grad(f))(0.5), -9 * np.sin(1.5), rtol=1e-5)
    np.testing.assert_allclose(tj.grad(tj.grad(f))(0.2), 18.0, rtol=1e-5)


# --- closure conversion ------------------------------------------------------------------


def test_inner_transform_closes_over_outer_tracer():
    def outer(x):
        inner = lambda y: tnp.sin(x * y)
        return tj.grad(inner)(2.0)  # d/dy sin(xy) = x cos(xy)

    jax_outer = lambda x: jax.grad(lambda y: jnp.sin(x * y))(2.0)
    np.testing.assert_allclose(tj.grad(outer)(0.3), jax.grad(jax_outer)(0.3), rtol=1e-5)
    np.testing.assert_allclose(tj.jit(tj.grad(outer))(0.3), jax.grad(jax_outer)(0.3), rtol=1e-5)


def test_closure_appears_as_const_of_inner_ir():
    seen = {}

    def outer(x):
        ir = tj.make_ir(lambda y: y * x)(1.0)
        seen["ir"] = ir
        return x

    tj.make_ir(outer)(f32(1.0))
    ir = seen["ir"]
    assert len(ir.consts) == 1 and str(ir).startswith("{ lambda a:f32[] ; b:f32[]. let")


# --- leaks ---------------------------------------------------------------------------------


def test_tracer_leak_through_global():
    leaked = []

    def f(x):
        leaked.append(x * 2)
        return x

    tj.jit(f)(X)
    with pytest.raises(TracerLeakError, match=r"f32\[3\].*jit.*after that transform finished"):
        tnp.sin(leaked[0])


def test_tracer_leak_used_inside_a_later_trace():
    leaked = []
    tj.grad(lambda x: leaked.append(x) or x)(1.0)
    with pytest.raises(TracerLeakError):
        tj.jit(lambda y: y + leaked[0])(1.0)


# --- argument checks -------------------------------------------------------------------------


@pytest.mark.parametrize("transform", ["jit", "grad", "vmap", "make_ir"])
def test_non_array_argument_is_a_type_error_naming_it(transform):
    fn = {"jit": tj.jit, "grad": tj.grad, "vmap": tj.vmap, "make_ir": tj.make_ir}[transform]
    with pytest.raises(TypeError, match=r"\['b'\].*str"):
        fn(lambda p: p["a"])({"a": X, "b": "oops"})


def test_tracer_properties_and_unhashable():
    def f(x):
        assert x.shape == (3,) and x.ndim == 1 and x.size == 3 and len(x) == 3
        assert x.dtype == np.float32
        with pytest.raises(TypeError, match="unhashable"):
            hash(x)
        with pytest.raises(TypeError, match=r"x\.at\[idx\]\.set"):
            x[0] = 1.0
        return sum(list(x))

    np.testing.assert_allclose(tj.jit(f)(X), X.sum())
