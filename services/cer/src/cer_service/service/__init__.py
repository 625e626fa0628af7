"""The CER service's domain logic, one module per use case:

- ``access``: the caller's standing in a community, the checks at the door;
- ``changes``: every write as one step (snapshot, change, flush, audit, events);
- ``communities``, ``documents``, ``members``, ``plants``: the use cases;
- ``cached``: the summary and plant pages kept while the registry has not moved;
- ``personal_data``: a member's export and erasure.

It flushes, never commits: the request's session decides (see cerc_shared.db).
The API calls it as ``service.X``; the names below are that surface."""

from cer_service.service.access import CerContext, today
from cer_service.service.cached import (
    QueryItems,
    Reads,
    community_summary_json,
    plants_key,
    plants_page_json,
    plants_view_key,
    query_items,
    readable_stamp,
    readable_view,
    summary_key,
)
from cer_service.service.communities import (
    add_shares,
    audit_trail,
    community_summary,
    create_community,
    deactivate_community,
    list_communities,
    shares_history,
    update_community,
)
from cer_service.service.documents import document_limit, download_document, upload_document
from cer_service.service.invitations import (
    accept as accept_invitation,
)
from cer_service.service.invitations import (
    invite,
    known_user,
    list_invitations,
    my_invitations,
)
from cer_service.service.invitations import (
    revoke as revoke_invitation,
)
from cer_service.service.members import (
    add_member,
    get_member,
    list_members,
    remove_member,
    update_member,
)
from cer_service.service.personal_data import erase_personal_data, export_personal_data
from cer_service.service.plants import (
    PlantQuery,
    create_plant,
    get_plant,
    list_plants,
    remove_plant,
    update_plant,
)

__all__ = [
    "CerContext",
    "PlantQuery",
    "QueryItems",
    "Reads",
    "accept_invitation",
    "add_member",
    "add_shares",
    "audit_trail",
    "community_summary",
    "community_summary_json",
    "create_community",
    "create_plant",
    "deactivate_community",
    "document_limit",
    "download_document",
    "erase_personal_data",
    "export_personal_data",
    "get_member",
    "get_plant",
    "invite",
    "known_user",
    "list_communities",
    "list_invitations",
    "list_members",
    "list_plants",
    "my_invitations",
    "plants_key",
    "plants_page_json",
    "plants_view_key",
    "query_items",
    "readable_stamp",
    "readable_view",
    "remove_member",
    "remove_plant",
    "revoke_invitation",
    "shares_history",
    "summary_key",
    "today",
    "update_community",
    "update_member",
    "update_plant",
    "upload_document",
]
