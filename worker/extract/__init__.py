"""Stage extract: files -> :class:`schema.protocol.Protocol` objects (``source.py`` picks
the reader, ``documents.py``/``tables.py``/``text.py``/``containers.py`` read), and
``step.py`` the step that stores them as documents and job items."""
