"""A fake Plex Media Server on 127.0.0.1 and an ephemeral port, for driving the real plexapi.

It answers as a real PMS does (attributes and layout from real servers' answers, as in Home
Assistant's Plex fixtures): ``GET /`` (the server's MediaContainer), ``GET /library``,
``GET /library/sections`` (a Directory per section with its Location children), and the refresh
endpoints ``GET|DELETE /library/sections/{key|all}/refresh[?path=…][&force=1]`` (200, empty
body). Every request needs the ``X-Plex-Token`` header (or query parameter, as curl examples
send it); otherwise 401 with PMS's HTML body. Refreshes are recorded with their time.

Knobs: ``set_refreshing(key)`` marks a section as being scanned (refreshing="1"); ``fault``
makes the server misbehave ("500", "520" (a proxy's status), "garbage" (cut-off XML),
"not-plex" (well-formed HTML), "slow" (waits ``slow_seconds`` or until stopped)), on every
path or only on ``fault_path``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

VERSION = "1.41.3.9314-a0bfb8370"
MACHINE_ID = "3f8a9c5e0b7d41c2a6e4f1d09b8c7a65e2d3f4a1"
XML = "text/xml;charset=utf-8"
PLEX_HEADERS = {"X-Plex-Protocol": "1.0"}
LIBRARY_XML = (
    '<MediaContainer size="3" allowSync="0" art="/:/resources/library-art.png" content="" '
    'identifier="com.plexapp.plugins.library" mediaTagPrefix="/system/bundle/media/flags/" '
    'mediaTagVersion="1714000000" title1="Plex Library" title2="">\n'
    '<Directory key="sections" title="Library Sections" />\n'
    '<Directory key="recentlyAdded" title="Recently Added Content" />\n'
    '<Directory key="onDeck" title="On Deck Content" />\n</MediaContainer>\n'
)

# The agents and scanners a current PMS gives new sections of each type.
AGENTS = {
    "movie": ("tv.plex.agents.movie", "Plex Movie"),
    "show": ("tv.plex.agents.series", "Plex TV Series"),
    "artist": ("tv.plex.agents.music", "Plex Music"),
    "photo": ("com.plexapp.agents.none", "Plex Photo Scanner"),
}


def _html(status: int, title: str) -> Response:
    body = f"<html><head><title>{title}</title></head><body><h1>{status} {title}</h1></body></html>"
    return Response(body, status=status, content_type="text/html", headers=PLEX_HEADERS)


def _attrs(**attrs: object) -> str:
    return " ".join(f"{name}={quoteattr(str(value))}" for name, value in attrs.items())


@dataclass
class FakeSection:
    key: str
    title: str
    type: str
    locations: list[str]
    refreshing: bool = False
    uuid: str = field(default="")

    def xml(self, first_location_id: int) -> str:
        agent, scanner = AGENTS.get(self.type, ("tv.plex.agents.none", "Plex Video Files"))
        attrs = _attrs(
            allowSync=1, art=f"/:/resources/{self.type}-fanart.jpg", filters=1,
            refreshing=int(self.refreshing), thumb=f"/:/resources/{self.type}.png", key=self.key,
            type=self.type, title=self.title, agent=agent, scanner=scanner, language="en-US",
            uuid=self.uuid or f"00000000-0000-4000-8000-{int(self.key):012d}",
            updatedAt=1714000000, createdAt=1700000000, scannedAt=1714000000, content=1,
            directory=1, contentChangedAt=1234, hidden=0,
        )  # fmt: skip
        locations = "".join(
            f"<Location {_attrs(id=first_location_id + i, path=path)} />\n"
            for i, path in enumerate(self.locations)
        )
        return f"<Directory {attrs}>\n{locations}</Directory>\n"


@dataclass(frozen=True)
class Refresh:
    section: str  # the key, or "all"
    path: str | None  # the decoded `path` query parameter
    force: bool
    method: str  # GET starts a scan, DELETE cancels one
    at: float  # time.monotonic()


class FakePlex:
    def __init__(
        self, token: str, sections: list[FakeSection], *, friendly_name: str = "Fake Plex"
    ) -> None:
        self.token = token
        self.friendly_name = friendly_name
        self.sections = {s.key: s for s in sections}
        self.refreshes: list[Refresh] = []
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, X-Plex-Token header
        self.fault: str | None = None
        self.fault_path: str | None = None  # None: every path
        self.slow_seconds = 5.0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-plex"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def set_refreshing(self, key: str, refreshing: bool = True) -> None:
        with self._lock:
            self.sections[key].refreshing = refreshing

    def refreshes_of(self, section: str) -> list[Refresh]:
        with self._lock:
            return [r for r in self.refreshes if r.section == section]

    def count(self, method: str, path: str) -> int:
        with self._lock:
            return sum(1 for m, p, _ in self.requests if (m, p) == (method, path))

    def __enter__(self) -> FakePlex:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()  # lets a "slow" answer finish now
        self.server.shutdown()
        self.thread.join()
        self.server.server_close()

    # -- the server ------------------------------------------------------------------------------

    @Request.application
    def _app(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"  # PMS takes /library/sections/ as well
        token = request.headers.get("X-Plex-Token")
        with self._lock:
            self.requests.append((request.method, path, token))
            fault = self.fault if self.fault_path in (None, path) else None
        if fault == "slow":
            self._stopping.wait(self.slow_seconds)
        elif fault == "500":
            return _html(500, "Internal Server Error")
        elif fault == "520":
            return Response("origin error", status=520, content_type="text/plain")
        elif fault == "garbage":
            return Response(
                '<MediaContainer size="1"><Directory key="1" title="Mov', content_type=XML
            )
        elif fault == "not-plex":
            return Response(
                "<html><body><h1>It works!</h1></body></html>", content_type="text/html"
            )
        if (token or request.args.get("X-Plex-Token")) != self.token:
            return _html(401, "Unauthorized")
        with self._lock:
            return self._route(request, path)

    def _route(self, request: Request, path: str) -> Response:
        parts = path.strip("/").split("/")
        if request.method == "GET" and path == "/":
            return self._xml(self._root())
        if request.method == "GET" and path == "/library":
            return self._xml(LIBRARY_XML)
        if request.method == "GET" and path == "/library/sections":
            return self._xml(self._sections())
        if (
            len(parts) == 4
            and parts[:2] == ["library", "sections"]
            and parts[3] == "refresh"
            and request.method in ("GET", "DELETE")
            and (parts[2] == "all" or parts[2] in self.sections)
        ):
            self.refreshes.append(
                Refresh(
                    section=parts[2],
                    path=request.args.get("path"),
                    force=request.args.get("force") == "1",
                    method=request.method,
                    at=time.monotonic(),
                )
            )
            return Response(b"", status=200, content_type=XML, headers=PLEX_HEADERS)
        return _html(404, "Not Found")

    def _xml(self, body: str) -> Response:
        text = '<?xml version="1.0" encoding="UTF-8"?>\n' + body
        return Response(text.encode(), content_type=XML, headers=PLEX_HEADERS)

    def _root(self) -> str:
        attrs = _attrs(
            size=2, allowCameraUpload=1, allowChannelAccess=1, allowMediaDeletion=1,
            allowSharing=1, allowSync=1, allowTuners=1, backgroundProcessing=1, certificate=1,
            companionProxy=1, countryCode="usa", diagnostics="logs,databases,streaminglogs",
            eventStream=1, friendlyName=self.friendly_name, hubSearch=1, itemClusters=1,
            livetv=7, machineIdentifier=MACHINE_ID, mediaProviders=1, multiuser=1, myPlex=1,
            myPlexMappingState="mapped", myPlexSigninState="ok", myPlexSubscription=0,
            myPlexUsername="owner@example.com", offlineTranscode=1, ownerFeatures="webhooks",
            photoAutoTag=1, platform="Linux", platformVersion="6.1.0-18-amd64 (#1 SMP Debian)",
            pluginHost=1, pushNotifications=0, readOnlyLibraries=0, requestParametersInCookie=1,
            streamingBrainABRVersion=3, streamingBrainVersion=2, sync=1,
            transcoderActiveVideoSessions=0, transcoderAudio=1, transcoderLyrics=1,
            transcoderPhoto=1, transcoderSubtitles=1, transcoderVideo=1,
            transcoderVideoBitrates="64,96,208,320,720,1500,2000,3000,4000,8000,10000,12000,20000",
            transcoderVideoQualities="0,1,2,3,4,5,6,7,8,9,10,11,12",
            transcoderVideoResolutions="128,128,160,240,320,480,768,720,720,1080,1080,1080,1080",
            updatedAt=1714000000, updater=1, version=VERSION, voiceSearch=1,
        )  # fmt: skip
        return (
            f"<MediaContainer {attrs}>\n"
            '<Directory count="1" key="activities" title="activities" />\n'
            '<Directory count="3" key="library" title="library" />\n'
            "</MediaContainer>\n"
        )

    def _sections(self) -> str:
        body, location_id = [], 1
        for section in self.sections.values():
            body.append(section.xml(location_id))
            location_id += len(section.locations)
        return (
            f'<MediaContainer size="{len(self.sections)}" allowSync="0" '
            'identifier="com.plexapp.plugins.library" '
            'mediaTagPrefix="/system/bundle/media/flags/" '
            'mediaTagVersion="1714000000" title1="Plex Library">\n'
            + "".join(body)
            + "</MediaContainer>\n"
        )
