"""Sync put.io into the library folders: list, plan (pure), write (atomic, by the manifest).

A full sync lists the whole account in one flat listing (about one request per 1,000 files) and
plans every library from it. ``sync_subtree`` lists only one put.io folder (a completed transfer)
plus its ancestors, and adds or updates what is under it without removing anything elsewhere.
Both return the library paths that changed, for the media-server notifier.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from putbridge import __version__
from putbridge.config import LibrarySettings
from putbridge.errors import ConfigError
from putbridge.library.links import StrmLinks
from putbridge.library.parsecache import PARSER_VERSION, ParseCache
from putbridge.library.plan import Entry, plan_library
from putbridge.library.tree import PutioTree
from putbridge.library.writer import LibraryWriter, SyncResult
from putbridge.putio import File, PutioClient
from putbridge.store import Store

log = logging.getLogger(__name__)

# Called as progress(step, done, total) while a sync runs; total is None when unknown.
Progress = Callable[[str, int, int | None], None]


@dataclass
class SyncReport:
    """Everything one sync run did, across libraries."""

    results: list[SyncResult] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    files_listed: int = 0

    @property
    def changed(self) -> list[Path]:
        return [path for result in self.results for path in result.changed]

    def count(self, what: str) -> int:
        if what == "unchanged":
            return sum(r.unchanged for r in self.results)
        return sum(len(getattr(r, what)) for r in self.results)

    @property
    def ok(self) -> bool:
        return not any(r.failed for r in self.results)

    def summary(self) -> str:
        extra = "".join(
            f", {n} {what}"
            for what, n in (("skipped", self.count("conflicts")), ("failed", self.count("failed")))
            if n
        )
        return (
            f"{self.count('added')} added, {self.count('updated')} updated, "
            f"{self.count('removed')} removed, {self.count('unchanged')} unchanged{extra}; "
            f"{self.requests} put.io requests, {self.seconds:.1f} s"
        )


class LibrarySync:
    """Keeps every configured library in step with the put.io account."""

    def __init__(
        self,
        client: PutioClient,
        store: Store,
        libraries: list[LibrarySettings],
        links: StrmLinks,
    ) -> None:
        self.client = client
        self.store = store
        self.libraries = libraries
        self.links = links
        # Bumped by every sync_subtree: a full sync whose listing is older than a partial sync's
        # writes must not remove them (it applies without removals instead).
        self._partial_syncs = 0

    def sync_all(self, *, dry_run: bool = False, progress: Progress | None = None) -> SyncReport:
        """One full sync of every library. A put.io failure while listing changes nothing."""
        started, before = time.monotonic(), self.client.request_count
        partial_syncs_seen = self._partial_syncs
        files: list[File] = []
        for file in self.client.iter_files(parent_id=-1):
            files.append(file)
            if progress and len(files) % 1000 == 0:
                progress("listing put.io", len(files), None)
        if progress:
            progress("listing put.io", len(files), len(files))
        report = SyncReport(files_listed=len(files))
        tree: PutioTree | None = None  # built only when some library needs planning
        parse: ParseCache | None = None  # loaded only then too
        account = _account_fingerprint(files)
        for library in self.libraries:
            fingerprint = self._fingerprint(account, library)
            unchanged = self._unchanged_since_last_sync(library, fingerprint)
            if unchanged is not None:
                report.results.append(unchanged)
                continue
            if tree is None:
                tree = PutioTree(files)
            if tree.resolve(library.source) is None:
                # A typo in `source`, or a put.io folder renamed: planning would find nothing
                # and the writer would empty the library. Say so and leave it as it is.
                log.error(
                    "%s: the put.io folder %r does not exist; library left unchanged",
                    library.path,
                    library.source,
                )
                root = LibraryWriter(self.store, Path(library.path))
                report.results.append(
                    SyncResult(library=root.key, root=root.root, failed=[library.source])
                )
                continue
            parse = parse or ParseCache(self.store)
            plan = plan_library(tree, library, strm_text=self._strm_text(library), parse=parse)
            parse.save()
            step = f"writing {library.path}"

            def writing(done: int, total: int, step: str = step) -> None:
                if progress:
                    progress(step, done, total)

            if not dry_run:  # a run that dies half-way must not leave "nothing to do" behind
                self._forget_fingerprints([library])
            # A transfer synced since our listing began: its files are newer than our plan.
            overtaken = self._partial_syncs != partial_syncs_seen
            if overtaken:
                log.info("%s: a transfer arrived during this sync; removals wait", library.path)
            result = self._apply(
                library, plan, dry_run=dry_run, partial=overtaken, progress=writing
            )
            del plan  # one library's plan in memory at a time
            report.results.append(result)
            if not dry_run and not overtaken and not result.failed and not result.conflicts:
                self.store.set_meta(_fingerprint_key(library), fingerprint)
        report.requests = self.client.request_count - before
        report.seconds = time.monotonic() - started
        return report

    def sync_subtree(self, folder_id: int) -> SyncReport:
        """Add or update what lies under one put.io folder (or that one file) in every library."""
        self._partial_syncs += 1  # before listing: a full sync running now sees it at apply
        started, before = time.monotonic(), self.client.request_count
        files = self._ancestors(folder_id) + self._subtree(folder_id)
        tree = PutioTree(files)
        report = SyncReport(files_listed=len(files))
        for library in self.libraries:
            plan = plan_library(tree, library, strm_text=self._strm_text(library), under=folder_id)
            report.results.append(self._apply(library, plan, dry_run=False, partial=True))
        # The account changed under the full sync's feet: its next run must plan again (and
        # settle any name this partial sync could not take).
        self._forget_fingerprints(self.libraries)
        report.requests = self.client.request_count - before
        report.seconds = time.monotonic() - started
        return report

    # -- helpers ---------------------------------------------------------------------------

    def _fingerprint(self, account: str, library: LibrarySettings) -> str:
        """Everything a library's plan depends on: the listing, its settings, the links (the
        public URL, the link secret, a direct link's token: a probe link shows all three),
        putbridge's and the parser's versions. Equal fingerprints mean an equal plan."""
        probe = File(id=0, name="probe.mkv", file_type="VIDEO")
        parts = (
            account,
            repr(library),
            self.links.text(probe, library.links) if library.links != "direct" else "",
            self.links.url(probe, "direct") if library.links == "direct" else "",
            __version__,
            PARSER_VERSION,
            version("guessit"),
        )
        return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()

    def _forget_fingerprints(self, libraries: list[LibrarySettings]) -> None:
        with self.store.write() as conn:
            conn.executemany(
                "DELETE FROM meta WHERE key = ?", [(_fingerprint_key(lib),) for lib in libraries]
            )

    def _unchanged_since_last_sync(
        self, library: LibrarySettings, fingerprint: str
    ) -> SyncResult | None:
        if self.store.get_meta(_fingerprint_key(library)) != fingerprint:
            return None
        writer = LibraryWriter(self.store, Path(library.path))
        if not writer.root.is_dir():  # the folder was removed or is not mounted: write again
            return None
        result = SyncResult(library=writer.key, root=writer.root, unchanged=writer.manifest_size())
        log.info("%s: nothing changed on put.io since the last sync", library.path)
        return result

    def _strm_text(self, library: LibrarySettings) -> Callable[[File], str]:
        return lambda file: self.links.text(file, library.links)

    def _apply(
        self,
        library: LibrarySettings,
        plan: dict[str, Entry],
        *,
        dry_run: bool,
        partial: bool,
        progress: Callable[[int, int], None] | None = None,
    ) -> SyncResult:
        writer = LibraryWriter(self.store, Path(library.path))
        result = writer.apply(
            plan,
            fetch_subtitle=self._fetch_subtitle,
            dry_run=dry_run,
            partial=partial,
            progress=progress,
        )
        log.info("%s%s: %s", "[dry run] " if dry_run else "", library.path, result.summary())
        return result

    def _fetch_subtitle(self, entry: Entry) -> bytes | None:
        _default, subtitles = self.client.list_subtitles(entry.file_id)
        wanted = (entry.language or "").lower()
        for subtitle in subtitles:
            codes = {(subtitle.language_code or "").lower(), (subtitle.language or "").lower()}
            if wanted in codes or _two_letter(subtitle.language_code) == wanted:
                return self.client.download_subtitle(entry.file_id, subtitle.key)
        return None

    def _ancestors(self, file_id: int) -> list[File]:
        """The file itself and every folder above it, up to put.io's root."""
        chain: list[File] = []
        current: int | None = file_id
        seen: set[int] = set()
        while current and current not in seen:  # root is 0
            seen.add(current)
            file = self.client.get_file(current)
            chain.append(file)
            current = file.parent_id
        return chain

    def _subtree(self, folder_id: int) -> list[File]:
        """Everything below a folder, one listing per folder (a transfer's folder is small)."""
        found: list[File] = []
        pending = [folder_id]
        while pending:
            parent, children = self.client.list_files(pending.pop())
            if parent is not None and not parent.is_folder:
                break
            for child in children:
                found.append(child)
                if child.is_folder:
                    pending.append(child.id)
        return found


