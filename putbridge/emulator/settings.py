"""The account settings put.io shows and what a change of them may contain."""

from __future__ import annotations

from typing import Any

from .errors import ApiError

DEFAULT_SETTINGS: dict[str, Any] = {
    "beta_user": False,
    "callback_url": None,
    "dark_theme": False,
    "default_download_folder": 0,
    "dont_autoselect_subtitles": False,
    "fluid_layout": False,
    "hide_subtitles": False,
    "history_enabled": True,
    "is_invisible": False,
    "locale": "en",
    "login_mails_enabled": True,
    "next_episode": True,
    "pushover_token": None,
    "show_optimistic_usage": False,
    "sort_by": "NAME_ASC",
    "start_from": True,
    "subtitle_languages": ["eng", None],
    "theater_mode": False,
    "theme": "auto",
    "transfer_sort_by": None,
    "trash_enabled": False,
    "tunnel_route_name": None,
    "two_factor_enabled": False,
    "use_private_download_ip": False,
    "use_start_from": True,
    "video_player": "html5",
}


def _problem(key: str, value: Any) -> str | None:
    default = DEFAULT_SETTINGS[key]
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "true or false"
    if isinstance(default, int):  # default_download_folder: a folder id
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return None if ok else "a folder id (an integer >= 0)"
    if isinstance(default, list):
        ok = isinstance(value, list) and all(isinstance(v, str) or v is None for v in value)
        return None if ok else "a list of strings"
    if isinstance(default, str):
        return None if isinstance(value, str) else "a string"
    return None if value is None or isinstance(value, str) else "a string or null"


def check_settings(changes: Any) -> dict[str, Any]:
    """`changes` if it is an object of known settings with values of the right type, else
    ApiError 400 naming what is wrong."""
    if not isinstance(changes, dict):
        raise ApiError(400, "BadRequest", "settings must be a JSON object")
    unknown = sorted(str(key) for key in set(changes) - set(DEFAULT_SETTINGS))
    if unknown:
        raise ApiError(400, "BadRequest", f"Unknown settings: {', '.join(unknown)}")
    for key, value in changes.items():
        wanted = _problem(key, value)
        if wanted:
            raise ApiError(400, "BadRequest", f"Setting {key} must be {wanted}, not {value!r}")
    return changes
