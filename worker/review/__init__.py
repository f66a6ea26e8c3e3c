"""What people do with the pipeline's output, kept apart from the pipeline's stages:
importing returned workbooks (:mod:`imports`), agreement between reviewers and with the
model (:mod:`agreement`, :mod:`ratings`), suspect labels (:mod:`label_checks`,
:mod:`label_quality`) and the next round's protocols (:mod:`next_round`).

The stages (extract, classify, store, export) never import this package: an import-linter
contract in pyproject.toml keeps the data flowing one way.
"""
