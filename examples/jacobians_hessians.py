"""Jacobians, Hessians and Hessian-vector products, each route timed.

Shows: jacrev vs jacfwd on a wide and a tall function (reverse mode wins on
wide, forward on tall), hessian (forward-over-reverse) vs jacrev(jacrev),
three Hessian-vector-product routes vs the full Hessian - all checked
against each other - then Newton-CG on Hessian-vector products.

The code is tracejit/jobs/jacobians_hessians.py, shared with `tracejit run jacobians_hessians`; the
settings are tracejit/configs/jacobians_hessians.toml.

    python examples/jacobians_hessians.py [--steps N] [--out DIR] [--no-progress]
"""

from tracejit.jobs import Result
from tracejit.jobs.command import example_main


def main(argv: list[str] | None = None) -> Result:
    """Run the example; returns its Result (the tests check its claims)."""
    return example_main("jacobians_hessians", argv)


if __name__ == "__main__":
    main()
