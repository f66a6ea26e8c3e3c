"""cenr-annotator's application shell: settings, errors and the ``cenr`` command line.

The parts of the pipeline live in their own top-level packages and data flows one way
through them: ``worker.extract`` (text in) -> ``classifier`` (labels and token weights)
-> ``schema`` (stored) -> ``exporters`` (shown to reviewers). This package only wires
them together for the user.
"""

__version__ = "0.1.0"
