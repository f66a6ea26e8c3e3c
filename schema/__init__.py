"""Shared shapes of the domain: protocols, the codebook, and the SQL tables.

``schema.protocol`` and ``schema.codebook`` are plain Python, importable by every part
of the pipeline. ``schema.tables`` and ``schema.database`` hold the SQLAlchemy models and
engine; the classifier never imports those two.
"""
