"""The Jinja2 environment every HTML page is rendered in: the HTML bundle's and, for the
pages both show, the portal's.

Autoescaping is on for every template, so document text (untrusted) is escaped wherever
it is printed; a NUL character, which browsers drop or mishandle, is printed as U+FFFD.
Only values already marked safe (:class:`markupsafe.Markup`) pass unescaped. One of
those carries document text: a protocol's heat-map, thousands of token spans built in
Python for speed (``HtmlBundle.fields``), every piece of its text through
:func:`escape`, the same escaping and NUL handling. Templates live in
``exporters/templates``: ``bundle/`` the bundle's pages, ``shared/`` what the bundle and
the portal both show (a protocol's facts, probabilities and heat-map; the legend).
"""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import BaseLoader, Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from markupsafe import escape as markupsafe_escape

from exporters.scale import legend_rows


def _printable(value: Any) -> Any:
    """Each ``{{ value }}`` before it is escaped: NUL becomes U+FFFD (Markup untouched)."""
    if isinstance(value, str) and not isinstance(value, Markup) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def escape(text: str) -> str:
    """Document text for HTML outside the templates: NUL as U+FFFD, then ``& < > " '``
    escaped (markupsafe's escaping, which the templates use)."""
    return str(markupsafe_escape(text.replace("\x00", "\ufffd")))


def fraction(value: float | None, places: int = 3) -> str:
    """A figure to ``places`` decimals, empty when there is none."""
    return "" if value is None else f"{value:.{places}f}"


def loader() -> BaseLoader:
    """The exporters' templates, for an environment that also holds other templates."""
    return PackageLoader("exporters", "templates")


def configure(env: Environment) -> Environment:
    """What every environment rendering these templates needs: escaping, NUL handling,
    strict undefined names and the legend's rows."""
    env.autoescape = True
    env.finalize = _printable
    env.undefined = StrictUndefined
    env.trim_blocks = env.lstrip_blocks = True
    env.globals["legend_rows"] = legend_rows()
    env.filters["fraction"] = fraction
    return env


@functools.cache
def environment() -> Environment:
    """The bundle's environment (built once)."""
    return configure(Environment(loader=loader(), autoescape=True))


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)
