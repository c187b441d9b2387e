"""Ten MLPs trained and evaluated at once with vmap.

Shows: vmap over parameters, optimizer states and minibatches trains a whole
ensemble with one compiled step; prints each member's test accuracy and the
ensemble's (mean of softmax), checks vmapped evaluation against a loop, and
times one vmapped step against the members' steps one by one.

The code is tracejit/jobs/ensembling.py, shared with `tracejit run ensembling`; the
settings are tracejit/configs/ensembling.toml.

    python examples/ensembling.py [--steps N] [--out DIR] [--no-progress]
"""

from tracejit.jobs import Result
from tracejit.jobs.command import example_main


def main(argv: list[str] | None = None) -> Result:
    """Run the example; returns its Result (the tests check its claims)."""
    return example_main("ensembling", argv)


if __name__ == "__main__":
    main()
