# Sourced by scripts/testbed: the setups people run in front of the platform's stores, each optional
# and fast (seconds): PgBouncer in transaction pooling (Debian's `pgbouncer`) in front of the bed's
# PostgreSQL, and a Redis Cluster of three primaries (redis-server --cluster-enabled).
# A server that cannot start is logged and left down: the rest of the bed does not depend on it.
PGBOUNCER_PORT="${ALP_TESTBED_PGBOUNCER_PORT:-$((PG_PORT + 1))}"
REDIS_CLUSTER_PORT="${ALP_TESTBED_REDIS_CLUSTER_PORT:-$((REDIS_PORT + 1))}"  # the first of three
REDIS_CLUSTER_PORTS=("$REDIS_CLUSTER_PORT" "$((REDIS_CLUSTER_PORT + 1))" "$((REDIS_CLUSTER_PORT + 2))")

# ---------------------------------------------------------------- PgBouncer (transaction pooling)
pgbouncer_up() {
  command -v pgbouncer >/dev/null || apt_install pgbouncer || { log "PgBouncer not installed: left down"; return 0; }
  local dir="$RUN/pgbouncer"
  mkdir -p "$dir"
  # PgBouncer's defaults, but transaction pooling: a client's startup parameters beyond the few it
  # tracks (e.g. `options`) are refused, as in most installations.
  cat > "$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$PG_PORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 200
default_pool_size = 10
pidfile = $dir/pgbouncer.pid
logfile = $dir/pgbouncer.log
INI
  echo "\"postgres\" \"$PG_PASSWORD\"" > "$dir/userlist.txt"
  [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
  if ! port_open "$PGBOUNCER_PORT"; then
    wait_ports_free PgBouncer "$PGBOUNCER_PORT"
    log "starting PgBouncer (transaction pooling) on 127.0.0.1:$PGBOUNCER_PORT"
    as_pg pgbouncer -d "$dir/pgbouncer.ini" >/dev/null 2>&1 || { log "PgBouncer did not start (see $dir/pgbouncer.log)"; return 0; }
  fi
  for _ in $(seq 1 50); do port_open "$PGBOUNCER_PORT" && return 0; sleep 0.1; done
  log "PgBouncer not listening on $PGBOUNCER_PORT (see $dir/pgbouncer.log)"
}

pgbouncer_down() {
  local pid="$RUN/pgbouncer/pgbouncer.pid"
  [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null && log "stopped PgBouncer" || true
}

# ---------------------------------------------------------------- Redis Cluster (three primaries)
redis_cluster_up() {
  local p dir="$RUN/redis-cluster" nodes=()
  for p in "${REDIS_CLUSTER_PORTS[@]}"; do
    mkdir -p "$dir/$p"
    nodes+=("127.0.0.1:$p")
    redis-cli -p "$p" ping >/dev/null 2>&1 && continue
    wait_ports_free "Redis Cluster node" "$p"
    log "starting Redis Cluster node on 127.0.0.1:$p"
    redis-server --bind 127.0.0.1 --port "$p" --cluster-enabled yes --cluster-config-file "$dir/$p/nodes.conf" \
      --cluster-node-timeout 2000 --daemonize yes --dir "$dir/$p" --pidfile "$dir/$p/redis.pid" \
      --logfile "$dir/$p/redis.log" --save "" --appendonly no >/dev/null || { log "Redis Cluster node $p did not start"; return 0; }
  done
  for p in "${REDIS_CLUSTER_PORTS[@]}"; do
    for _ in $(seq 1 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  if ! redis-cli -p "$REDIS_CLUSTER_PORT" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; then
    if [ "$(redis-cli -p "$REDIS_CLUSTER_PORT" cluster info 2>/dev/null | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p')" = 1 ]; then
      log "creating the Redis Cluster (3 primaries, slots split evenly)"
      redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
    fi
    for _ in $(seq 1 100); do
      redis-cli -p "$REDIS_CLUSTER_PORT" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && return 0
      sleep 0.1
    done
    log "the Redis Cluster is not ok yet (redis-cli -p $REDIS_CLUSTER_PORT cluster info)"
  fi
}

redis_cluster_down() {
  local p stopped=0
  for p in "${REDIS_CLUSTER_PORTS[@]}"; do
    redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 && stopped=1
  done
  [ "$stopped" = 1 ] && log "stopped the Redis Cluster" || true
}

setups_env() {
  echo "export ALP_TESTBED_PGBOUNCER_DSN='postgresql://postgres:$PG_PASSWORD@127.0.0.1:$PGBOUNCER_PORT/$PG_DB'"
  echo "export ALP_TESTBED_REDIS_CLUSTER_URL='redis://127.0.0.1:$REDIS_CLUSTER_PORT/0'"
}

setups_status() {
  port_open "$PGBOUNCER_PORT" && echo "pgbouncer up   127.0.0.1:$PGBOUNCER_PORT (transaction pooling)" || echo "pgbouncer down"
  if redis-cli -p "$REDIS_CLUSTER_PORT" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; then
    echo "redis-cl  up   127.0.0.1:${REDIS_CLUSTER_PORTS[0]},${REDIS_CLUSTER_PORTS[1]},${REDIS_CLUSTER_PORTS[2]} (cluster)"
  else
    echo "redis-cl  down"
  fi
}
