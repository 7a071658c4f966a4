"""A real Kodi (Debian's kodi 20) for tests: headless under Xvfb, web server on a free port with
HTTP Basic auth, one video source whose content is movies scraped by ``metadata.local``.

Kodi is slow to start (seconds) so a test module starts one per session (see
``test_mediaserver_kodi.py``). ``RunningKodi`` is a context manager that writes the profile
into a fresh HOME before the start, waits for JSON-RPC, sets the source's content in Kodi's own
video database, and on exit asks Kodi to quit, then terminates or kills it and Xvfb, reaping
every process.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path
from xml.sax.saxutils import escape

import requests

KODI_BIN_DIRS = (
    "/usr/lib/x86_64-linux-gnu/kodi",
    "/usr/lib/aarch64-linux-gnu/kodi",
    "/usr/lib/kodi",
)
USERNAME = "putbridge"
PASSWORD = "k0di-test-pässword"  # non-ASCII on purpose: Basic auth must encode it right
SOURCE_NAME = "Bridge Movies"
START_TIMEOUT = 45.0

# Everything that would reach the network or other Kodis off; the web server on with a login.
# The event server (UDP 9777) and the JSON-RPC TCP server (9090, tied to "esenabled") would
# collide between two Kodis on one machine, so they are off too.
_GUISETTINGS = """<settings version="2">
    <setting id="services.webserver">true</setting>
    <setting id="services.webserverport">{port}</setting>
    <setting id="services.webserverauthentication">true</setting>
    <setting id="services.webserverusername">{username}</setting>
    <setting id="services.webserverpassword">{password}</setting>
    <setting id="services.zeroconf">false</setting>
    <setting id="services.upnp">false</setting>
    <setting id="services.upnpserver">false</setting>
    <setting id="services.upnprenderer">false</setting>
    <setting id="services.wsdiscovery">false</setting>
    <setting id="services.esenabled">false</setting>
    <setting id="services.airplay">false</setting>
    <setting id="general.addonupdates">2</setting>
    <setting id="general.addonnotifications">false</setting>
    <setting id="videolibrary.updateonstartup">false</setting>
    <setting id="videolibrary.backgroundupdate">false</setting>
    <setting id="musiclibrary.updateonstartup">false</setting>
    <setting id="audiooutput.audiodevice">ALSA:default</setting>
    <setting id="audiooutput.guisoundmode">0</setting>
</settings>
"""

_SOURCES = """<sources>
    <video>
        <default pathversion="1"></default>
        <source>
            <name>{name}</name>
            <path pathversion="1">{path}</path>
            <allowsharing>true</allowsharing>
        </source>
    </video>
</sources>
"""

# Without a sound card Kodi's ALSA sink retries its device search for ~6 s at start; a null
# default device answers at once (and playback has somewhere to send audio).
_ASOUNDRC = "pcm.!default { type null }\n"


def kodi_binary() -> str | None:
    """kodi.bin itself (the /usr/bin/kodi wrapper adds a crash-report loop we do not want)."""
    for folder in KODI_BIN_DIRS:
        candidate = Path(folder) / "kodi.bin"
        if candidate.is_file():
            return str(candidate)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_profile(home: Path, *, port: int, source: Path) -> None:
    """Kodi's settings and sources, written before its first start."""
    userdata = home / ".kodi" / "userdata"
    userdata.mkdir(parents=True, exist_ok=True)
    (userdata / "guisettings.xml").write_text(
        _GUISETTINGS.format(port=port, username=escape(USERNAME), password=escape(PASSWORD)),
        encoding="utf-8",
    )
    (userdata / "sources.xml").write_text(
        _SOURCES.format(name=escape(SOURCE_NAME), path=escape(source_path(source))),
        encoding="utf-8",
    )
    (userdata / "advancedsettings.xml").write_text(
        '<advancedsettings version="1.0"><splash>false</splash></advancedsettings>\n',
        encoding="utf-8",
    )
    (home / ".asoundrc").write_text(_ASOUNDRC, encoding="utf-8")


def source_path(folder: Path) -> str:
    """How Kodi writes a local folder: absolute, with a trailing slash."""
    return str(folder).rstrip("/") + "/"


