"""A fake Jellyfin or Emby server over real HTTP on 127.0.0.1, strict where the real ones are.

- Auth per flavour. Jellyfin with ``legacy=False`` (Jellyfin 12's default) accepts only
  ``Authorization: MediaBrowser Token="…"``; ``legacy=True`` (10.10/10.11) also ``X-Emby-Token``,
  ``X-MediaBrowser-Token`` and ``?api_key=``. Emby accepts ``X-Emby-Token`` and ``?api_key=``.
- ``POST /Library/Media/Updated`` wants a JSON body ``{"Updates": [{"Path": …, "UpdateType": …}]}``
  (a missing or empty Path is a 400, as Jellyfin's ArgumentException is); Jellyfin answers 204,
  Emby 200 with an empty body. Accepted paths are recorded with the time they arrived.
- ``GET /System/Info``, ``GET /Library/VirtualFolders`` (admin), ``POST /Library/Refresh`` (admin,
  recorded). Tokens in ``user_tokens`` are authenticated but not admin: 403 on admin endpoints.
- Knobs: ``fail`` (500 everywhere), ``slow`` (seconds before answering, cut short at stop),
  ``garbage`` (JSON endpoints answer HTML), ``go_down()``/``come_up()`` (the port refuses
  connections, then listens again), ``base_path`` (routes only under it, e.g. "/emby").
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

UPDATE_TYPES = {"Created", "Modified", "Deleted"}
_PAIR = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class MediaUpdate:
    """One accepted ``/Library/Media/Updated`` call."""

    at: float  # time.monotonic() on arrival
    updates: list[tuple[str, str]]  # (Path, UpdateType)
    headers: dict[str, str]

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.updates]


@dataclass
class Seen:
    """Every request that reached the app (accepted or not)."""

    method: str
    path: str
    headers: dict[str, str]
    status: int = 0
    auth: dict[str, str] = field(default_factory=dict)  # parsed MediaBrowser fields


def virtual_folder(name: str, *locations: str, collection: str = "movies") -> dict:
    """A library as ``/Library/VirtualFolders`` lists it (the fields a real server sends that
    matter here; real answers carry LibraryOptions and more, which clients must ignore)."""
    return {
        "Name": name,
        "Locations": list(locations),
        "CollectionType": collection,
        "ItemId": hashlib.md5(name.encode()).hexdigest(),
        "RefreshStatus": "Idle",
    }


class FakeJellyfin:
    def __init__(
        self,
        flavour: str = "jellyfin",
        *,
        token: str = "fake-api-key-0123456789",
        legacy: bool = False,
        user_tokens: tuple[str, ...] = (),
        libraries: list[dict] | None = None,
        base_path: str = "",
        server_name: str = "Living Room",
        version: str = "10.11.0",
    ) -> None:
        if flavour not in ("jellyfin", "emby"):
            raise ValueError(flavour)
        self.flavour = flavour
        self.token = token
        self.legacy = legacy
        self.user_tokens = set(user_tokens)
        self.libraries = libraries if libraries is not None else []
        self.base_path = base_path.rstrip("/")
        self.server_name = server_name
        self.version = version
        self.fail = False
        self.slow = 0.0
        self.garbage = False
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._updates: list[MediaUpdate] = []
        self._refreshes: list[float] = []
        self._seen: list[Seen] = []
        self._port = 0
        self._server = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -----------------------------------------------------------------------------

    def _listen(self) -> None:
        self._server = make_server("127.0.0.1", self._port, self.app, threaded=True)
        self._port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-{self.flavour}",
        )
        self._thread.start()

    def _close(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        assert self._thread is not None
        self._thread.join()
        self._server.server_close()
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeJellyfin:
        self._listen()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()  # a slow handler stops waiting, so no handler thread outlives us
        self._close()

    def go_down(self) -> None:
        """Stop listening: connections are refused until ``come_up``."""
        self._close()

    def come_up(self) -> None:
        """Listen again on the same port."""
        if self._server is None:
            self._listen()

    @property
    def url(self) -> str:
        """The server's url as a user would configure it (base path included)."""
        return f"http://127.0.0.1:{self._port}{self.base_path}"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # ---- what happened ---------------------------------------------------------------------------

    @property
    def updates(self) -> list[MediaUpdate]:
        with self._lock:
            return list(self._updates)

    @property
    def refreshes(self) -> list[float]:
        with self._lock:
            return list(self._refreshes)

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def wait_for_updates(self, count: int, timeout: float = 5.0) -> list[MediaUpdate]:
        """Wait until ``count`` update calls were accepted; return them (fewer on timeout)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._updates) >= count, timeout)
            return list(self._updates)

    # ---- the app -------------------------------------------------------------------------------

    @Request.application
    def app(self, request: Request) -> Response:
        seen = Seen(request.method, request.path, dict(request.headers))
        with self._lock:
            self._seen.append(seen)
        response = self._answer(request, seen)
        seen.status = response.status_code
        return response

    def _answer(self, request: Request, seen: Seen) -> Response:
        if self.slow and self._stopping.wait(self.slow):
            return Response("stopping", status=503)
        if self.fail:
            return Response("Internal Server Error", status=500)
        if self.base_path and not request.path.startswith(self.base_path + "/"):
            return Response("Not Found", status=404)
        path = request.path[len(self.base_path) :]
        route = (request.method, path)
        known = {
            ("GET", "/System/Info"),
            ("GET", "/Library/VirtualFolders"),
            ("POST", "/Library/Refresh"),
            ("POST", "/Library/Media/Updated"),
        }
        if route not in known:
            return Response("Not Found", status=404)
        role = self._authenticate(request, seen)
        if role is None:
            return Response("Unauthorized", status=401)
        admin_only = path in ("/Library/VirtualFolders", "/Library/Refresh")
        if admin_only and role != "admin":
            return Response("Forbidden", status=403)
        if path == "/System/Info":
            return self._json(self._system_info())
        if path == "/Library/VirtualFolders":
            return self._json(self.libraries)
        if path == "/Library/Refresh":
            with self._changed:
                self._refreshes.append(time.monotonic())
                self._changed.notify_all()
            return Response(status=204)
        return self._media_updated(request)

    def _authenticate(self, request: Request, seen: Seen) -> str | None:
        offered: list[str] = []
        header = request.headers.get("Authorization", "")
        scheme, _, rest = header.partition(" ")
        if self.flavour == "jellyfin" and scheme == "MediaBrowser":
            seen.auth = dict(_PAIR.findall(rest))
            offered.append(seen.auth.get("Token", ""))
        legacy = self.flavour == "emby" or self.legacy
        if legacy:
            offered.append(request.headers.get("X-Emby-Token", ""))
            offered.append(request.args.get("api_key", ""))
        if self.flavour == "jellyfin" and self.legacy:
            offered.append(request.headers.get("X-MediaBrowser-Token", ""))
        for token in offered:
            if token and token == self.token:
                return "admin"
            if token and token in self.user_tokens:
                return "user"
        return None

    def _system_info(self) -> dict:
        info = {
            "ServerName": self.server_name,
            "Version": self.version,
            "Id": "f3c1d2e4a5b6478990a1b2c3d4e5f601",
            "OperatingSystem": "Linux",
            "LocalAddress": self.root_url,
        }
        if self.flavour == "jellyfin":
            info["ProductName"] = "Jellyfin Server"
        return info

    def _media_updated(self, request: Request) -> Response:
        if request.mimetype != "application/json":
            return Response("Unsupported Media Type", status=415)
        try:
            body = json.loads(request.get_data(as_text=True))
        except ValueError:
            return Response("bad JSON", status=400)
        updates = body.get("Updates") if isinstance(body, dict) else None
        if not isinstance(updates, list):
            return Response("Updates must be a list", status=400)
        recorded = []
        for item in updates:
            path = item.get("Path") if isinstance(item, dict) else None
            kind = item.get("UpdateType", "Created") if isinstance(item, dict) else None
            if not isinstance(path, str) or not path:
                return Response("Value cannot be null. (Parameter 'Path')", status=400)
            if kind not in UPDATE_TYPES:
                return Response(f"bad UpdateType {kind!r}", status=400)
            recorded.append((path, kind))
        with self._changed:
            self._updates.append(MediaUpdate(time.monotonic(), recorded, dict(request.headers)))
            self._changed.notify_all()
        return Response(status=204 if self.flavour == "jellyfin" else 200)

    def _json(self, body: object) -> Response:
        if self.garbage:
            return Response("<html><body>Login</body></html>", content_type="text/html")
        return Response(json.dumps(body), content_type="application/json; charset=utf-8")
