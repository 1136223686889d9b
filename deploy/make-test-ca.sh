#!/bin/sh
# Make a test certificate authority and certificates for one RoomVitals site, with openssl.
#
#   deploy/make-test-ca.sh SITE OUTDIR [BROKER_HOST]
#
# OUTDIR gets: ca.crt/ca.key (the test CA), server.crt/server.key (the broker, valid for
# BROKER_HOST, localhost and 127.0.0.1), and client-SITE.crt/.key (a client certificate for
# the site's gateways). For a real clinic use the health system's own CA; this is for tests,
# demos and a first set-up. Keys are unencrypted and readable only by their owner.
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 SITE OUTDIR [BROKER_HOST]" >&2
    exit 2
fi
site=$1
out=$2
host=${3:-localhost}
days=${ROOMVITALS_CERT_DAYS:-825}

case $site in
    */*|*+*|*#*|'') echo "$0: site '$site' may not be empty or contain / + #" >&2; exit 2 ;;
esac

mkdir -p "$out"
umask 077
cd "$out"

if [ ! -f ca.key ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -sha256 \
        -keyout ca.key -out ca.crt -subj "/O=RoomVitals test CA/CN=RoomVitals test CA" \
        2>/dev/null
fi

sign() {  # sign NAME SUBJECT EXTENSIONS
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    printf '%s\n' "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" \
        -sha256 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

sign server "/O=RoomVitals/CN=$host" \
    "subjectAltName=DNS:$host,DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
sign "client-$site" "/O=RoomVitals/OU=$site/CN=gateways-$site" \
    "extendedKeyUsage=clientAuth"

chmod 644 ca.crt server.crt "client-$site.crt"
echo "test CA and certificates for site $site in $out"
