"""What every read of the index shares: the block it is taken at."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

__all__ = ["AsOfBlock"]

AsOfBlock = Annotated[
    int | None,
    Query(
        # Stated in the document, checked by the service: its rule names the field.
        json_schema_extra={"minimum": 0},
        description="Read as the index held it at this block (rules `block-number`, "
        "`block-not-indexed`); omitted: the newest block indexed.",
    ),
]
