"""A member's personal data: its export (GDPR art. 15/20) and its erasure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cerc_shared.auth import Principal
from cerc_shared.events.cer import MembershipEnded, MembershipErased
from sqlalchemy.ext.asyncio import AsyncSession

from cer_service import events
from cer_service.repository import MembershipRepository, PlantRepository, UserRepository
from cer_service.service.access import CerContext, today
from cer_service.service.changes import Changes
from cer_service.service.members import member_out
from cer_service.service.plants import end_plant, period_start, plant_detail


async def export_personal_data(
    session: AsyncSession, ctx: CerContext, principal: Principal
) -> dict[str, Any]:
    """Everything this service holds about the caller, in clear (GDPR art. 15/20)."""
    user = await UserRepository(session).get(principal.user_id)
    day = today()
    memberships = await MembershipRepository(session).of_user(principal.user_id)
    plants = await PlantRepository(session).of_owner(principal.user_id)
    return {
        "user_id": principal.user_id,
        "username": user.username if user else None,
        "email": user.email if user else None,
        "first_name": user.first_name if user else None,
        "last_name": user.last_name if user else None,
        "memberships": [member_out(ctx, m, user, clear=True, day=day) for m in memberships],
        "plants": [await plant_detail(session, p) for p in plants],
        "exported_at": datetime.now(UTC),
    }


async def erase_personal_data(session: AsyncSession, principal: Principal) -> tuple[int, int]:
    """Pseudonymise the caller: end their memberships and plants, drop their
    personal data; ids, periods and powers stay so settlements remain whole."""
    day = today()
    ended = erased = 0
    changes = Changes(session, principal)
    plants = PlantRepository(session)
    for m in await MembershipRepository(session).of_user_for_update(principal.user_id):
        async with changes.change(m, "member.erased", community_id=m.community_id) as change:
            if m.valid_to is None or m.valid_to > day:
                m.valid_to = max(day, m.valid_from)
                ended += 1
                change.publish(events.membership_event(m, MembershipEnded))
            m.tax_code_sealed = m.vat_number_sealed = m.iban_sealed = None
            if m.erased_at is None:
                m.erased_at = datetime.now(UTC)
                erased += 1
            change.publish(events.membership_event(m, MembershipErased))
    for plant in await plants.of_owner(principal.user_id):
        if plant.is_active:
            await end_plant(changes, plant, max(day, await period_start(plants, plant)))
        # The street address and coordinates point at a person's home.
        plant.address, plant.latitude, plant.longitude = "", None, None
    user = await UserRepository(session).get(principal.user_id)
    if user is not None:
        user.username = f"erased-{user.id}"
        user.email = f"erased-{user.id}@invalid"
        user.first_name = user.last_name = ""
        user.erased = True
    await session.flush()
    return ended, erased
