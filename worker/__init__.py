"""The service's work, one module per stage of extract -> classify -> store -> export.

Layer: below ``cenr`` (which only parses commands and serves pages), above ``exporters``,
``classifier`` and ``schema``. ``extract/`` (``step.py`` the stage's step), ``classify.py``,
``store.py`` and ``export.py`` are the stages; they do not import each other and meet in
``dispatch.py`` (which step runs next) and ``steps.py`` (the steps by name, the in-process
runner). ``context.py`` is what every step receives; ``settings.py`` and
``celery_app.py`` the configuration; ``tasks.py`` the thin Celery tasks; ``submit.py`` and
``jobs.py`` how work arrives; ``results.py`` and ``agreement.py`` fill the read model of
:mod:`schema.views`; ``reviews.py`` imports returned workbooks; ``watch.py``,
``backpressure.py`` and ``sweeper.py`` keep the service running.
"""
