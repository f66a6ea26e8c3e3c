"""cenr-annotator's top layer: the ``cenr`` command line (``cli.py``, handlers in
``commands/`` one module a topic) and the reviewer portal (``portal/``).

It imports the layers below (``worker`` -> ``exporters`` -> ``classifier`` -> ``schema``)
and nothing imports it. Data flows one way through them: extract -> classify -> store ->
export; this package only wires them together for the user.
"""

__version__ = "0.1.0"
