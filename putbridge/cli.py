"""The `putbridge` command: a thin click group over the core.

Every PutbridgeError becomes one line on stderr and exit status 1.
"""

from __future__ import annotations

import logging
import secrets
import sys
from pathlib import Path

import click

from putbridge import __version__, config, logs, tomlfile
from putbridge.cli_common import context_settings, one_line_errors, wait_for_signal
from putbridge.cli_daemon import add, run, status, test_scan
from putbridge.service import putio_client

log = logging.getLogger(__name__)


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file (default: $PUTBRIDGE_CONFIG, ./putbridge.toml, then the user config dir).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail (tokens stay redacted).")
@click.version_option(__version__, prog_name="putbridge")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """put.io inside your home media server."""
    ctx.obj = {"config_path": config_path, "verbose": verbose}


@main.command()
@click.option("--poll-interval", type=float, default=3.0, hidden=True)
@click.pass_context
@one_line_errors
def login(ctx: click.Context, poll_interval: float) -> None:
    """Link putbridge to your put.io account with a device code."""
    from putbridge.login import LINK_PAGE, link_device, save_token

    settings = context_settings(ctx, must_exist=False)
    target = settings.loaded_from or config.find_config_file(ctx.obj["config_path"])[0]

    def show(code: str) -> None:
        click.echo(f"Open {LINK_PAGE} and enter this code: {code}")
        click.echo("Waiting for the code to be linked (Ctrl-C to give up)...")

    with putio_client(settings, token="") as client:
        token = link_device(client, on_code=show, interval=poll_interval)
    logs.register_secret(token)
    with putio_client(settings, token=token) as client:
        info = client.account_info()
    save_token(target, token)
    who = info.get("username") or info.get("mail") or "your account"
    click.echo(f"Linked to put.io as {who}. Token saved in {target} (readable by you only).")


@main.command()
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.pass_context
@one_line_errors
def sync(ctx: click.Context, dry_run: bool) -> None:
    """One full sync of every [[library]] from put.io."""
    from putbridge.library.sync import library_sync_from_settings
    from putbridge.store import Store

    settings = context_settings(ctx)
    if not settings.library:
        raise click.ClickException(
            f"no [[library]] is configured in {settings.loaded_from or 'the configuration'}: "
            "see docs/library.md"
        )
    progress = _TtyProgress() if sys.stderr.isatty() else _LogProgress()
    with (
        putio_client(settings) as client,
        Store(Path(settings.state.dir) / "putbridge.db") as store,
    ):
        report = library_sync_from_settings(settings, client, store).sync_all(
            dry_run=dry_run, progress=progress
        )
    progress.done()
    for result in report.results:
        click.echo(f"{'[dry run] ' if dry_run else ''}{result.root}: {result.summary()}")
    click.echo(f"{'[dry run] ' if dry_run else ''}{report.summary()}")
    if not report.ok:
        failed = [f"{r.root}: {', '.join(r.failed[:3])}" for r in report.results if r.failed]
        raise click.ClickException(f"some of the library was not synced ({'; '.join(failed)})")


@main.command()
@click.pass_context
@one_line_errors
def serve(ctx: click.Context) -> None:
    """Serve the .strm files' stream links on [server] listen until Ctrl-C."""
    from putbridge.library.links import LinkSigner, StreamUrlCache, load_or_create_secret
    from putbridge.service import listen_address, web_client
    from webhook import BridgeServer, create_app

    settings = context_settings(ctx)
    host, port = listen_address(settings.server.listen)
    signer = LinkSigner(load_or_create_secret(Path(settings.state.dir)))
    with web_client(settings) as client:
        app = create_app(signer=signer, client=client, url_cache=StreamUrlCache(client.file_url))
        try:
            server = BridgeServer(app, host=host, port=port).start()
        except OSError as err:
            raise click.ClickException(f"cannot listen on {settings.server.listen}: {err}") from err
        try:
            click.echo(f"serving stream links at http://{settings.server.listen} (Ctrl-C to stop)")
            wait_for_signal()
        finally:
            server.stop()


class _LogProgress:
    """Plain log lines when not on a terminal: one per 10,000 items and one per step."""

    def __init__(self) -> None:
        self._last: tuple[str, int] | None = None

    def __call__(self, step: str, done: int, total: int | None) -> None:
        if done % 10_000 == 0 or done == total:
            if self._last != (step, done):
                log.info("%s: %d%s", step, done, f"/{total}" if total else "")
                self._last = (step, done)

    def done(self) -> None:
        pass


