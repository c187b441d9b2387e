"""Every primitive has every rule it needs: a missing rule is found here, not by a user."""

import pytest

import tracejit  # noqa: F401  (registers every primitive)
from tracejit.primitive import NOT_LINEAR, REGISTRY, ZERO_TANGENT

PRIMS = sorted(REGISTRY)


def test_registry_is_populated():
    assert {"sin", "add", "mul", "dot_general", "reduce_sum", "broadcast_in_dim"} <= set(PRIMS)


@pytest.mark.parametrize("name", PRIMS)
def test_primitive_has_every_rule(name):
    prim = REGISTRY[name]
    assert prim.name == name
    assert callable(prim.abstract_eval), f"{name}: no abstract_eval"
    assert callable(prim.lower), f"{name}: no lowering"
    assert callable(prim.jvp) or prim.jvp is ZERO_TANGENT, f"{name}: no jvp rule"
    assert callable(prim.transpose) or prim.transpose is NOT_LINEAR, f"{name}: no transpose"
    assert callable(prim.batch), f"{name}: no batching rule"


def test_declared_linear_primitives():
    linear = {n for n, p in REGISTRY.items() if callable(p.transpose)}
    assert {"add", "sub", "neg", "mul", "div", "convert_element_type", "reduce_sum",
            "broadcast_in_dim", "reshape", "transpose", "dot_general", "select_n"} <= linear
