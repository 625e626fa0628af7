"""Operator commands: `cerc-user create-admin --username U --email E` (password on stdin);
`cerc-user ensure-client --admin U --client-id C --name N --scope S...` (secret on stdin): a
SERVICE client with a chosen id and secret, for a fleet whose services know theirs by
configuration (the development fleet);
`cerc-user publish-statuses`: announce every deactivated account on user-status.v1 again
(once, where accounts were deactivated before that topic existed)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from cerc_shared import db
from cerc_shared.auth import Principal, Scope

from user_service import clients, service
from user_service.settings import UserSettings


async def _create_admin(username: str, email: str, password: str) -> int:
    settings = UserSettings()
    engine = db.create_engine(settings)
    try:
        async with db.create_sessionmaker(engine)() as session, session.begin():
            user = await service.ensure_admin(
                session, username=username, email=email, password=password
            )
            return user.id
    finally:
        await engine.dispose()


async def _ensure_client(
    admin: str, client_id: str, name: str, scopes: list[Scope], secret: str
) -> None:
    settings = UserSettings()
    engine = db.create_engine(settings)
    try:
        async with db.create_sessionmaker(engine)() as session, session.begin():
            user = await service.admin_by_username(session, admin)
            actor = Principal(
                user_id=user.id, username=user.username, user_type="ADMIN", token_id=""
            )
            await clients.ensure_service_client(
                session, actor, client_id=client_id, name=name, scopes=scopes, secret=secret
            )
    finally:
        await engine.dispose()


async def _publish_statuses() -> int:
    settings = UserSettings()
    engine = db.create_engine(settings)
    try:
        async with db.create_sessionmaker(engine)() as session, session.begin():
            return await service.publish_statuses(session)
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="cerc-user")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-admin", help="create the platform administrator if absent")
    create.add_argument("--username", required=True)
    create.add_argument("--email", required=True)
    ensure = sub.add_parser("ensure-client", help="a SERVICE client with this id and secret")
    ensure.add_argument("--admin", required=True, help="the platform administrator acting")
    ensure.add_argument("--client-id", required=True)
    ensure.add_argument("--name", required=True)
    ensure.add_argument("--scope", action="append", required=True, choices=[s.value for s in Scope])
    sub.add_parser("publish-statuses", help="announce every deactivated account again")
    args = parser.parse_args()
    if args.command == "publish-statuses":
        print(f"{asyncio.run(_publish_statuses())} deactivated accounts announced")
        return
    secret = sys.stdin.readline().rstrip("\n")
    if not secret:
        parser.error("give the password or secret on standard input")
    if args.command == "ensure-client":
        scopes = [Scope(s) for s in args.scope]
        asyncio.run(_ensure_client(args.admin, args.client_id, args.name, scopes, secret))
        print(f"client {args.client_id} ready")
        return
    user_id = asyncio.run(_create_admin(args.username, args.email, secret))
    print(f"admin {args.username} (id {user_id}) ready")


if __name__ == "__main__":
    main()
