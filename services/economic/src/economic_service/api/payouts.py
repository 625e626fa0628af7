"""``/api/economic/payouts/``: the community's payout account, batches of SEPA credit
transfers (the pain.001 file to download), and the bank's status report (pain.002)."""

from __future__ import annotations

from decimal import Decimal

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import ApiError, Envelope, ok
from cerc_shared.ids import PathId, QueryId
from fastapi import APIRouter, Request, Response, UploadFile, status

from economic_service import repository
from economic_service.models import Payout, PayoutAccount
from economic_service.schemas import (
    PayoutAccountIn,
    PayoutAccountOut,
    PayoutIn,
    PayoutLeftOutOut,
    PayoutOut,
    PayoutTransferOut,
    StatusReportOut,
)
from economic_service.service import payouts

router = APIRouter(prefix="/api/economic/payouts", tags=["payouts"])


def _account(a: PayoutAccount) -> PayoutAccountOut:
    return PayoutAccountOut(
        community_id=a.community_id,
        debtor_name=a.debtor_name,
        iban=a.iban,
        bic=a.bic,
        minimum_amount=Decimal(a.minimum_cents) / 100,
        updated_by=a.updated_by,
        updated_at=a.updated_at,
    )


async def _payout(session: DbSession, p: Payout) -> PayoutOut:
    transfers = await repository.payout_transfers(session, p.id)
    return PayoutOut(
        id=p.id,
        community_id=p.community_id,
        status=p.status,
        message_id=p.message_id,
        execution_date=p.execution_date,
        total=Decimal(p.total_cents) / 100,
        file_sha256=p.file_sha256,
        file_url=f"/api/economic/payouts/{p.id}/file/",
        entry_id=p.entry_id,
        created_by=p.created_by,
        created_at=p.created_at,
        transfers=[
            PayoutTransferOut(
                id=t.id,
                user_id=t.user_id,
                creditor_name=t.creditor_name,
                iban_last4=t.iban_last4,
                amount=Decimal(t.amount_cents) / 100,
                end_to_end_id=t.end_to_end_id,
                status=t.status,
                reason=t.reason,
                decided_at=t.decided_at,
            )
            for t in transfers
        ],
        left_out=[
            PayoutLeftOutOut(
                user_id=item["user_id"],
                amount=Decimal(item["amount_cents"]) / 100,
                reason=item["reason"],
            )
            for item in p.left_out
        ],
    )


@router.put("/account/")
async def set_account(
    body: PayoutAccountIn, session: DbSession, principal: CurrentPrincipal
) -> Envelope[PayoutAccountOut]:
    """The community's account (the SEPA debtor) and its minimum payout; admins only."""
    return ok(_account(await payouts.set_account(session, principal, body)))


@router.get("/account/")
async def get_account(
    session: DbSession, principal: CurrentPrincipal, community_id: QueryId
) -> Envelope[PayoutAccountOut]:
    return ok(_account(await payouts.account(session, principal, community_id)))


@router.post("/", status_code=status.HTTP_201_CREATED)
async def create_payout(
    body: PayoutIn,
    session: DbSession,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> Envelope[PayoutOut]:
    """Pay every member owed an approved amount: one SEPA credit transfer file."""
    payout = await payouts.create_payout(session, principal, body, request.app.state.payees)
    response.headers["Location"] = f"/api/economic/payouts/{payout.id}/"
    await session.refresh(payout)
    return ok(await _payout(session, payout))


@router.get("/")
async def list_payouts(
    session: DbSession, principal: CurrentPrincipal, community_id: QueryId
) -> Envelope[list[PayoutOut]]:
    return ok(
        [await _payout(session, p) for p in await payouts.payouts(session, principal, community_id)]
    )


@router.get("/{payout_id}/")
async def get_payout(
    payout_id: PathId, session: DbSession, principal: CurrentPrincipal
) -> Envelope[PayoutOut]:
    return ok(await _payout(session, await payouts.visible_payout(session, principal, payout_id)))


@router.get(
    "/{payout_id}/file/",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}, "description": "the pain.001 file"}},
)
async def download_file(
    payout_id: PathId, session: DbSession, principal: CurrentPrincipal
) -> Response:
    payout = await payouts.visible_payout(session, principal, payout_id)
    return Response(
        payout.file,
        media_type="application/xml",
        headers={
            "Content-Disposition": f'attachment; filename="{payout.message_id}.xml"',
            "X-Content-SHA256": payout.file_sha256,
        },
    )


@router.post("/{payout_id}/status-report/")
async def upload_status_report(
    payout_id: PathId, file: UploadFile, session: DbSession, principal: CurrentPrincipal
) -> Envelope[StatusReportOut]:
    """The bank's pain.002: each transfer it decides PROCESSED or FAILED (all or nothing)."""
    data = await file.read(payouts.MAX_STATUS_REPORT_BYTES + 1)
    if not data:
        raise ApiError(422, "invalid_status_report", "the file is empty", field="file")
    applied = await payouts.apply_status_report(session, principal, payout_id, data)
    return ok(
        StatusReportOut(
            payout=await _payout(session, applied.payout),
            processed=applied.processed,
            failed=applied.failed,
            still_pending=applied.still_pending,
            unchanged=applied.unchanged,
        )
    )
