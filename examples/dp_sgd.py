"""Differentially private SGD on the digits set.

Shows: the reason people want per-sample gradients. Each example's gradient
(vmap(grad)) is clipped to norm C, the sum gets Gaussian noise of std
sigma * C, all in one jit-compiled step; prints the test accuracy and the
privacy spent, (epsilon, delta), from a Renyi-DP accountant.

The code is tracejit/jobs/dp_sgd.py, shared with `tracejit run dp_sgd`; the
settings are tracejit/configs/dp_sgd.toml.

    python examples/dp_sgd.py [--steps N] [--out DIR] [--no-progress]
"""

from tracejit.jobs import Result
from tracejit.jobs.command import example_main


def main(argv: list[str] | None = None) -> Result:
    """Run the example; returns its Result (the tests check its claims)."""
    return example_main("dp_sgd", argv)


if __name__ == "__main__":
    main()
