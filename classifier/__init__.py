"""The classifier: tokenizer, the hybrid of a linear TF-IDF part and an attention network,
training, calibration, faithfulness, batched inference and the on-disk model registry.

Sits in the middle of the flow (extract -> **classify** -> store -> export). It takes
:class:`schema.protocol.Protocol` objects and returns plain Python/NumPy results; it never
imports SQLAlchemy or Celery. Import :mod:`classifier.backend` before Keras anywhere.
"""
