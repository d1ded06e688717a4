# Shared by the test, demo and benchmark scripts: installs missing Debian
# packages, builds and installs the extension, and runs a throw-away
# PostgreSQL cluster on a Unix socket in a temporary directory.
#
# Source it; it defines functions only.

PG_MAJOR=${PG_MAJOR:-15}
# A private server build can be named with PG_BINDIR (its pg_config installs there).
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/$PG_MAJOR/bin}
CRON_DATABASE=${CRON_DATABASE:-contrib_regression}

# Packages every entry point needs; callers may add their own.
BASE_PACKAGES="make gcc pkg-config postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR \
postgresql-$PG_MAJOR-cron libjson-c-dev libssl-dev"

log() { printf '\n== %s\n' "$*"; }

# ensure_packages PKG...: installs what is missing, or tells a non-root user
# the exact command to run and exits.
ensure_packages() {
	local missing=() pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "Missing packages: ${missing[*]}" >&2
		echo "Run as root:  apt-get update && apt-get install -y ${missing[*]}" >&2
		exit 2
	fi
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build_and_install [MAKE ARGS...]: a warning-free build, installed into the
# server's directories in place of any scripts an earlier build installed
# (so that the versions the server offers are exactly this tree's).
build_and_install() {
	export PATH="$PG_BINDIR:$PATH"
	make -s "$@" PG_CONFIG="$PG_BINDIR/pg_config" >/dev/null
	if [ "$(id -u)" -ne 0 ] && [ ! -w "$("$PG_BINDIR/pg_config" --pkglibdir)" ]; then
		echo "Installing needs write access to $("$PG_BINDIR/pg_config" --pkglibdir)." >&2
		echo "Run:  sudo make install PG_CONFIG=$PG_BINDIR/pg_config  and then this command again." >&2
		exit 2
	fi
	rm -f "$("$PG_BINDIR/pg_config" --sharedir)"/extension/opendims_privacy--*.sql
	make -s install PG_CONFIG="$PG_BINDIR/pg_config" >/dev/null
}

# as_cluster_owner CMD...: runs CMD as the cluster's owner (postgres when we
# are root, since the server refuses to run as root).
as_cluster_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# start_cluster [EXTRA postgresql.conf LINES...]: initdb and start a cluster
# in a fresh temporary directory; exports PGHOST, PGPORT, PGUSER, PGDATA.
# pg_cron's scheduler keeps a connection to CRON_DATABASE (created here), so
# pg_regress must run there with --use-existing instead of recreating it.
start_cluster() {
	CLUSTER_DIR=$(mktemp -d /tmp/opendims_privacy.XXXXXX)
	chmod 755 "$CLUSTER_DIR"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$CLUSTER_DIR"
	export PGDATA="$CLUSTER_DIR/data" PGHOST="$CLUSTER_DIR" PGPORT=5432
	export PGUSER=$([ "$(id -u)" -eq 0 ] && echo postgres || id -un)
	export PGDATABASE=postgres
	as_cluster_owner "$PG_BINDIR/initdb" -D "$PGDATA" -U "$PGUSER" -A trust \
		--no-sync -E UTF8 --locale=C >"$CLUSTER_DIR/initdb.log" 2>&1 ||
		{ cat "$CLUSTER_DIR/initdb.log" >&2; return 1; }
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$CLUSTER_DIR'"
		echo "port = $PGPORT"
		echo "fsync = off"
		echo "shared_preload_libraries = 'pg_cron'"
		echo "cron.database_name = '$CRON_DATABASE'"
		echo "max_prepared_transactions = 10"
		echo "log_min_messages = warning"
		local line
		for line in "$@"; do echo "$line"; done
	} >>"$PGDATA/postgresql.conf"
	as_cluster_owner "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$CLUSTER_DIR/server.log" \
		-w -t 60 start >/dev/null ||
		{ cat "$CLUSTER_DIR/server.log" >&2; return 1; }
	"$PG_BINDIR/createdb" "$CRON_DATABASE"
}

# stop_cluster: stops the cluster and removes its directory; safe to call
# twice and from an EXIT trap.
stop_cluster() {
	[ -n "${CLUSTER_DIR:-}" ] || return 0
	if [ -f "$PGDATA/postmaster.pid" ]; then
		as_cluster_owner "$PG_BINDIR/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$CLUSTER_DIR"
	CLUSTER_DIR=
}

# with_work_dir NAME: a fresh temporary directory in WORK, readable by the
# cluster's owner, which an EXIT trap removes after stopping any cluster
# left running.
with_work_dir() {
	WORK=$(mktemp -d "/tmp/$1.XXXXXX")
	chmod 755 "$WORK"
	trap 'stop_cluster; rm -rf "$WORK"' EXIT
}
