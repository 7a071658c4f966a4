"""The put.io endpoints putbridge uses, returning typed models.

All HTTP goes through ``HttpCore._request`` (see ``_http.py``); this module only knows paths,
parameters and the shape of each answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from putbridge.errors import AuthError, NotFound, PutioError
from putbridge.logs import register_secret
from putbridge.putio._http import LOGIN_HINT, HttpCore
from putbridge.putio.models import Event, File, OobCode, Subtitle, Transfer

# put.io needs a registered app id for the device-link flow; deployments pass their own.
DEFAULT_APP_ID = "0"
MAX_PER_PAGE = 1000


class PutioClient(HttpCore):
    """A put.io API v2 client: one request chokepoint, typed answers, cursors followed lazily."""

    def __init__(self, token: str | None, *, app_id: str = DEFAULT_APP_ID, **options: Any) -> None:
        """``options``: api_url, upload_url, session, timeout, retry and wait bounds, and the
        injectable sleep/now, as HttpCore takes them."""
        super().__init__(token, **options)
        self.app_id = app_id

    # -- files -------------------------------------------------------------------------------

    def iter_files(
        self,
        parent_id: int = -1,
        *,
        per_page: int = MAX_PER_PAGE,
        file_type: str | Iterable[str] | None = None,
        sort_by: str | None = None,
    ) -> Iterator[File]:
        """Every file under ``parent_id`` (-1: the whole account, flat), one page at a time."""
        for page in self._file_pages(parent_id, per_page, file_type, sort_by):
            for item in _list(page, "files", "files/list"):
                yield File.from_api(item)

    def list_files(self, parent_id: int) -> tuple[File | None, list[File]]:
        """One folder (or file) and all its children, every page fetched."""
        parent: File | None = None
        files: list[File] = []
        for index, page in enumerate(self._file_pages(parent_id, MAX_PER_PAGE, None, None)):
            if index == 0 and page.get("parent") is not None:
                parent = File.from_api(page["parent"])
            files.extend(File.from_api(item) for item in _list(page, "files", "files/list"))
        return parent, files

    def _file_pages(
        self,
        parent_id: int,
        per_page: int,
        file_type: str | Iterable[str] | None,
        sort_by: str | None,
    ) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"parent_id": parent_id, "per_page": _per_page(per_page)}
        if file_type is not None:
            params["file_type"] = file_type if isinstance(file_type, str) else ",".join(file_type)
        if sort_by is not None:
            params["sort_by"] = sort_by
        return self._pages("files/list", params, "files/list/continue", per_page)

    def _pages(
        self, path: str, params: dict[str, Any], continue_path: str, per_page: int
    ) -> Iterator[dict[str, Any]]:
        """Pages of a cursor listing, each fetched only when the previous one is used up."""
        page = self._request("GET", path, params=params, idempotent=True)
        while True:
            yield page
            cursor = page.get("cursor")
            if cursor is None or cursor == "":
                return
            if not isinstance(cursor, str):
                raise PutioError(f"put.io sent a bad cursor for {path}: {cursor!r}"[:200])
            page = self._request(
                "POST",
                continue_path,
                data={"cursor": cursor, "per_page": per_page},
                idempotent=True,
            )
            if page.get("cursor") == cursor:
                # The same cursor again would page forever.
                raise PutioError(f"put.io sent the same cursor twice while paging {path}")

    def get_file(self, file_id: int) -> File:
        """One file or folder by id."""
        data = self._request("GET", f"files/{int(file_id)}", idempotent=True)
        return File.from_api(_field(data, "file", "files/{id}"))

    def find_child(self, parent_id: int, name: str) -> File | None:
        """The child of ``parent_id`` called ``name``, or None."""
        try:
            data = self._request(
                "GET", f"files/{int(parent_id)}/child", params={"name": name}, idempotent=True
            )
        except NotFound:
            return None
        return File.from_api(_field(data, "file", "files/{id}/child"))

    def create_folder(self, name: str, parent_id: int = 0) -> File:
        """A new folder ``name`` in ``parent_id`` (0: the root)."""
        data = self._request(
            "POST",
            "files/create-folder",
            data={"name": name, "parent_id": int(parent_id)},
            idempotent=False,
        )
        return File.from_api(_field(data, "file", "files/create-folder"))

    def delete_files(self, ids: Iterable[int]) -> None:
        """Delete files and folders; ids already gone are skipped, so a retry is harmless."""
        csv = _csv(ids)
        if csv:
            self._request(
                "POST",
                "files/delete",
                params={"skip_nonexistents": 1},
                data={"file_ids": csv},
                idempotent=True,
            )

    def file_url(self, file_id: int) -> str:
        """A direct storage URL for the file's bytes (valid from this IP only, for a while)."""
        data = self._request("GET", f"files/{int(file_id)}/url", idempotent=True)
        return _string(data, "url", "files/{id}/url")

    def download_url(
        self, file_id: int, *, name: str | None = None, with_token: bool = False
    ) -> str:
        """The API download URL (a 302 to storage); with_token embeds the account token."""
        url = f"{self.api_url}/files/{int(file_id)}/download"
        if name:
            url += "/" + quote(name, safe="")
        return url + self._token_query({}, with_token)

    def hls_url(
        self,
        file_id: int,
        *,
        subtitle_key: str | None = "all",
        original: bool | None = None,
        with_token: bool = False,
    ) -> str:
        """The HLS playlist URL of a video; with_token embeds the account token."""
        query: dict[str, str] = {}
        if subtitle_key is not None:
            query["subtitle_key"] = subtitle_key
        if original is not None:
            query["original"] = "1" if original else "0"
        url = f"{self.api_url}/files/{int(file_id)}/hls/media.m3u8"
        return url + self._token_query(query, with_token)

    def _token_query(self, query: dict[str, str], with_token: bool) -> str:
        if with_token:
            if self._token is None:
                raise AuthError(f"no put.io token is configured; {LOGIN_HINT}")
            query["oauth_token"] = self._token
        return f"?{urlencode(query)}" if query else ""

    def list_subtitles(
        self, file_id: int, languages: Iterable[str] | None = None
    ) -> tuple[str | None, list[Subtitle]]:
        """The key put.io would pick by default (or None) and every subtitle it offers."""
        params = {"languages": ",".join(languages)} if languages else None
        data = self._request(
            "GET", f"files/{int(file_id)}/subtitles", params=params, idempotent=True
        )
        default = data.get("default")
        if default is not None and not isinstance(default, str):
            raise PutioError(f"put.io sent a bad default subtitle key: {default!r}"[:200])
        subtitles = [Subtitle.from_api(item) for item in _list(data, "subtitles", "subtitles")]
        return default, subtitles

    def download_subtitle(
        self, file_id: int, key: str = "default", *, format: str = "srt"
    ) -> bytes:
        """The subtitle's text, as put.io encodes it."""
        resp = self._request(
            "GET",
            f"files/{int(file_id)}/subtitles/{quote(key, safe='')}",
            params={"format": format},
            idempotent=True,
            raw=True,
        )
        return resp.content

    # -- transfers ---------------------------------------------------------------------------

    def add_transfer(
        self, url: str, *, save_parent_id: int | None = None, callback_url: str | None = None
    ) -> Transfer:
        """Start fetching a magnet or http(s) URL; never retried on 5xx (dedupe by info-hash)."""
        form: dict[str, Any] = {"url": url}
        if save_parent_id is not None:
            form["save_parent_id"] = int(save_parent_id)
        if callback_url is not None:
            form["callback_url"] = callback_url
        data = self._request("POST", "transfers/add", data=form, idempotent=False)
        return Transfer.from_api(_field(data, "transfer", "transfers/add"))

    def upload_torrent(
        self,
        data: bytes,
        filename: str,
        *,
        parent_id: int | None = None,
        callback_url: str | None = None,
    ) -> Transfer:
        """Upload a .torrent, which put.io turns into a transfer; never retried on 5xx."""
        form: dict[str, Any] = {"filename": filename}
        if parent_id is not None:
            form["parent_id"] = int(parent_id)
        if callback_url is not None:
            form["callback_url"] = callback_url
        answer = self._request(
            "POST",
            f"{self.upload_url}/files/upload",
            data=form,
            files={"file": (filename, data, "application/x-bittorrent")},
            idempotent=False,
        )
        if answer.get("transfer") is None and answer.get("file") is not None:
            raise PutioError(
                f"put.io stored {filename} as a file, not a transfer: it is not a valid .torrent"
            )
        return Transfer.from_api(_field(answer, "transfer", "files/upload"))

    def iter_transfers(self, per_page: int = MAX_PER_PAGE) -> Iterator[Transfer]:
        """Every transfer in the account, one page at a time."""
        params = {"per_page": _per_page(per_page)}
        for page in self._pages("transfers/list", params, "transfers/list/continue", per_page):
            for item in _list(page, "transfers", "transfers/list"):
                yield Transfer.from_api(item)

    def get_transfer(self, transfer_id: int) -> Transfer:
        """One transfer by id."""
        data = self._request("GET", f"transfers/{int(transfer_id)}", idempotent=True)
        return Transfer.from_api(_field(data, "transfer", "transfers/{id}"))

    def retry_transfer(self, transfer_id: int) -> Transfer:
        """Restart a failed transfer."""
        data = self._request(
            "POST", "transfers/retry", data={"id": int(transfer_id)}, idempotent=False
        )
        return Transfer.from_api(_field(data, "transfer", "transfers/retry"))

    def cancel_transfers(self, ids: Iterable[int]) -> None:
        """Stop transfers; unknown ids are ignored by put.io."""
        csv = _csv(ids)
        if csv:
            self._request("POST", "transfers/cancel", data={"transfer_ids": csv}, idempotent=True)

    def clean_transfers(self, ids: Iterable[int] | None = None) -> list[int]:
        """Drop finished transfers from the list (all of them when ids is None); their ids."""
        form = None
        if ids is not None:
            csv = _csv(ids)
            if not csv:  # an empty list means "all finished" to put.io: never send one
                return []
            form = {"transfer_ids": csv}
        data = self._request("POST", "transfers/clean", data=form, idempotent=True)
        deleted = data.get("deleted_ids", [])
        if not isinstance(deleted, list) or not all(_is_int(item) for item in deleted):
            raise PutioError(f"put.io sent bad deleted_ids: {deleted!r}"[:200])
        return deleted

    def remove_transfers(self, ids: Iterable[int]) -> None:
        """Remove transfers from the list whatever their state (their files stay)."""
        csv = _csv(ids)
        if csv:
            self._request("POST", "transfers/remove", data={"transfer_ids": csv}, idempotent=True)

    # -- events, account, login --------------------------------------------------------------

    def list_events(
        self, *, before: int | None = None, per_page: int | None = None
    ) -> tuple[list[Event], bool]:
        """The newest events (older than ``before``), and whether older ones remain."""
        params: dict[str, Any] = {}
        if before is not None:
            params["before"] = int(before)
        if per_page is not None:
            params["per_page"] = int(per_page)
        data = self._request("GET", "events/list", params=params or None, idempotent=True)
        has_more = data.get("has_more", False)
        if not isinstance(has_more, bool):
            raise PutioError(f"put.io sent a bad has_more: {has_more!r}"[:200])
        return [Event.from_api(item) for item in _list(data, "events", "events/list")], has_more

    def account_info(self) -> dict[str, Any]:
        """The account's "info" object (user, disk, settings)."""
        data = self._request("GET", "account/info", idempotent=True)
        info = _field(data, "info", "account/info")
        if not isinstance(info, dict):
            raise PutioError("put.io sent an account info that is not a JSON object")
        return info

    def oob_code(self) -> OobCode:
        """A fresh device-link code for `putbridge login`."""
        data = self._request(
            "GET", "oauth2/oob/code", params={"app_id": self.app_id}, auth=False, idempotent=True
        )
        return OobCode.from_api(data)

    def oob_poll(self, code: str) -> str | None:
        """The token once the user has linked ``code``, None while still pending."""
        try:
            data = self._request(
                "GET", f"oauth2/oob/code/{quote(code, safe='')}", auth=False, idempotent=True
            )
        except NotFound as err:
            raise NotFound(
                f"the login code {code} expired or is unknown; run `putbridge login` again",
                error_type=err.error_type,
                error_message=err.error_message,
                status_code=err.status_code,
            ) from err
        token = data.get("oauth_token")
        if token is None or token == "":
            return None
        if not isinstance(token, str):
            raise PutioError("put.io sent an oauth_token that is not a string")
        register_secret(token)
        return token


def _per_page(per_page: int) -> int:
    if isinstance(per_page, bool) or not isinstance(per_page, int):
        raise TypeError(f"per_page must be an int, not {per_page!r}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}, not {per_page}")
    return per_page


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _csv(ids: Iterable[int]) -> str:
    return ",".join(str(int(item)) for item in ids)


def _field(data: Mapping[str, Any], key: str, what: str) -> Any:
    if data.get(key) is None:
        raise PutioError(f"put.io sent no {key!r} in its answer to {what}")
    return data[key]


def _list(data: Mapping[str, Any], key: str, what: str) -> list[Any]:
    items = data.get(key)
    if not isinstance(items, list):
        raise PutioError(f"put.io sent no {key!r} list in its answer to {what}")
    return items


def _string(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise PutioError(f"put.io sent no {key!r} string in its answer to {what}")
    return value
