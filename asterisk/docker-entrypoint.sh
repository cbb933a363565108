#!/bin/sh
# Put the ARI password from the environment into ari.conf, then run Asterisk in the
# foreground. Refuse to start with no password rather than run ARI with a known one.
set -eu
if [ -z "${ARI_PASSWORD:-}" ]; then
    echo "ARI_PASSWORD is not set" >&2
    exit 2
fi
escaped=$(printf '%s' "$ARI_PASSWORD" | sed 's/[&|\\]/\\&/g')
sed "s|@ARI_PASSWORD@|${escaped}|" /etc/asterisk/ari.conf.tmpl > /etc/asterisk/ari.conf
mkdir -p /etc/asterisk/vocals
exec asterisk -f -U asterisk -G asterisk
