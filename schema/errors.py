"""Errors a user can meet, each with a message that says what was wrong and what to do.

CenrError                    base: the CLI prints its message on one line, exit 1
├── ConfigError              a setting or option has an unusable value
│   └── NotFound             no job, protocol or model of that id (the portal's 404)
├── NotPermitted             the user's role does not allow this (the portal's 403)
├── InputFileError           a data file is missing, unreadable or malformed
│   └── ColumnError          a named column is not in the file
├── TrainingDataError        the labelled data cannot train a model
├── CodebookError            a label is not in the codebook, or the codebook is malformed
├── ModelNotFoundError       no model version of that name
├── ModelIncompatibleError   a model directory from another format version, or damaged
├── ModelUnavailable         this worker cannot load a job's model (others may)
├── QueueFull                too much work is waiting: new submissions are refused for now
├── StepTimedOut             a pipeline step ran past its time limit
├── NoProgress               a job's steps keep being interrupted; its protocols are failed
└── DatabaseError            the database is unreachable or its schema is behind
    └── DatabaseUnavailable  the connection failed or dropped: worth retrying
"""

from __future__ import annotations


class CenrError(Exception):
    """Base of every error the ``cenr`` command reports as a one-line message."""


class ConfigError(CenrError):
    """A setting or command-line option has an unusable value."""


class NotFound(ConfigError):
    """No job, protocol or model version of the id given (the portal answers 404)."""


class NotPermitted(CenrError):
    """The signed-in user's role does not allow this (a reviewer importing adjudicated
    levels, say); the portal answers 403."""


class InputFileError(CenrError):
    """A data file is missing, unreadable or malformed."""


class ColumnError(InputFileError):
    """A column named on the command line is not in the file."""


class TrainingDataError(CenrError):
    """The labelled data cannot train a model (empty, one class, too few rows)."""


class CodebookError(CenrError):
    """A label is not in the codebook, or a codebook file is malformed."""


class ModelNotFoundError(CenrError):
    """No model version of that name exists."""


class ModelIncompatibleError(CenrError):
    """A model directory is damaged or was written by an incompatible version."""


class ModelUnavailable(CenrError):
    """This worker cannot load the model a task needs; another worker may take the task."""


class QueueFull(CenrError):
    """More protocols are waiting than the configured bound: try again later."""


class StepTimedOut(CenrError):
    """A pipeline step ran past ``CENR_TASK_TIME_LIMIT`` and was stopped."""


class NoProgress(CenrError):
    """A job made no progress however often it was queued again: its rest is failed."""


class DatabaseError(CenrError):
    """The database is unreachable, or its schema is behind the code."""


class DatabaseUnavailable(DatabaseError):
    """The database could not be reached or the connection dropped; a retry may succeed."""
