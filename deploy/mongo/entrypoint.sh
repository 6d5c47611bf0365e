#!/usr/bin/env bash
# compose.yaml's MongoDB entrypoint: a replica set with authentication needs a keyfile (the
# members' shared secret; with one member it authenticates nobody else, but mongod refuses
# --replSet with auth without one). It is made once, random, in the mongo-config volume, owned
# by mongodb and 0400 as mongod demands; then the image's own entrypoint runs (it creates the
# root user from MONGO_INITDB_ROOT_* on the first start). Adding members later: give every
# member the same keyfile.
set -euo pipefail
keyfile=/data/configdb/keyfile
if [ ! -s "$keyfile" ]; then
  umask 077
  head -c 756 /dev/urandom | base64 -w0 >"$keyfile"
fi
chown mongodb:mongodb "$keyfile"
chmod 0400 "$keyfile"
exec docker-entrypoint.sh "$@"
