#!/bin/sh
# Container entrypoint: run the command (CMD: `putbridge run`) as the user PUID:PGID.
#
# Started as root (the default), it gives the image's `putbridge` account the uid/gid in
# PUID/PGID (1000 when unset), makes the config and state folders that account's, writes a
# starter config file when there is none, and drops root with setpriv before exec'ing the command,
# so the daemon is PID 1 and gets `docker stop`'s SIGTERM itself. Started with --user, it has
# nothing to adjust (nor the right to) and only execs.
set -eu

APP_USER=putbridge
TEMPLATE=/usr/local/share/putbridge/putbridge.toml
STATE_DIR="${PUTBRIDGE_STATE__DIR:-/config/state}"

log() {
    echo "entrypoint: $*" >&2
}

die() {
    log "$*"
    exit 1
}

numeric() {
    case "$2" in
        '' | *[!0-9]*) die "$1 must be a number (a uid or gid), not '$2'" ;;
    esac
}

# `putbridge run` stops when the file named by PUTBRIDGE_CONFIG is missing: give a first start
# an all-comments file to fill in (`putbridge login` adds the token to it, keeping the comments).
seed_config() {
    [ -n "${PUTBRIDGE_CONFIG:-}" ] || return 0
    [ -e "$PUTBRIDGE_CONFIG" ] && return 0
    mkdir -p "$(dirname "$PUTBRIDGE_CONFIG")"
    # umask 077: the file will hold the put.io token.
    if (umask 077 && cp "$TEMPLATE" "$PUTBRIDGE_CONFIG"); then
        log "no config file: wrote a starter one to $PUTBRIDGE_CONFIG (edit it, then putbridge login)"
    else
        log "no config file and could not write $PUTBRIDGE_CONFIG"
    fi
}

# Make a folder tree ours, touching only what is not already (a restart changes nothing). -xdev
# keeps it out of anything mounted inside. A refusal (read-only mount) is reported, not fatal:
# putbridge then says exactly what it cannot write.
own_tree() {
    [ -d "$1" ] && [ "$1" != / ] || return 0
    find "$1" -xdev \( ! -user "$PUID" -o ! -group "$PGID" \) -exec chown -h "$PUID:$PGID" {} + ||
        log "could not give $1 to $PUID:$PGID; putbridge needs to write there"
}

own_one() {
    [ -f "$1" ] || return 0
    chown -h "$PUID:$PGID" "$1" || log "could not give $1 to $PUID:$PGID"
}

# The media volumes can hold a whole library: never walk them. Their top folder only, and only
# when the account cannot write it and root owns it (what Docker does when it creates a missing
# bind-mount source); a folder someone else owns is left alone with a warning.
check_media_dir() {
    [ -d "$1" ] || return 0
    if as_user test -w "$1"; then
        return 0
    fi
    if [ "$(stat -c %u "$1")" = 0 ] && chown "$PUID:$PGID" "$1"; then
        log "gave $1 (owned by root) to $PUID:$PGID"
    else
        log "warning: $1 is not writable by $PUID:$PGID; set PUID/PGID to its owner or fix it"
    fi
}

# --clear-groups rather than --init-groups: the putbridge account has no supplementary groups,
# and initgroups() looks the uid up by number, which with a PUID that an image account already
# has (33 = www-data) would hand over that account's groups instead.
as_user() {
    setpriv --reuid="$PUID" --regid="$PGID" --clear-groups -- "$@"
}

# docker run IMAGE --help / -v ...: options are for putbridge.
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- putbridge "$@"
fi

if [ "$(id -u)" != 0 ]; then
    seed_config
    exec "$@"
fi

PUID="${PUID:-1000}"
PGID="${PGID:-1000}"
numeric PUID "$PUID"
numeric PGID "$PGID"

if [ "$PUID" = 0 ]; then
    log "warning: PUID=0 runs putbridge as root"
    seed_config
    exec "$@"
fi

# -o: the id may already belong to an image account or group (PGID=100 is Debian's "users").
if [ "$(id -g "$APP_USER")" != "$PGID" ]; then
    groupmod -o -g "$PGID" "$APP_USER"
fi
if [ "$(id -u "$APP_USER")" != "$PUID" ]; then
    usermod -o -u "$PUID" "$APP_USER"
fi

umask "${UMASK:-022}"
mkdir -p /config "$STATE_DIR"
seed_config
own_tree /config
own_tree "$STATE_DIR"
own_tree "/home/$APP_USER"
# A config file kept outside /config: the file only, never its folder (which could be /etc).
own_one "${PUTBRIDGE_CONFIG:-}"
check_media_dir /library
check_media_dir /blackhole

export HOME="/home/$APP_USER" USER="$APP_USER" LOGNAME="$APP_USER"
exec setpriv --reuid="$PUID" --regid="$PGID" --clear-groups -- "$@"
