"""Flushing under a savepoint, to tell a lost race for a unique value from a bug."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession


async def unique_violation(session: AsyncSession, *new: object) -> str | None:
    """Add ``new`` and flush inside a savepoint; the name of the unique constraint a row
    broke, or ``None``.

    On a violation only the savepoint is rolled back, so the caller's transaction
    stays usable and it can answer with the conflict (409) the constraint names.
    Opening the savepoint flushes what was pending before it, so ``new`` is added
    only inside it.
    """
    savepoint = await session.begin_nested()
    try:
        session.add_all(new)
        await session.flush()
    except IntegrityError as exc:
        await savepoint.rollback()
        return _constraint(exc)
    await savepoint.commit()
    return None


def _constraint(exc: IntegrityError) -> str:
    cause: BaseException | None = exc.orig
    while cause is not None:
        name = getattr(cause, "constraint_name", None)
        if name:
            return str(name)
        cause = cause.__cause__
    return str(exc.orig)
