"""The attention classifier: tokenizer, attention layers, training, calibration,
faithfulness, batched inference and the on-disk model registry.

Sits in the middle of the flow (extract -> **classify** -> store -> export). It takes
:class:`schema.protocol.Protocol` objects and returns plain Python/NumPy results; it never
imports SQLAlchemy or Celery. Import :mod:`classifier.backend` before Keras anywhere.
"""
