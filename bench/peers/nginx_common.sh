# Shared pieces of the nginx peer benchmarks: a temp work dir that is always
# removed, development certificates, a free loopback port, and an nginx that
# runs from our own config file (never the system service) and is always
# stopped. Sourced, not run:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/nginx_common.sh"
#   peers_init nginx-idle             # sets ROOT, BIN, WORK, PORT; makes certs
#   write_nginx_conf 2 4096 <<EOF     # the http { } body, after the defaults
#   server { listen 127.0.0.1:${PORT} ssl; ... }
#   EOF
#   start_nginx                       # returns once PORT accepts connections
#   nginx_workers_rss_kib; nginx_workers_cpu_ticks
#   stop_nginx                        # also done by the EXIT trap
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${ROOT}/build"
WORK=""
PORT=""
NGINX_PID=""

peers_die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

peers_cleanup() {
  stop_nginx
  if [[ -n ${WORK} ]]; then
    rm -rf "${WORK}"
  fi
}

# peers_init NAME: checks the tools, makes the work dir and the certificates
# (WORK/certs: server.crt, server.key, camera-ca.crt, server-ca.crt,
# cameras/cam-000001.pem) and picks a free port.
peers_init() {
  command -v nginx >/dev/null || peers_die "nginx is missing: run bench/peers/setup.sh"
  [[ -x ${BIN}/server/ingestd ]] || peers_die "${BIN}/server/ingestd is missing: build the tree first"
  WORK="$(mktemp -d "/tmp/peer-$1-XXXXXX")"
  trap peers_cleanup EXIT
  trap 'exit 130' INT TERM
  "${BIN}/server/ingestd" certs --out "${WORK}/certs" --cameras 1 >/dev/null
  PORT="$(free_port)"
}

# A port nothing listens on now; the kernel picks it, so parallel runs differ.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# "load=0.52,0.61,0.70": printed beside every figure, since the machine is shared.
load_averages() {
  awk '{printf "load=%s,%s,%s", $1, $2, $3}' /proc/loadavg
}

# write_nginx_conf WORKERS WORKER_CONNECTIONS < http-body: writes WORK/nginx.conf.
# Every path nginx would otherwise take from its compiled-in defaults (pid,
# logs, temp dirs under /var) points into WORK. The rlimit stays under the
# 20,000 hard limit of this machine, which nginx cannot raise.
write_nginx_conf() {
  local workers=$1 connections=$2 user_line=""
  # As root the workers would switch to "nobody" and could not write to WORK.
  if [[ ${EUID} -eq 0 ]]; then
    user_line="user root;"
  fi
  mkdir -p "${WORK}/temp"
  {
    cat <<EOF
${user_line}
daemon off;
master_process on;
worker_processes ${workers};
worker_rlimit_nofile 19500;
pid ${WORK}/nginx.pid;
error_log ${WORK}/error.log warn;
events {
  worker_connections ${connections};
}
http {
  access_log off;
  client_body_temp_path ${WORK}/temp/body;
  proxy_temp_path ${WORK}/temp/proxy;
  fastcgi_temp_path ${WORK}/temp/fastcgi;
  uwsgi_temp_path ${WORK}/temp/uwsgi;
  scgi_temp_path ${WORK}/temp/scgi;
  ssl_certificate ${WORK}/certs/server.crt;
  ssl_certificate_key ${WORK}/certs/server.key;
  ssl_client_certificate ${WORK}/certs/camera-ca.crt;
  ssl_protocols TLSv1.3;
EOF
    cat
    echo "}"
  } >"${WORK}/nginx.conf"
}

# write_nginx_put_conf CONNECTIONS BODY_BYTES: nginx taking PUTs of segments
# into WORK/store (dav_methods PUT), 2 workers, keep-alive, client
# certificates optional (wrk presents none). client_body_temp_path is in
# WORK too, so the final rename stays on one filesystem, as in a real
# deployment.
write_nginx_put_conf() {
  local connections=$1 body_bytes=$2
  mkdir -p "${WORK}/store"
  write_nginx_conf 2 $((connections + 100)) <<CONF
  client_max_body_size $((body_bytes + 4096));
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:${PORT} ssl reuseport backlog=4096;
    ssl_verify_client optional;
    root ${WORK}/store;
    location / {
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw;
    }
  }
CONF
}

# Starts nginx in the foreground of a background job and waits until PORT
# accepts TCP connections (at most 10 s).
start_nginx() {
  nginx -t -q -c "${WORK}/nginx.conf" -p "${WORK}" -e "${WORK}/error.log" ||
    peers_die "bad nginx config; see ${WORK}/nginx.conf"
  nginx -c "${WORK}/nginx.conf" -p "${WORK}" -e "${WORK}/error.log" &
  NGINX_PID=$!
  local _
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null; then
      # Workers fork after the socket is bound; give them a moment to exist.
      sleep 0.5
      return 0
    fi
    kill -0 "${NGINX_PID}" 2>/dev/null || break
    sleep 0.1
  done
  cat "${WORK}/error.log" >&2 || true
  peers_die "nginx did not start listening on 127.0.0.1:${PORT}"
}

# Graceful stop, then a hard one if the workers hold on for more than 5 s.
stop_nginx() {
  [[ -n ${NGINX_PID} ]] || return 0
  kill -TERM "${NGINX_PID}" 2>/dev/null || true
  local _
  for _ in $(seq 1 50); do
    kill -0 "${NGINX_PID}" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "${NGINX_PID}" 2>/dev/null || true
  wait "${NGINX_PID}" 2>/dev/null || true
  NGINX_PID=""
}

nginx_worker_pids() {
  pgrep -P "${NGINX_PID}" || true
}

# Summed VmRSS of the worker processes, in KiB. Pages shared with the master
# (the config, OpenSSL's tables) are counted in every worker; differences
# before/after a load cancel that out.
nginx_workers_rss_kib() {
  local pid total=0 rss
  for pid in $(nginx_worker_pids); do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/${pid}/status")
    total=$((total + rss))
  done
  echo "${total}"
}

# Summed user+system CPU clock ticks of the worker processes.
nginx_workers_cpu_ticks() {
  local pid total=0 ticks
  for pid in $(nginx_worker_pids); do
    ticks=$(awk '{print $14 + $15}' "/proc/${pid}/stat")
    total=$((total + ticks))
  done
  echo "${total}"
}
