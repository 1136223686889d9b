#!/bin/sh
# Give a RoomVitals client a broker password and its access rules.
#
#   deploy/mosquitto/add-client.sh CONF_DIR gateway SITE GATEWAY_ID
#       user gw-SITE-GATEWAY_ID: publishes readings, live values and device status under
#       its site only, and its own gateway status
#   deploy/mosquitto/add-client.sh CONF_DIR reader USER
#       a dashboard (ingest, web): reads everything under roomvitals/v1/, writes nothing
#
# The password comes from the environment variable MQTT_PASSWORD (never from the command
# line, where other users could see it in the process list). CONF_DIR holds the broker's
# passwd and acl files (/etc/mosquitto/roomvitals in production); afterwards reload the
# broker (systemctl reload mosquitto, or kill -HUP) so it reads them again.
set -eu

usage() {
    echo "usage: $0 CONF_DIR gateway SITE GATEWAY_ID | $0 CONF_DIR reader USER" >&2
    echo "       (password in env MQTT_PASSWORD)" >&2
    exit 2
}
[ $# -ge 3 ] || usage
dir=$1
role=$2
: "${MQTT_PASSWORD:?set MQTT_PASSWORD to the new client's password}"

segment() {  # a topic segment: no MQTT separators or wildcards
    case $1 in
        */*|*+*|*#*|'') echo "$0: '$1' may not be empty or contain / + #" >&2; exit 2 ;;
    esac
}

case $role in
    gateway)
        [ $# -eq 4 ] || usage
        segment "$3"; segment "$4"
        user="gw-$3-$4"
        rules="topic write roomvitals/v1/$3/reading/#
topic write roomvitals/v1/$3/live/#
topic write roomvitals/v1/$3/device-status/#
topic write roomvitals/v1/$3/gateway-status/$4"
        ;;
    reader)
        [ $# -eq 3 ] || usage
        user=$3
        rules="topic read roomvitals/v1/#"
        ;;
    *) usage ;;
esac

mkdir -p "$dir"
touch "$dir/passwd" "$dir/acl"
chmod 600 "$dir/passwd"
mosquitto_passwd -b "$dir/passwd" "$user" "$MQTT_PASSWORD"
if grep -qx "user $user" "$dir/acl"; then
    echo "$user already has rules in $dir/acl; password updated"
else
    printf '\nuser %s\n%s\n' "$user" "$rules" >> "$dir/acl"
    echo "added $user to $dir/passwd and $dir/acl"
fi
