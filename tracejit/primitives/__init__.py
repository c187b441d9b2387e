"""The primitive families. Importing this package registers every primitive."""

from tracejit.primitives import elementwise, linalg, reductions, shape  # noqa: F401