class _TtyProgress:
    """One status line on a terminal, rewritten in place."""

    def __call__(self, step: str, done: int, total: int | None) -> None:
        count = f"{done}/{total}" if total else f"{done}"
        click.echo(f"\r{step}: {count}\x1b[K", nl=False, err=True)

    def done(self) -> None:
        click.echo("", err=True)


@main.command("config")
@click.pass_context
@one_line_errors
def show_config(ctx: click.Context) -> None:
    """Print the effective configuration, secrets redacted."""
    settings = context_settings(ctx)
    where = settings.loaded_from or "no file: defaults and environment"
    click.echo(f"# from {where}")
    click.echo(tomlfile.dumps(config.redacted(settings)), nl=False)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=0, help="Port (default: a free one, printed).")
@click.option("--token", help="The account's API token (default: a random one, printed).")
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON seed file describing the account (default: the sample library).",
)
@click.option(
    "--latency", type=click.FloatRange(0, 60), default=0.0, help="Seconds added to each request."
)
@click.option(
    "--error-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Share of requests answered with a 503 (0 to 1).",
)
@click.option(
    "--rate-limit",
    metavar="N/SECONDS",
    callback=lambda ctx, param, value: _rate_limit(value),
    help="At most N requests per SECONDS; beyond that a 429 with put.io's headers.",
)
@click.pass_context
@one_line_errors
def emulator(
    ctx: click.Context,
    host: str,
    port: int,
    token: str | None,
    seed: Path | None,
    latency: float,
    error_rate: float,
    rate_limit: tuple[int, float] | None,
) -> None:
    """Serve the put.io emulator until Ctrl-C. Faults can also be changed while it runs."""
    from putbridge.emulator import Emulator, EmulatorServer, RealClock

    logs.setup_logging("DEBUG" if ctx.obj["verbose"] else "INFO")
    token = token or secrets.token_urlsafe(18)
    emu = Emulator(
        token=token,
        clock=RealClock(),
        latency=latency,
        error_rate=error_rate,
        rate_limit=rate_limit,
    )
    try:
        if seed:
            emu.load_seed(seed)
        else:
            emu.populate_sample()
        with EmulatorServer(emu, host=host, port=port) as server:
            click.echo(f"put.io emulator serving the API at {server.api_url}")
            click.echo(f"uploads at {server.upload_url}/files/upload")
            click.echo(f"token: {token}")
            click.echo("Point putbridge at it with:")
            click.echo(
                f'  [putio]\n  api_url = "{server.api_url}"\n'
                f'  upload_url = "{server.upload_url}"\n  token = "{token}"'
            )
            wait_for_signal()
    finally:
        emu.close()


def _rate_limit(value: str | None) -> tuple[int, float] | None:
    if value is None:
        return None
    count, _, seconds = value.partition("/")
    try:
        parsed = int(count), float(seconds)
    except ValueError:
        parsed = (0, 0.0)
    if parsed[0] < 1 or not 0 < parsed[1] < float("inf"):
        raise click.BadParameter(f"expected N/SECONDS such as 10/1, not {value!r}")
    return parsed


@main.command()
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="Where the demo library and its state go.",
)
@click.option("--serve", is_flag=True, help="Keep serving the stream links until Ctrl-C.")
@click.pass_context
@one_line_errors
def demo(ctx: click.Context, workdir: Path, serve: bool) -> None:
    """Run putbridge against the bundled put.io emulator: no account, no network.

    Media servers in the config file ([[mediaserver]]) are sent the demo's rescans; with none,
    the rescans are printed.
    """
    from putbridge.demo import run_demo

    configured = config.load_settings(ctx.obj["config_path"], must_exist=False).mediaserver
    logs.setup_logging("DEBUG" if ctx.obj["verbose"] else "WARNING")

    def keep_serving() -> None:
        click.echo("Serving the stream links; Ctrl-C to stop.")
        wait_for_signal()

    run_demo(
        click.echo,
        workdir=workdir,
        serve_until=keep_serving if serve else None,
        mediaservers=configured,
    )


main.add_command(run)
main.add_command(add)
main.add_command(status)
main.add_command(test_scan)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
