from tests.pipeline.conftest import *  # noqa: F401,F403 (the service fixtures)
