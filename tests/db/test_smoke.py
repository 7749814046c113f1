from sqlalchemy import text

from shared.db import session_scope
from shared.db.session import STAFF


async def test_app_role_connects_and_owns_nothing() -> None:
    async with session_scope(STAFF) as session:
        user = await session.scalar(text("select current_user"))
        scope = await session.scalar(text("select current_setting('app.scope', true)"))
    assert user == "kolokol_app"
    assert scope == "staff"