class RunningKodi:
    """Xvfb plus Kodi, for a ``with`` block. ``url``, ``username`` and ``password`` are what a
    KodiServer needs; ``source`` is the library folder Kodi knows as a movies source."""

    def __init__(self, workdir: Path, source: Path, *, timeout: float = START_TIMEOUT) -> None:
        self.workdir = workdir
        self.home = workdir / "home"
        self.source = source
        self.timeout = timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.username = USERNAME
        self.password = PASSWORD
        self.display: str | None = None
        self.started_in: float | None = None
        self._xvfb: subprocess.Popen | None = None
        self._kodi: subprocess.Popen | None = None
        self._logs: list = []

    # -- start and stop ------------------------------------------------------------------

    def __enter__(self) -> RunningKodi:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        binary = kodi_binary()
        if binary is None or shutil.which("Xvfb") is None:
            raise RuntimeError("kodi and xvfb are not installed: apt-get install kodi xvfb")
        started = time.monotonic()
        self.source.mkdir(parents=True, exist_ok=True)
        write_profile(self.home, port=self.port, source=self.source)
        self.display = self._start_xvfb()
        env = {
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DISPLAY": self.display,
            "LANG": "C.UTF-8",
            # Only ALSA (which finds the null device): no PulseAudio or PipeWire to look for.
            "KODI_AE_SINK": "ALSA",
        }
        log = open(self.workdir / "kodi.out", "wb")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        self._kodi = subprocess.Popen(
            [binary, "--windowing=x11"],
            env=env,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._wait_ready(started + self.timeout)
        set_source_content(self.database(), self.source)
        self.started_in = time.monotonic() - started

    def _start_xvfb(self) -> str:
        """Xvfb on a display it picks itself (-displayfd): no race with other test runs."""
        read_fd, write_fd = os.pipe()
        log = open(self.workdir / "xvfb.out", "wb")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        try:
            self._xvfb = subprocess.Popen(
                [
                    "Xvfb",
                    "-displayfd",
                    str(write_fd),
                    "-screen",
                    "0",
                    "1280x720x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ],
                pass_fds=(write_fd,),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            os.close(write_fd)
            write_fd = -1
            number = b""
            deadline = time.monotonic() + 10
            while not number.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([read_fd], [], [], left)[0]:
                    raise RuntimeError(f"Xvfb did not start: {self.tail('xvfb.out')}")
                chunk = os.read(read_fd, 16)
                if not chunk:
                    raise RuntimeError(f"Xvfb exited: {self.tail('xvfb.out')}")
                number += chunk
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        return f":{int(number)}"

    def _wait_ready(self, deadline: float) -> None:
        with requests.Session() as session:
            session.auth = (self.username.encode(), self.password.encode())
            while True:
                assert self._kodi is not None
                if self._kodi.poll() is not None:
                    raise RuntimeError(
                        f"Kodi exited with {self._kodi.returncode}: {self.tail('kodi.out')}"
                        f"\n{self.tail_log()}"
                    )
                with contextlib.suppress(requests.RequestException, ValueError):
                    answer = session.post(
                        f"{self.url}/jsonrpc",
                        json={"jsonrpc": "2.0", "method": "JSONRPC.Ping", "id": 1},
                        timeout=2,
                    )
                    if answer.status_code == 200 and answer.json().get("result") == "pong":
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kodi's JSON-RPC did not answer: {self.tail_log()}")
                time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask Kodi to quit, then terminate, then kill; the same for Xvfb. Reaps both."""
        if self._kodi is not None and self._kodi.poll() is None:
            with contextlib.suppress(requests.RequestException):
                requests.post(
                    f"{self.url}/jsonrpc",
                    json={"jsonrpc": "2.0", "method": "Application.Quit", "id": 1},
                    auth=(self.username.encode(), self.password.encode()),
                    timeout=2,
                ).close()
        if self._kodi is not None:
            _end(self._kodi, timeout)
        if self._xvfb is not None:
            with contextlib.suppress(ProcessLookupError):
                self._xvfb.terminate()
            _end(self._xvfb, 5.0)
        self._kodi = self._xvfb = None
        while self._logs:
            self._logs.pop().close()

    # -- what tests look at --------------------------------------------------------------

    def rpc(self, method: str, params: dict | None = None):
        """One JSON-RPC call's result (AssertionError on a JSON-RPC error)."""
        body: dict = {"jsonrpc": "2.0", "method": method, "id": 1}
        if params is not None:
            body["params"] = params
        answer = requests.post(
            f"{self.url}/jsonrpc",
            json=body,
            auth=(self.username.encode(), self.password.encode()),
            timeout=10,
        )
        with contextlib.closing(answer):
            answer.raise_for_status()
            data = answer.json()
        assert "error" not in data, f"{method}: {data['error']}"
        return data["result"]

    def stop_playing(self, timeout: float = 10.0) -> None:
        """Stop every player and wait until none is active (Kodi then holds no stream open)."""
        deadline = time.monotonic() + timeout
        while players := self.rpc("Player.GetActivePlayers"):
            for player in players:
                self.rpc("Player.Stop", {"playerid": player["playerid"]})
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kodi keeps playing: {players}")
            time.sleep(0.1)

    def database(self) -> Path:
        """Kodi's video database (MyVideosNNN.db: the number is Kodi's schema version)."""
        found = sorted((self.home / ".kodi" / "userdata" / "Database").glob("MyVideos*.db"))
        if not found:
            raise RuntimeError("Kodi made no MyVideos*.db")
        return found[-1]

    def log_path(self) -> Path:
        return self.home / ".kodi" / "temp" / "kodi.log"

    def tail_log(self, lines: int = 30) -> str:
        path = self.log_path()
        if not path.exists():
            return "(no kodi.log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def tail(self, name: str, lines: int = 15) -> str:
        path = self.workdir / name
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def set_source_content(database: Path, folder: Path) -> None:
    """Tell Kodi that ``folder`` holds movies scraped by metadata.local (what the "Set content"
    dialog stores): its row in the ``path`` table. Kodi reads the table at each scan, so this
    works while Kodi runs."""
    path = source_path(folder)
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as db, db:
        row = db.execute("SELECT idPath FROM path WHERE strPath = ?", (path,)).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO path (strPath, strContent, strScraper, scanRecursive,"
                " useFolderNames, strSettings, noUpdate, exclude, allAudio)"
                " VALUES (?, 'movies', 'metadata.local', 2147483647, 0, '', 0, 0, 0)",
                (path,),
            )
        else:
            db.execute(
                "UPDATE path SET strContent = 'movies', strScraper = 'metadata.local',"
                " scanRecursive = 2147483647, useFolderNames = 0, exclude = 0"
                " WHERE idPath = ?",
                (row[0],),
            )


def _die_with_parent() -> None:
    """In the child, before exec: be killed when the test process dies, however it dies (a
    pytest killed by a CI timeout must not leave Kodi holding a port)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _end(process: subprocess.Popen, timeout: float) -> None:
    """Wait for a process (already asked to end) to exit; terminate, then kill its group."""
    try:
        process.wait(timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(5)
        return
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(5)
