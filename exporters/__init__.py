"""Show predictions to people: the terminal now; Excel workbooks and HTML bundles come
with the exporters issue. Last in the flow (extract -> classify -> store -> **export**);
exporters never import Celery or the classifier's Keras code.
"""
