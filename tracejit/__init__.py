"""tracejit: a JIT tracing framework with its own IR and transforms, lowered
through JAX's XLA backend.

    import tracejit as tj
    import tracejit.numpy as tnp

    df = tj.jit(tj.grad(lambda x: tnp.sin(x) * x))
"""

from tracejit import (  # noqa: F401
    errors,
    lax,
    numpy,  # noqa: F401
    primitives,  # noqa: F401  (registers every primitive)
    tree_util,
)
from tracejit.interpret import eval_ir  # noqa: F401
from tracejit.ir import ClosedIR  # noqa: F401
from tracejit.jit import jit  # noqa: F401
from tracejit.make_ir import make_ir  # noqa: F401
from tracejit.transforms.ad import grad, jvp, linearize, value_and_grad, vjp  # noqa: F401
from tracejit.transforms.stop_gradient import stop_gradient  # noqa: F401
from tracejit.transforms.vmap import vmap  # noqa: F401

__version__ = "0.1.0"
from tracejit import (  # noqa: F401,E402
    func,  # noqa: F401,E402
    nn,
    optim,
    random,
)
from tracejit.transforms.checkpoint import checkpoint, remat  # noqa: F401,E402
from tracejit.transforms.custom import custom_jvp, custom_vjp  # noqa: F401,E402
from tracejit.transforms.ensemble import stack_params, unstack_params  # noqa: F401,E402
from tracejit.transforms.jacobians import hessian, jacfwd, jacrev  # noqa: F401,E402
