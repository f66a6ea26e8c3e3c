"""Show results to people: the terminal, the CSV, the review and Discussion workbooks and
the HTML bundle. Last in the flow (extract -> classify -> store -> **export**).

Exporters read only the read model of :mod:`schema.views` (and the tokenizer's pure
helpers), so they are tested by building views by hand: no database, no TensorFlow, no
Celery (``tests/exporters/test_from_views.py`` checks the imports). HTML pages are Jinja2
templates with autoescaping (``templates/``, :mod:`exporters.rendering`).
"""
