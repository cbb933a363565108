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
# AMI (trunk registration status, reload checks) only with a password of its own.
if [ -n "${AMI_PASSWORD:-}" ]; then
    escaped=$(printf '%s' "$AMI_PASSWORD" | sed 's/[&|\\]/\\&/g')
    sed "s|@AMI_PASSWORD@|${escaped}|" /etc/asterisk/manager.conf.tmpl > /etc/asterisk/manager.conf
else
    printf '[general]\nenabled = no\n' > /etc/asterisk/manager.conf
fi
mkdir -p /etc/asterisk/vocals
exec asterisk -f -U asterisk -G asterisk
