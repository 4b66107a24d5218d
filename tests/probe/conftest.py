from tests.pipeline.conftest import *  # noqa: F403 (the service fixtures)
