"""What every layer agrees on: protocols, the codebook, errors, states, the read model and
the SQL tables. The bottom layer: it imports nothing of the project above it.

``protocol``, ``codebook``, ``errors``, ``states``, ``views`` and ``faithfulness`` are
plain Python, importable everywhere; ``tables`` and ``database`` hold the SQLAlchemy
models and engine, which the classifier and the exporters never import.
"""
