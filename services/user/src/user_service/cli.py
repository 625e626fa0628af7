"""Operator commands: `cerc-user create-admin --username U --email E` (password on stdin)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from cerc_shared import db

from user_service import service
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


def main() -> None:
    parser = argparse.ArgumentParser(prog="cerc-user")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-admin", help="create the platform administrator if absent")
    create.add_argument("--username", required=True)
    create.add_argument("--email", required=True)
    args = parser.parse_args()
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        parser.error("give the password on standard input")
    user_id = asyncio.run(_create_admin(args.username, args.email, password))
    print(f"admin {args.username} (id {user_id}) ready")


if __name__ == "__main__":
    main()
