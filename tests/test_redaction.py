"""The token never shows: not in any logger's records, exception texts, or the client's repr."""

from __future__ import annotations

import io
import logging

import pytest
import requests

from putbridge.errors import AuthError, TransientError
from putbridge.logs import REDACTED, redact, register_secret, setup_logging
from putbridge.putio import PutioClient

API = "https://api.test/v2"
TOKEN = "redaction-test-token-4e9a77"


@pytest.fixture
def stream_on(request):
    """Attach a StringIO handler to a logger for the test; returns the StringIO."""

    def attach(name, fmt="%(levelname)s %(name)s: %(message)s"):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter(fmt))
        logger = logging.getLogger(name)
        old_level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)

        def detach():
            logger.removeHandler(handler)
            logger.setLevel(old_level)

        request.addfinalizer(detach)
        return stream

    return attach


def test_redact_replaces_registered_secrets_only():
    register_secret("short")  # under 6 chars: would redact ordinary words, so ignored
    register_secret("")
    register_secret(TOKEN)
    assert redact(f"a {TOKEN} b short") == f"a {REDACTED} b short"


def test_percent_encoded_form_is_redacted_too():
    secret = "tok/with+reserved=chars"
    register_secret(secret)
    assert redact("?oauth_token=tok%2Fwith%2Breserved%3Dchars") == f"?oauth_token={REDACTED}"


def test_foreign_logger_record_is_redacted(caplog, stream_on):
    register_secret(TOKEN)
    stream = stream_on("urllib3.connectionpool")
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        logging.getLogger("urllib3.connectionpool").debug(
            '%s://%s:%s "%s %s %s" %s',
            "https",
            "api.put.io",
            443,
            "GET",
            f"/v2/files/1/download?oauth_token={TOKEN}",
            "HTTP/1.1",
            302,
        )
    assert TOKEN not in caplog.text
    assert TOKEN not in stream.getvalue()
    assert f"oauth_token={REDACTED}" in stream.getvalue()
    record = caplog.records[-1]
    assert TOKEN not in record.getMessage() and record.args == ()


def test_records_without_secrets_keep_their_args(caplog):
    register_secret(TOKEN)
    with caplog.at_level(logging.INFO, logger="putbridge.test"):
        logging.getLogger("putbridge.test").info("synced %d files", 3)
    assert caplog.records[-1].args == (3,)


def test_exception_text_is_redacted(stream_on):
    register_secret(TOKEN)
    stream = stream_on("putbridge.test.exc")
    try:
        raise ValueError(f"bad url https://x/?oauth_token={TOKEN}")
    except ValueError:
        logging.getLogger("putbridge.test.exc").exception("download failed")
    output = stream.getvalue()
    assert "ValueError: bad url" in output
    assert TOKEN not in output


def test_setup_logging_output_is_redacted(capsys):
    root = logging.getLogger()
    old_level = root.level
    try:
        handler = setup_logging("debug")
        again = setup_logging(logging.DEBUG, json=True)  # replaces, does not stack
        assert handler not in root.handlers and again in root.handlers
        register_secret(TOKEN)
        logging.getLogger("putbridge.test.setup").warning("token is %s", TOKEN)
    finally:
        root.removeHandler(again)
        again.close()
        root.setLevel(old_level)
    err = capsys.readouterr().err
    assert '"logger": "putbridge.test.setup"' in err
    assert REDACTED in err and TOKEN not in err


def test_client_repr_hides_token():
    with PutioClient(TOKEN, api_url=API) as client:
        assert repr(client) == f"PutioClient(api_url='{API}')"
        assert TOKEN not in str(client)


def test_auth_error_does_not_carry_the_token(requests_mock):
    requests_mock.get(
        f"{API}/files/1",
        status_code=401,
        json={"error_type": "invalid_grant", "error_message": f"token {TOKEN} is revoked"},
    )
    with PutioClient(TOKEN, api_url=API) as client, pytest.raises(AuthError) as info:
        client.get_file(1)
    err = info.value
    for text in (str(err), repr(err), err.error_message):
        assert TOKEN not in text
    assert requests_mock.last_request.headers["Authorization"] == f"token {TOKEN}"


def test_transient_error_from_a_url_with_the_token(requests_mock, caplog):
    url = f"{API}/files/1/download?oauth_token={TOKEN}"
    requests_mock.get(
        url,
        exc=requests.ConnectionError(
            f"HTTPSConnectionPool(host='api.test', port=443): Max retries exceeded with url: "
            f"/v2/files/1/download?oauth_token={TOKEN} (Caused by NewConnectionError)"
        ),
    )
    with (
        caplog.at_level(logging.DEBUG),
        PutioClient(TOKEN, api_url=API, sleep=lambda s: None, max_attempts=2) as client,
        pytest.raises(TransientError) as info,
    ):
        client._request("GET", url, idempotent=True, raw=True)
    err = info.value
    assert "Max retries exceeded" in str(err)
    assert TOKEN not in str(err) and TOKEN not in repr(err)
    assert REDACTED in str(err)
    assert caplog.records and TOKEN not in caplog.text
