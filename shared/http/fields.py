"""Integer bounds of the wire contract: what the database columns behind a field hold.

msgspec decodes any JSON integer, however long; PostgreSQL then refuses one beyond its
column (``integer`` or ``bigint``) and the request would answer 500. A field bound
here answers a 422 naming it instead, and documents its range in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1

Int4 = Annotated[int, msgspec.Meta(ge=-INT4_MAX - 1, le=INT4_MAX)]
"""An ``integer`` column (a version number, a count)."""

Int8 = Annotated[int, msgspec.Meta(ge=-INT8_MAX - 1, le=INT8_MAX)]
"""A ``bigint`` column (an amount in minor units that may be signed)."""

Amount = Annotated[int, msgspec.Meta(ge=0, le=INT8_MAX)]
"""A non-negative amount in minor units (a ``bigint`` column)."""