# put.io reports three-letter codes (ISO 639-2); users write two-letter ones in the config.
_ISO639_2_TO_1 = {
    "eng": "en", "fre": "fr", "fra": "fr", "ger": "de", "deu": "de", "spa": "es", "ita": "it",
    "por": "pt", "dut": "nl", "nld": "nl", "swe": "sv", "nor": "no", "dan": "da", "fin": "fi",
    "pol": "pl", "rus": "ru", "tur": "tr", "jpn": "ja", "chi": "zh", "zho": "zh", "kor": "ko",
    "ara": "ar", "heb": "he", "gre": "el", "ell": "el", "cze": "cs", "ces": "cs", "hun": "hu",
    "rum": "ro", "ron": "ro", "ukr": "uk", "hin": "hi", "tha": "th", "vie": "vi", "ind": "id",
}  # fmt: skip


def _two_letter(code: str | None) -> str:
    code = (code or "").lower()
    return _ISO639_2_TO_1.get(code, code)


def _account_fingerprint(files: list[File]) -> str:
    """A hash of what planning reads from the listing (ids, names, places, types)."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(
            f"{file.id}\x00{file.parent_id}\x00{file.name}\x00{file.file_type}\x00"
            f"{file.extension}\x01".encode("utf-8", "surrogatepass")
        )
    return digest.hexdigest()


def _fingerprint_key(library: LibrarySettings) -> str:
    return f"library-fingerprint:{Path(library.path).absolute()}"


def library_sync_from_settings(settings, client: PutioClient, store: Store) -> LibrarySync:
    """Wire a LibrarySync from the configuration: link secret from the state dir, public URL."""
    from putbridge.library.links import LinkSigner, load_or_create_secret

    for library in settings.library:
        if library.mode != "strm":
            raise ConfigError(
                f"library {library.path}: mode = {library.mode!r} is not available yet; "
                "use mode = 'strm'"
            )
    secret = load_or_create_secret(Path(settings.state.dir))
    links = StrmLinks(
        LinkSigner(secret),
        settings.server.public_url,
        direct_url=lambda file_id, name: client.download_url(file_id, name=name, with_token=True),
    )
    return LibrarySync(client, store, settings.library, links)
