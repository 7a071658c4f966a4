"""/v2 account, OAuth (OOB codes, validate, logout), events and the per-app config store."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from .errors import ApiError, not_found
from .settings import DEFAULT_SETTINGS, check_settings
from .webutil import (
    base_url,
    emulator,
    get_param,
    int_param,
    json_body,
    ok,
    request_token,
    require_param,
)

bp = Blueprint("putio_account", __name__)

EMULATOR_APP = {
    "id": 1,
    "name": "putbridge emulator app",
    "description": "An application linked through the emulator",
    "website": "",
    "has_icon": False,
}


def _settings() -> dict[str, Any]:
    return {**DEFAULT_SETTINGS, **emulator().settings}


@bp.get("/account/info")
def account_info() -> Response:
    emu = emulator()
    with emu.lock:
        used = emu.tree.records[0].size
    info = {
        "user_id": emu.user_id,
        "username": emu.username,
        "mail": f"{emu.username}@emulator.invalid",
        "avatar_url": f"{base_url()}images/file_types/avatar.png",
        "account_status": "active",
        "account_active": True,
        "can_create_sub_account": False,
        "is_sub_account": False,
        "is_eligible_for_friend_invitation": False,
        "disk": {"avail": max(0, emu.disk_size - used), "size": emu.disk_size, "used": used},
        "monthly_bandwidth_usage": 0,
        "trash_size": 0,
        "files_will_be_deleted_at": None,
        "password_last_changed_at": None,
        "private_download_host_ip": None,
        "settings": _settings(),
        "warnings": {},
    }
    return ok(info=info)


@bp.get("/account/settings")
def account_settings() -> Response:
    return ok(settings=_settings())


@bp.post("/account/settings")
def account_settings_update() -> Response:
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "Send the settings to change as a JSON object")
    changes = check_settings(body.get("settings", body))
    emu = emulator()
    with emu.lock:
        emu.settings.update(changes)
    return ok()


# ---- OAuth -----------------------------------------------------------------------------------


@bp.get("/oauth2/oob/code")
def oob_code() -> Response:
    app_id = get_param("app_id")
    if not app_id:
        raise ApiError(400, "BadRequest", "app_id is required")
    emu = emulator()
    with emu.lock:
        entry = emu.oob.create(app_id, get_param("client_name"), emu.clock.now())
    return ok(code=entry.code, qr_code_url=f"{base_url()}link?code={entry.code}")


@bp.get("/oauth2/oob/code/<code>")
def oob_poll(code: str) -> Response:
    emu = emulator()
    with emu.lock:
        entry = emu.oob.get(code, emu.clock.now())
        return ok(oauth_token=entry.token)


@bp.post("/oauth2/oob/code")
def oob_link() -> Response:
    emu = emulator()
    code = require_param("code")
    with emu.lock:
        emu.oob.approve(code, emu.token, emu.clock.now())
    return ok(app=EMULATOR_APP)


@bp.get("/oauth2/validate")
def validate() -> Response:
    emu = emulator()
    token_id = emu.token_id(request_token())
    if token_id is None:
        return ok(result=False, token_id=None, token_scope=None, user_id=None)
    return ok(result=True, token_id=token_id, token_scope="default", user_id=emu.user_id)


@bp.post("/oauth/grants/logout")
def logout() -> Response:
    return ok()


# ---- events ----------------------------------------------------------------------------------


@bp.get("/events/list")
def events_list() -> Response:
    per_page = int_param("per_page", 50)
    if per_page is None or per_page <= 0 or per_page > 1000:
        raise ApiError(400, "INVALID_PER_PAGE", "per_page must be between 1 and 1000")
    events, has_more = emulator().list_events(per_page, int_param("before"))
    return ok(events=events, has_more=has_more)


@bp.post("/events/delete")
def events_clear() -> Response:
    emulator().delete_events()
    return ok()


@bp.post("/events/delete/<int:event_id>")
def event_delete(event_id: int) -> Response:
    emulator().delete_events(event_id)
    return ok()


# ---- config (per-app key/value store) ------------------------------------------------------


def _config() -> dict[str, Any]:
    return emulator().app_config


@bp.get("/config")
def config_get_all() -> Response:
    with emulator().lock:
        return ok(config=dict(_config()))


@bp.put("/config")
def config_put_all() -> Response:
    body = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
        raise ApiError(400, "BadRequest", 'Send {"config": {...}} as JSON')
    with emulator().lock:
        _config().clear()
        _config().update(body["config"])
    return ok()


@bp.get("/config/<key>")
def config_get(key: str) -> Response:
    with emulator().lock:
        return ok(value=_config().get(key))


@bp.put("/config/<key>")
def config_put(key: str) -> Response:
    body = json_body()
    if not isinstance(body, dict) or "value" not in body:
        raise ApiError(400, "BadRequest", 'Send {"value": ...} as JSON')
    with emulator().lock:
        _config()[key] = body["value"]
    return ok()


@bp.delete("/config/<key>")
def config_delete(key: str) -> Response:
    with emulator().lock:
        if _config().pop(key, None) is None:
            raise not_found("Key")
    return ok()
