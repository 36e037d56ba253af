"""``rasid web`` (serve the app) and ``rasid tokens`` (create, list, revoke API tokens)."""

from __future__ import annotations

import click

from shared.commands import command_session, echo_json, echo_json_lines, json_option, printable
from shared.web.settings import WebSettings, web_settings
from shared.web.tokens import TokenError, create_token, list_tokens, revoke_token


@click.command("web")
def web_command() -> None:
    """Serve the API (and its docs at /api/v1/docs) on RASID_WEB_HOST:RASID_WEB_PORT."""
    import uvicorn

    from shared.cli import configure_process_logging
    from shared.web.app import create_app

    configure_process_logging()
    settings = web_settings()
    # log_config=None: uvicorn's records go through Rasid's own logging (text or JSON lines).
    uvicorn.run(
        create_app(settings),
        host=settings.web_host,
        port=settings.web_port,
        log_config=None,
        access_log=False,
    )


@click.group("tokens")
def tokens_group() -> None:
    """API tokens: create (shown once), list, revoke."""


@tokens_group.command("create")
@click.option("--name", required=True, help="Who or what uses the token, e.g. 'grafana'.")
@click.option("--read-only", is_flag=True, help="The token may read, never change anything.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with id and token, for scripts.")
def create(name: str, read_only: bool, as_json: bool) -> None:
    """Make a token and print it once: only its hash is kept."""
    with command_session(WebSettings, errors=(TokenError,)) as session:
        made = create_token(session, name, read_only=read_only)
    if as_json:
        echo_json({"id": made.id, "token": made.token, "read_only": read_only})
        return
    click.echo(f"token {made.id} ({'read-only' if read_only else 'read-write'}): {made.token}")
    click.echo("it is shown this once: keep it now")


@tokens_group.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """Every token (never its secret), revoked ones too."""
    with command_session(WebSettings) as session:
        tokens = list_tokens(session)
    if as_json:
        echo_json_lines(
            {
                "id": token.id,
                "name": token.name,
                "read_only": token.read_only,
                "created_at": token.created_at,
                "revoked_at": token.revoked_at,
            }
            for token in tokens
        )
        return
    for token in tokens:
        access = "read-only" if token.read_only else "read-write"
        revoked = f"  revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else ""
        created = f"{token.created_at:%Y-%m-%d %H:%M}"
        click.echo(f"{token.id:>4}  {access:<10}  {created}  {printable(token.name)}{revoked}")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
def revoke(token_id: int) -> None:
    """Revoke a token by id: it is refused from now on."""
    with command_session(WebSettings, errors=(TokenError,)) as session:
        revoke_token(session, token_id)
    click.echo(f"token {token_id} revoked")
