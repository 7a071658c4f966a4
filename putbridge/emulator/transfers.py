"""Transfer records and their lifecycle on the emulator clock.

IN_QUEUE (1 s) -> DOWNLOADING (size / speed, at least 1 s) -> COMPLETING (1 s) -> [SEEDING
(seed_time, torrents only)] -> COMPLETED. A dead or unfetchable transfer goes to ERROR when it
leaves the queue. Status is a pure function of the schedule and the time; the emulator's `tick`
applies the side effects (files, events, callbacks) when a transfer crosses into completion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .files import format_time
from .torrents import TorrentMeta

QUEUE_SECONDS = 1.0
COMPLETING_SECONDS = 1.0
MIN_DOWNLOAD_SECONDS = 1.0
DEFAULT_TRANSFER_SIZE = 734_003_200  # 700 MiB: a plausible single video when nothing says
FIRST_TRANSFER_ID = 501

FINISHED = frozenset({"COMPLETED", "ERROR"})

_STATUS_MESSAGES = {
    "IN_QUEUE": "In queue...",
    "DOWNLOADING": "Downloading",
    "COMPLETING": "Completing...",
    "SEEDING": "Seeding",
    "COMPLETED": "Completed",
    "ERROR": "Error",
}


@dataclass(eq=False)
class TransferRecord:
    id: int
    name: str
    source: str
    type: str  # TORRENT | URL
    hash: str | None
    save_parent_id: int
    callback_url: str | None
    size: int
    created_at: float
    client_ip: str | None = None
    torrent: TorrentMeta | None = None
    content: bytes | None = None  # a fetched URL's bytes, kept as the completed file's content
    failure: str | None = None  # why it will end in ERROR once it leaves the queue
    tracker: str | None = None
    status: str = "IN_QUEUE"
    file_id: int | None = None
    error_message: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    queued_until: float = 0.0
    download_until: float = 0.0
    completing_until: float = 0.0
    seeding_until: float = 0.0
    seed_time: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def is_torrent(self) -> bool:
        return self.type == "TORRENT"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def schedule(self, now: float, speed: float, seed_time: float) -> None:
        """(Re)start the lifecycle at `now`."""
        self.status = "IN_QUEUE"
        self.started_at = now
        self.finished_at = None
        self.error_message = None
        self.file_id = None
        self.seed_time = seed_time if self.is_torrent else 0.0
        self.queued_until = now + QUEUE_SECONDS
        duration = max(MIN_DOWNLOAD_SECONDS, self.size / speed if speed > 0 else 0.0)
        self.download_until = self.queued_until + duration
        self.completing_until = self.download_until + COMPLETING_SECONDS
        self.seeding_until = self.completing_until + self.seed_time

    def status_at(self, now: float) -> str:
        if self.status == "ERROR":
            return "ERROR"
        if now < self.queued_until:
            return "IN_QUEUE"
        if self.failure is not None:
            return "ERROR"
        if now < self.download_until:
            return "DOWNLOADING"
        if now < self.completing_until:
            return "COMPLETING"
        if now < self.seeding_until:
            return "SEEDING"
        return "COMPLETED"

    def _downloaded(self, now: float) -> int:
        if self.status in ("IN_QUEUE", "ERROR"):
            return 0
        if self.status != "DOWNLOADING":
            return self.size
        span = self.download_until - self.queued_until
        fraction = min(1.0, max(0.0, (now - self.queued_until) / span)) if span > 0 else 1.0
        return int(self.size * fraction)

    def to_dict(self, now: float, userfile_exists: bool) -> dict:
        status = self.status
        downloaded = self._downloaded(now)
        percent = 100 if status in ("COMPLETING", "SEEDING", "COMPLETED") else 0
        if status == "DOWNLOADING" and self.size:
            percent = min(99, int(downloaded * 100 / self.size))
        downloading = status == "DOWNLOADING"
        span = self.download_until - self.queued_until
        speed = int(self.size / span) if span > 0 else 0
        seeding_seconds = 0
        if status in ("SEEDING", "COMPLETED") and self.seed_time > 0:
            seeding_seconds = int(min(now, self.seeding_until) - self.completing_until)
        uploaded = int(self.size * 0.5 * seeding_seconds / self.seed_time) if self.seed_time else 0
        torrent = self.is_torrent
        active_peers = torrent and status in ("DOWNLOADING", "SEEDING")
        links: list[dict] = []
        if torrent and self.hash:
            links.append(
                {"label": "magnet", "url": self.torrent.magnet if self.torrent else self.source}
            )
        return {
            "id": self.id,
            "name": self.name,
            "hash": self.hash,
            "type": self.type,
            "status": status,
            "status_message": _STATUS_MESSAGES.get(status, status),
            "source": self.source,
            "save_parent_id": self.save_parent_id,
            "file_id": self.file_id,
            "size": self.size,
            "downloaded": downloaded,
            "uploaded": uploaded,
            "down_speed": speed if downloading else 0,
            "up_speed": int(self.size * 0.5 / self.seed_time) if status == "SEEDING" else 0,
            "percent_done": percent,
            "completion_percent": percent,
            "estimated_time": max(1, math.ceil(self.download_until - now)) if downloading else None,
            "availability": 100,
            "current_ratio": round(uploaded / self.size, 2) if self.size else 0.0,
            "seconds_seeding": seeding_seconds,
            "peers_connected": 12 if active_peers else 0,
            "peers_getting_from_us": 2 if active_peers else 0,
            "peers_sending_to_us": 10 if torrent and downloading else 0,
            "error_message": self.error_message,
            "created_at": format_time(self.created_at),
            "started_at": format_time(self.started_at),
            "finished_at": format_time(self.finished_at),
            "callback_url": self.callback_url,
            "client_ip": self.client_ip,
            "created_torrent": False,
            "download_id": None,
            "is_private": bool(self.torrent and self.torrent.private),
            "simulated": False,
            "subscription_id": None,
            "torrent_link": f"/v2/transfers/{self.id}/torrent" if torrent else None,
            "tracker": self.tracker,
            "tracker_message": None,
            "links": links,
            "userfile_exists": userfile_exists,
        }


def callback_form(transfer: dict) -> dict[str, str]:
    """A transfer as flat form fields for callback_url: None -> '', bools -> 'true'/'false'."""
    form: dict[str, str] = {}
    for key, value in transfer.items():
        if value is None:
            form[key] = ""
        elif isinstance(value, bool):
            form[key] = "true" if value else "false"
        elif isinstance(value, list | dict):
            continue
        else:
            form[key] = str(value)
    return form
