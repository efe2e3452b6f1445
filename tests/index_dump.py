"""The canonical dump of an index now lives in the package (:mod:`registry.audit.canonical`), where
the auditor's commands use it too; this module keeps the tests' imports working."""

from __future__ import annotations

from registry.audit.canonical import IGNORED_TABLES, Dump, Row, diff_dumps, dump_database

__all__ = ["IGNORED_TABLES", "Dump", "Row", "diff_dumps", "dump_database"]
