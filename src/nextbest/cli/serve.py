"""``nextbest serve``, ``nextbest users``, ``nextbest audit`` and ``nextbest demo-users``."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from nextbest.cli.output import JsonOption, console, emit

__all__ = ["register"]

RoleOption = typer.Option(..., "--role", help="Role (repeat for several).")
users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="Read and verify the audit log.", no_args_is_help=True)


def _context():  # type: ignore[no-untyped-def]
    from nextbest.api.context import ApiContext
    from nextbest.config import load_settings

    return ApiContext.open(load_settings())


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    access_log: bool = typer.Option(
        False, "--access-log/--no-access-log", help="Log every request (costs throughput)."
    ),
) -> None:
    """Serve the REST API (OpenAPI at /api/v1/docs) with uvicorn (uvloop, httptools)."""
    import uvicorn

    from nextbest.api import create_app
    from nextbest.config import load_settings

    # Request counts and latencies are in /metrics; a log line per request is opt-in.
    uvicorn.run(
        create_app(load_settings()),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=access_log,
        log_level="info",
    )


@dataclass(frozen=True)
class UserRow:
    username: str
    display_name: str
    is_active: bool
    roles: list[str]


@users_app.command("create")
def users_create(
    username: str = typer.Argument(..., help="Login name (a-z, 0-9, '.', '_', '-')."),
    role: list[str] = RoleOption,
    display_name: str = typer.Option("", "--display-name"),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="At least 12 chars."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create a user; the password is prompted for (there are no default passwords)."""
    context = _context()
    try:
        record = context.users.create_user(
            username, display_name or username, role, password, actor="cli"
        )
    finally:
        context.close()
    row = UserRow(record.username, record.display_name, record.is_active, sorted(record.roles))
    emit(row, as_json, lambda r: console.print(f"created {r.username} ({', '.join(r.roles)})"))


@users_app.command("list")
def users_list(as_json: bool = JsonOption) -> None:
    """List users and their roles."""
    from rich.table import Table

    context = _context()
    try:
        records, _ = context.users.list_users(limit=10_000)
    finally:
        context.close()
    rows = [UserRow(r.username, r.display_name, r.is_active, sorted(r.roles)) for r in records]

    def render(items: list[UserRow]) -> None:
        table = Table("username", "display name", "active", "roles")
        for r in items:
            table.add_row(
                r.username, r.display_name, "yes" if r.is_active else "no", ", ".join(r.roles)
            )
        console.print(table)

    emit(rows, as_json, render)


@audit_app.command("verify")
def audit_verify(as_json: bool = JsonOption) -> None:
    """Check the HMAC chain and the anchor file; exit 1 and name each broken entry."""
    context = _context()
    try:
        result = context.audit.verify()
    finally:
        context.close()
    payload = {
        "ok": result.ok,
        "entries": result.entries,
        "anchors": result.anchors,
        "problems": list(result.problems),
    }

    def render(p: dict) -> None:  # type: ignore[type-arg]
        if p["ok"]:
            console.print(f"audit log intact: {p['entries']} entries, {p['anchors']} anchors")
        for problem in p["problems"]:
            console.print(f"[red]{problem}[/]", highlight=False)

    emit(payload, as_json, render)
    if not result.ok:
        from nextbest.services.audit import AuditTamperedError

        raise AuditTamperedError(
            f"audit log verification failed: {len(result.problems)} problem(s)"
        )


@audit_app.command("tail")
def audit_tail(
    n: int = typer.Option(20, "-n", min=1, max=1000, help="How many entries."),
    as_json: bool = JsonOption,
) -> None:
    """The newest audit entries."""
    context = _context()
    try:
        entries = context.audit.entries(limit=n)
    finally:
        context.close()

    def render(items: list) -> None:  # type: ignore[type-arg]
        for e in reversed(items):
            console.print(
                f"{e.seq:>6} {e.occurred_at:%Y-%m-%d %H:%M:%S} {e.actor:<24} {e.action:<28} "
                f"{e.subject_type}:{e.subject_id or ''}",
                highlight=False,
            )

    emit(entries, as_json, render)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    password: str


def demo_users(as_json: bool = JsonOption) -> None:
    """Create one demo user per role with a random password and print the logins.

    For demo installations only: run it once; existing demo users are left alone.
    """
    from nextbest.security.passwords import generate_password
    from nextbest.security.permissions import Role
    from nextbest.services.users import DuplicateUserError

    context = _context()
    logins = []
    try:
        for role in Role:
            name = f"demo.{role.value.replace('_', '-')}"
            password = generate_password()
            try:
                context.users.create_user(
                    name, f"Demo {role.value}", [role.value], password, actor="demo-users"
                )
            except DuplicateUserError:
                continue
            logins.append(DemoLogin(name, role.value, password))
    finally:
        context.close()

    def render(items: list[DemoLogin]) -> None:
        if not items:
            console.print("demo users exist already (passwords were printed when created)")
        for item in items:
            console.print(f"{item.role:<20} {item.username:<28} {item.password}", highlight=False)

    emit(logins, as_json, render)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("demo-users")(demo_users)
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
