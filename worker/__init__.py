"""The batch side of the service: text extraction now; Celery tasks come with the
batch-service issue. Extraction is the first step of the flow
(**extract** -> classify -> store -> export) and imports only from ``schema``.
"""
