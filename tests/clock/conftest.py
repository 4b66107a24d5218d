"""The clock's scenarios run on the pipeline's fixtures: the fake Zoho Desk on a port, the web
app, the worker and one controllable clock."""

from tests.pipeline.conftest import clock, service  # noqa: F401  (fixtures)
