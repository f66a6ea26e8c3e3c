"""The portal and browser fixtures, shared with the security tests."""

from tests.browser import browser
from tests.portal.conftest import portal

__all__ = ["browser", "portal"]
