"""The reviewer portal: a small server-rendered web application over the same pipeline.

``app.py`` builds the application from routers, one module each: ``signin.py``,
``jobs.py``, ``reviews.py``, ``models.py`` and ``api.py`` (the JSON twins); ``deps.py``
their shared dependencies and documented error responses; ``auth.py`` users, passwords
and sessions; ``uploads.py`` how uploaded files reach the disk. Started by ``cenr serve``.
"""
