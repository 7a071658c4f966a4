"""`putbridge run`, `add` and `status`: the daemon and the two commands that talk about its work.

`add` and `status` open the same state database the daemon uses (SQLite in WAL lets both run
beside it) and go through the same TransferService and ledger as the web API.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import requests

from putbridge.cli_common import context_settings, one_line_errors, wait_for_signal
from putbridge.errors import IntakeError, PutbridgeError


@click.command()
@click.pass_context
@one_line_errors
def run(ctx: click.Context) -> None:
    """Run the daemon: web API and stream links, blackholes, transfers, periodic sync."""
    from putbridge.service import Service

    settings = context_settings(ctx)
    service = Service(settings).start()
    try:
        click.echo(f"putbridge is running at {service.base_url} (Ctrl-C to stop)", err=True)
        wait_for_signal()
    finally:
        service.stop()


@click.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--target", help="put.io folder for the new transfers (default: [transfers] target).")
@click.pass_context
@one_line_errors
def add(ctx: click.Context, sources: tuple[str, ...], target: str | None) -> None:
    """Send magnet links, http(s) URLs or .torrent/.magnet files to put.io.

    The same input added twice (here, in a blackhole or through the web API) is one transfer.
    """
    from putbridge.intake.submit import TransferService
    from putbridge.service import callback_url, open_store, putio_client
    from putbridge.transfers import TransferLedger

    settings = context_settings(ctx)
    failures = 0
    with open_store(settings) as store, putio_client(settings) as client:
        service = TransferService(
            client,
            TransferLedger(store),
            default_target=settings.transfers.target,
            callback_url=callback_url(settings, store),
        )
        added = 0
        for text in sources:
            try:
                record, created = service.add(read_source(text), target=target, origin="cli")
            except PutbridgeError as err:
                failures += 1
                # A file's errors already start with its name.
                named = "" if Path(text).is_file() else f"{_short(text)}: "
                click.echo(f"not added: {named}{err}", err=True)
                continue
            added += created
            what = "added" if created else "already known"
            putio = f", put.io transfer {record.putio_id}" if record.putio_id else ""
            click.echo(f"{what}: transfer {record.id} ({record.state}{putio}) {record.name}")
        if added:
            _wake_daemon(settings, store)
    if failures:
        raise click.ClickException(f"{failures} of {len(sources)} not added")


def _wake_daemon(settings, store) -> None:
    """Tell a running daemon to look at put.io now (through its callback route), so the new
    transfers are followed at once rather than at its next idle poll."""
    from putbridge.service import callback_secret, listen_address
    from putbridge.urls import local_base_url

    base = local_base_url(*listen_address(settings.server.listen))
    try:
        requests.post(f"{base}/putio/callback/{callback_secret(store)}", timeout=2)
    except requests.RequestException:
        pass  # not running: it will find them when it starts


def read_source(text: str):
    """A command-line SOURCE: a file to read, else a magnet link or URL."""
    from putbridge.intake.sources import parse_link, read_drop

    if text.lower().startswith(("magnet:", "http://", "https://")):
        return parse_link(text)
    path = Path(text)
    if path.is_file():
        return read_drop(path)
    raise IntakeError(f"{_short(text)} is not a file, a magnet link or an http(s) URL")


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@click.command()
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
@one_line_errors
def status(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Whether the daemon runs, and the latest transfers with their states."""
    from putbridge.mediaservers.notifier import last_scan_results, pending_scans
    from putbridge.service import listen_address, open_store
    from putbridge.transfers import STATES, TransferLedger
    from putbridge.urls import local_base_url

    settings = context_settings(ctx)
    health = _daemon_health(local_base_url(*listen_address(settings.server.listen)))
    with open_store(settings) as store:
        ledger = TransferLedger(store)
        counts = ledger.counts()
        records = ledger.list(limit=limit)
        pending, results = pending_scans(store), last_scan_results(store)
    if as_json:
        shown = {
            "daemon": health,
            "counts": counts,
            "transfers": [r.to_json() for r in records],
            "scans": {
                entry.name or entry.kind: {
                    "pending": pending.get(entry.name or entry.kind, 0),
                    "last": _result_json(results.get(entry.name or entry.kind)),
                }
                for entry in settings.mediaserver
            },
        }
        click.echo(json.dumps(shown, indent=2))
        return
    if health is None:
        click.echo(f"daemon: not running on {settings.server.listen}")
    else:
        state = "healthy" if health.get("ok") else "UNHEALTHY"
        click.echo(f"daemon: running on {settings.server.listen}, {state}")
        for name, check in health.get("checks", {}).items():
            if not check.get("ok"):
                click.echo(f"  {name}: {check.get('detail')}")
    for entry in settings.mediaserver:
        name = entry.name or entry.kind
        last = results.get(name)
        said = "never asked yet"
        if last is not None:
            said = f"{'ok' if last[1] else 'FAILED'} {_age(time.time() - last[0])} ago: {last[2]}"
        click.echo(f"{name}: {pending.get(name, 0)} folders waiting to be rescanned; last: {said}")
    summary = ", ".join(f"{counts[s]} {s}" for s in STATES if counts.get(s))
    click.echo(f"transfers: {summary or 'none yet'}")
    for record in records:
        progress = f"{record.percent}%" if record.state == "downloading" else ""
        age = _age(time.time() - record.updated_at)
        line = f"  {record.id:>5}  {record.state:<11} {progress:>4}  {age:>4}  {record.name}"
        click.echo(line + (f"  ({record.reason})" if record.reason else ""))


