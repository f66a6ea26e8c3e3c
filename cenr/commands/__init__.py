"""The ``cenr`` command's handlers, one module a topic: ``training``, ``models``, ``jobs``,
``reviews``, ``services`` (worker, watch, serve), ``users`` and ``database``; what they share
is in ``common``. Each handler takes the parsed arguments and returns the exit status.
"""
