"""MAML on the sinusoid regression of Finn et al. (2017).

Shows: grad through vmap through a fori_loop of grad - a second-order
meta-gradient - jit-compiled as one meta-step; prints the query error on
held-out sinusoids before and after a few adaptation steps, from the
meta-learned and from a random initialization.

The code is tracejit/jobs/maml_sinusoid.py, shared with `tracejit run maml_sinusoid`; the
settings are tracejit/configs/maml_sinusoid.toml.

    python examples/maml_sinusoid.py [--steps N] [--out DIR] [--no-progress]
"""

from tracejit.jobs import Result
from tracejit.jobs.command import example_main


def main(argv: list[str] | None = None) -> Result:
    """Run the example; returns its Result (the tests check its claims)."""
    return example_main("maml_sinusoid", argv)


if __name__ == "__main__":
    main()
