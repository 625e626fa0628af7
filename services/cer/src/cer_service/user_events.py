"""How the community service reacts to user.v1: the users' read model
(:func:`cer_service.events.on_user_event`), and an erased account.

When a person erases their account in the user service, the event says so
(``ACCOUNT_ERASED`` in ``changed``); this service then does what
``POST /api/cer/me/erasure/`` does, as that person: their memberships and
plants end, their personal data goes, the facts settlements need stay. It
runs in the consumer's transaction, once per event (processed_events).
"""

from __future__ import annotations

from cerc_shared.auth import Principal
from cerc_shared.events import EventEnvelope
from cerc_shared.events.user import ACCOUNT_ERASED, UserUpdated
from sqlalchemy.ext.asyncio import AsyncSession

from cer_service import events
from cer_service.service.personal_data import erase_personal_data


async def on_user_event(session: AsyncSession, envelope: EventEnvelope) -> None:
    await events.on_user_event(session, envelope)
    data = envelope.data
    if isinstance(data, UserUpdated) and ACCOUNT_ERASED in data.changed:
        # The person asked for it (their password checked by the user
        # service): the audit names them as the actor.
        person = Principal(
            user_id=data.user_id,
            username=data.username,
            user_type=data.user_type,
            token_id=f"event:{envelope.id}",
        )
        await erase_personal_data(session, person)
