"""Per-sample gradients of a CNN on the digits set: vmap(grad) vs a loop.

Shows: tj.jit(tj.vmap(tj.grad(loss))) computes one gradient per example in a
single compiled call, equal to a Python loop of tj.jit(tj.grad(loss)) calls
and many times faster (timings of both printed); the mean of the per-sample
gradients is the batch gradient; misclassified examples have far larger
gradients than correct ones.

The code is tracejit/jobs/per_sample_grads.py, shared with `tracejit run per_sample_grads`; the
settings are tracejit/configs/per_sample_grads.toml.

    python examples/per_sample_grads.py [--steps N] [--out DIR] [--no-progress]
"""

from tracejit.jobs import Result
from tracejit.jobs.command import example_main


def main(argv: list[str] | None = None) -> Result:
    """Run the example; returns its Result (the tests check its claims)."""
    return example_main("per_sample_grads", argv)


if __name__ == "__main__":
    main()