def _daemon_health(base_url: str) -> dict | None:
    try:
        response = requests.get(f"{base_url}/health", timeout=2)
        return response.json()
    except (requests.RequestException, ValueError):
        return None


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(max(seconds, 0))}s"


def _result_json(last: tuple[float, bool, str] | None) -> dict | None:
    return None if last is None else {"at": last[0], "ok": last[1], "detail": last[2]}


@click.command("test-scan")
@click.argument("path")
@click.option("--server", "only", help="Only the [[mediaserver]] with this name (or kind).")
@click.pass_context
@one_line_errors
def test_scan(ctx: click.Context, path: str, only: str | None) -> None:
    """Show how PATH maps on each media server, which library holds it, and rescan it.

    The command to run when a transfer completed but never showed up. PATH is a library file
    or folder as putbridge sees it.
    """
    from putbridge.errors import MediaServerError
    from putbridge.mediaservers import make_server
    from putbridge.mediaservers.base import without_userinfo
    from putbridge.mediaservers.notifier import library_roots, scan_folders

    settings = context_settings(ctx)
    entries = [e for e in settings.mediaserver if only in (None, e.name or e.kind, e.kind)]
    if not entries:
        raise click.ClickException(
            f"no [[mediaserver]] {'named ' + repr(only) + ' ' if only else ''}is configured"
        )
    target = Path(path).absolute()
    roots = library_roots(settings.library)
    folder = str(target) if target.is_dir() else scan_folders([target], roots)[0]
    failures = 0
    for entry in entries:
        server = make_server(entry)
        try:
            mapped = server.map_path(folder)
            click.echo(f"{server.name} ({entry.kind}, {without_userinfo(entry.url)})")
            click.echo(f"  putbridge folder: {folder}")
            click.echo(f"  as it sees it:    {mapped}")
            check = server.check()
            click.echo(f"  server:           {'ok' if check.ok else 'NOT OK'}: {check.detail}")
            if not check.ok:
                failures += 1
                continue
            click.echo(f"  library:          {server.locate(mapped)}")
            result = server.scan([mapped])
            click.echo(f"  scan:             {result.detail}")
            failures += (not result.ok) or result.deferred  # busy: not scanned yet
        except MediaServerError as err:
            failures += 1
            click.echo(f"  failed:           {err}")
        finally:
            server.close()
    if failures:
        raise click.ClickException(f"{failures} of {len(entries)} servers did not take the scan")
