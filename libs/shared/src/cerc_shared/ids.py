"""Integer ids as the services store them: PostgreSQL BIGINT.

A number beyond BIGINT reaching a query makes the driver fail (a 500); these
types refuse it at the door as a 422 through the envelope, naming the field.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Query

MAX_BIGINT = 2**63 - 1

# A path id: /api/plants/{plant_id}/...
PathId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]
# A required id in the query string (?community_id=...).
QueryId = Annotated[int, Query(ge=1, le=MAX_BIGINT)]
# An optional one: default None.
OptionalQueryId = Annotated[int | None, Query(ge=1, le=MAX_BIGINT)]
# An id in a multipart form.
FormId = Annotated[int, Form(ge=1, le=MAX_BIGINT)]
