"""``inspector db prune`` and ``inspector user list|set-role``: data lifecycle and roles."""

from __future__ import annotations

import argparse
from pathlib import Path

from inspector.storage.users import Role

EXIT_OK = 0


def add_prune_command(db_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``db prune`` under the ``db`` command."""
    prune = db_sub.add_parser(
        "prune",
        help="apply image retention and the disk quota now (rows are kept and marked)",
    )
    prune.add_argument("--dry-run", action="store_true", help="count what would go; change nothing")
    prune.add_argument(
        "--config", type=Path, help="station TOML file: its [storage] database, images and limits"
    )
    prune.add_argument("--db", help="database (default: the station file's, else the user's)")
    prune.add_argument("--images", type=Path, help="image root (default: beside the database)")
    prune.add_argument("--keep-good-days", type=float, help="default 30 (0: forever)")
    prune.add_argument("--keep-reject-days", type=float, help="default 365 (0: forever)")
    prune.add_argument("--quota-gb", type=float, help="image folder quota in GiB (0: none)")
    prune.set_defaults(handler=_prune)


def add_user_commands(user_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``user list`` and ``user set-role`` under the ``user`` command."""
    listing = user_sub.add_parser("list", help="list users and their roles")
    listing.add_argument("--db", help="database (default: the user data folder's)")
    listing.set_defaults(handler=_list_users)
    role = user_sub.add_parser("set-role", help="change a user's role (audited)")
    role.add_argument("name")
    role.add_argument("--role", required=True, choices=[r.value for r in Role])
    role.add_argument("--reason", required=True, help="why (stored in the audit log)")
    role.add_argument("--by", required=True, help="who changes it (audited)")
    role.add_argument("--db", help="database (default: the user data folder's)")
    role.set_defaults(handler=_set_role)


def _prune(args: argparse.Namespace) -> int:
    from inspector.storage.engine import default_database_path, open_database
    from inspector.storage.image_store import ImageStore
    from inspector.storage.retention import RetentionPolicy, prune_images

    database, images = args.db, args.images
    limits = {"keep_good_days": 30.0, "keep_reject_days": 365.0, "image_quota_gb": 0.0}
    if args.config is not None:
        from inspector.pipeline.station_config import load_station_config

        storage = load_station_config(args.config).storage
        database = database or storage.database
        images = images or storage.images
        limits = {name: getattr(storage, name) for name in limits}
    given = {
        "keep_good_days": args.keep_good_days,
        "keep_reject_days": args.keep_reject_days,
        "image_quota_gb": args.quota_gb,
    }
    limits.update({name: value for name, value in given.items() if value is not None})
    policy = RetentionPolicy.from_settings(*(value or None for value in limits.values()))
    engine = open_database(database or default_database_path())
    try:
        store = ImageStore.for_database(engine, images)
        result = prune_images(engine, store, policy, dry_run=args.dry_run)
    finally:
        engine.dispose()
    print(f"{store.root}: {result.summary()}")
    for error in result.errors:
        print(f"  {error}")
    return EXIT_OK if not result.errors else 1


def _list_users(args: argparse.Namespace) -> int:
    from inspector.storage.engine import default_database_path, open_database
    from inspector.storage.user_admin import list_users

    engine = open_database(args.db or default_database_path())
    try:
        users = list_users(engine)
    finally:
        engine.dispose()
    if not users:
        print("no users yet: add one with `inspector user add NAME --role admin`")
    for user in users:
        state = "" if user.active else "  (deactivated)"
        print(f"{user.name:<24} {user.role.value}{state}")
    return EXIT_OK


def _set_role(args: argparse.Namespace) -> int:
    from inspector.storage.engine import default_database_path, open_database
    from inspector.storage.users import set_role

    engine = open_database(args.db or default_database_path())
    try:
        user = set_role(engine, args.name, Role(args.role), actor=args.by, reason=args.reason)
    finally:
        engine.dispose()
    print(f"user {user.name} now has role {user.role.value}")
    return EXIT_OK
