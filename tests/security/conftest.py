"""Fixtures of other test folders that the security tests use too."""

from tests.browser import browser
from tests.portal.conftest import portal
from tests.worker.conftest import broker_url

__all__ = ["broker_url", "browser", "portal"]
