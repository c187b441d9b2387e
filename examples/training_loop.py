"""A jit-compiled MLP training loop on the digits data set.

Shows: tracejit's grad and an Adam update compiled into one XLA executable by
tj.jit; trained on minibatches of scikit-learn's digits set, the MLP reaches
>= 95% test accuracy in a few seconds. Prints the loss, test accuracy,
steps/s and compile time.

The code is tracejit/jobs/training_loop.py, shared with `tracejit run training_loop`; the
settings are tracejit/configs/training_loop.toml.

    python examples/training_loop.py [--steps N] [--out DIR] [--no-progress]
"""

from tracejit.jobs import Result
from tracejit.jobs.command import example_main


def main(argv: list[str] | None = None) -> Result:
    """Run the example; returns its Result (the tests check its claims)."""
    return example_main("training_loop", argv)


if __name__ == "__main__":
    main()
