#!/usr/bin/env bash
# Restart the daphne processes one after the other, each only once the one before is ready, so
# nginx always has a process to send requests to and no page ever sees the site down: the pages
# on a restarting process reconnect through nginx to another and resume from their cursor.
#
#   deploy/rolling-restart.sh            # migrate + collectstatic, then every running madang@N
#   deploy/rolling-restart.sh 1 2 3      # just these instances, no migrate
#
# Ready means /readyz answers 200 through the process's own socket (database and channel layer
# reachable), asked with the site's Host (ALLOWED_HOSTS applies): the first of
# DJANGO_ALLOWED_HOSTS in the environment file, or MADANG_HOST.
set -euo pipefail

env_file=${MADANG_ENV_FILE:-/etc/madang/madang.env}
socket_dir=${MADANG_SOCKET_DIR:-/run/madang}
timeout=${MADANG_READY_TIMEOUT:-60}
host=${MADANG_HOST:-$(sed -n 's/^DJANGO_ALLOWED_HOSTS=//p' "$env_file" | cut -d, -f1 | tr -d '"'"' ")}
[ -n "$host" ] || { echo "no host: set MADANG_HOST or DJANGO_ALLOWED_HOSTS in $env_file" >&2; exit 1; }

if (($#)); then
  instances=("$@")
else
  echo "== migrate and collectstatic"
  systemctl start madang-migrate.service
  mapfile -t instances < <(systemctl list-units --type=service --state=active --plain --no-legend 'madang@*.service' |
    sed -n 's/^madang@\([^.]*\)\.service.*/\1/p' | sort -n)
  ((${#instances[@]})) || { echo "no madang@N.service is running" >&2; exit 1; }
fi

ready() {
  curl -fsS -o /dev/null --max-time 3 --unix-socket "$socket_dir/daphne-$1.sock" -H "Host: $host" http://madang/readyz
}

for i in "${instances[@]}"; do
  echo "== madang@$i: restarting"
  started=$SECONDS
  systemctl restart "madang@$i.service"
  until ready "$i" 2>/dev/null; do
    if ((SECONDS - started > timeout)); then
      echo "madang@$i is not ready after ${timeout}s; stopping here (the others still run the old code):" >&2
      curl -sS --max-time 3 --unix-socket "$socket_dir/daphne-$i.sock" -H "Host: $host" http://madang/readyz >&2 || true
      journalctl -u "madang@$i.service" -n 20 --no-pager >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  echo "== madang@$i: ready after $((SECONDS - started))s"
done
