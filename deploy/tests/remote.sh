# shellcheck shell=bash
# shellcheck disable=SC2154 # work, deploy and the harness: set by tests/run, which sources this
# deploy/tests: the scripts that run on the droplets (sourced by tests/run),
# run here under a scratch root (SENTIMENT_ROOT) with stand-ins on PATH for
# the droplet's commands (cloud-init, systemctl, nft, mongosh, mongodump...),
# which record their calls: setup-host.sh changes only what differs and
# restarts mongod only for its own configuration; sentiment-release;
# sentiment-backup; and install's replica-set steps reaching the primary.

stubs="$work/stubs"
mkdir -p "$stubs"
calls="$work/calls.log"
# stub NAME BODY: a command on PATH that records its arguments, then runs BODY.
stub() {
	printf '#!/usr/bin/env bash\nprintf "%%s %%s\\n" "%s" "$*" >>"%s"\n%s\n' "$1" "$calls" "$2" >"$stubs/$1"
	chmod 0755 "$stubs/$1"
}
state="$work/stub-state"
mkdir -p "$state"
stub cloud-init "case \$1 in status) [[ \${2:-} == --long ]] && { echo 'status: degraded done'; echo 'recoverable_errors: WARNING: a package mirror was slow'; exit 0; }; exit \${STUB_CLOUD_INIT:-0} ;; esac"
stub systemctl "case \$1 in is-active) [[ -e $state/\$3-active ]] ;; start|restart) touch $state/\$2-active ;; esac"
stub nft "case \$1 in list) [[ -e $state/nft-loaded ]] ;; -f) touch $state/nft-loaded ;; esac"
# shellcheck disable=SC2016 # the stub's own expansion
stub mongosh 'echo "${STUB_MONGOSH_ANSWER:-secondary}"'
stub mongod ":"
stub getent "[[ \$2 == sentiment || \$2 == mongodb ]] && echo \"\$2:x:999:999::/nonexistent:/usr/sbin/nologin\""
stub chown ":"
stub apt-get ":"
# dpkg-query: the packages listed in STUB_INSTALLED are installed (never this machine's own).
stub dpkg-query "for p in \${STUB_INSTALLED:-}; do [[ \${@: -1} == \$p ]] && { printf 'install ok installed'; exit 0; }; done; exit 1"
stub mongodump "cat >$state/mongodump-stdin; [[ -n \${STUB_MONGODUMP_FAIL:-} ]] && exit 1
	for arg; do [[ \$arg == --archive=* ]] && { echo dump | gzip >\"\${arg#--archive=}\"; exit 0; }; done
	echo dump | gzip"

{
	cat "$work/inv/inventory"
	printf 'sentiment-worker-3 203.0.113.13 10.10.10.5\n'
} >"$work/inv/inventory-3"
# bundle HOST DIR [VAR=VALUE...]: what install ships to HOST, rendered by the real code.
bundle() (
	local host=$1 dir=$2
	shift 2
	# shellcheck disable=SC2163 # VAR=VALUE words, exported as such
	(($#)) && export "$@"
	# shellcheck source=../lib/common.sh
	source "$deploy/lib/common.sh"
	# shellcheck source=../lib/doctl.sh
	source "$deploy/lib/doctl.sh"
	# shellcheck source=../lib/hosts.sh
	source "$deploy/lib/hosts.sh"
	# shellcheck source=../lib/secrets.sh
	source "$deploy/lib/secrets.sh"
	# shellcheck source=../lib/bundle.sh
	source "$deploy/lib/bundle.sh"
	load_config
	use_placeholder_secrets "$WORK_DIR/secrets"
	# shellcheck disable=SC2030 # this subshell's own inventory
	DEPLOY_INVENTORY="$work/inv/inventory"
	[[ $WORKERS == 3 ]] && DEPLOY_INVENTORY="$work/inv/inventory-3"
	load_inventory
	render_host_tree "$host" "$dir/root"
	install -m 0755 "$deploy/templates/remote/setup-host.sh" "$dir/setup-host.sh"
)
# setup HOST ROOT [VAR=VALUE...]: runs setup-host.sh as install would; stdout in
# $work/setup.out, stderr in $work/setup.err, exit status in setup_status.
setup() {
	local host=$1 root=$2 role=worker
	shift 2
	[[ $host == *-balancer ]] && role=balancer
	rm -rf "$work/bundle"
	bundle "$host" "$work/bundle" "$@"
	: >"$calls"
	setup_status=0
	env "$@" SENTIMENT_ROOT="$root" PATH="$stubs:$PATH" bash "$work/bundle/setup-host.sh" "$role" sentiment "$host" \
		>"$work/setup.out" 2>"$work/setup.err" || setup_status=$?
}
root="$work/droplet"
setup sentiment-balancer "$root"
expect "setup-host: a first run exits 0" test "$setup_status" -eq 0
expect "setup-host: a first run installs every file" \
	bash -c "grep -q 'updated /etc/mongod.conf' '$work/setup.err' && [[ \$(stat -c %a '$root/etc/sentiment/balancer.env') == 600 ]]"
expect "setup-host: the keyFile goes to mongodb, 0400" bash -c "
	grep -qx 'chown mongodb:mongodb $root/etc/mongodb/keyfile' '$calls' && [[ \$(stat -c %a '$root/etc/mongodb/keyfile') == 400 ]]"
expect "setup-host: mongod started (it was not running), not restarted" \
	bash -c "grep -qx 'systemctl start mongod' '$calls' && ! grep -q 'systemctl restart' '$calls'"
expect "setup-host: the host firewall loaded" grep -qx "nft -f $root/etc/nftables.conf" "$calls"
expect "setup-host: the backup timer enabled, its folder ready (0700)" bash -c "
	grep -qx 'systemctl enable --quiet --now sentiment-backup.timer' '$calls' && [[ \$(stat -c %a '$root/var/backups/sentiment') == 700 ]]"
expect "setup-host: a new unit and environment need a restart" has_line "$work/setup.out" "restart-needed=yes"
expect "setup-host: the bundle (it holds secrets) is deleted" test ! -e "$work/bundle"

setup sentiment-balancer "$root"
expect "setup-host: a second run changes nothing" bash -c "
	[[ $setup_status == 0 ]] && grep -q 'every file already as configured' '$work/setup.err' && ! grep -q 'updated /' '$work/setup.err'"
expect "setup-host: a second run leaves mongod alone" bash -c "
	! grep -qE 'systemctl (start|restart) mongod' '$calls' && grep -q 'mongod running with its configuration unchanged: not restarted' '$work/setup.err'"
expect "setup-host: a second run reloads no firewall" bash -c "! grep -q '^nft -f' '$calls'"
expect "setup-host: a second run needs no restart" has_line "$work/setup.out" "restart-needed=no"

setup sentiment-balancer "$root" MONGODB_CACHE_GB=0.5
expect "setup-host: a changed mongod.conf restarts mongod, once" bash -c "
	[[ \$(grep -cx 'systemctl restart mongod' '$calls') == 1 ]] && grep -q 'mongod configuration changed: restarting mongod' '$work/setup.err'"
expect "setup-host: ... and waits until it answers again" has "$work/setup.err" "mongod answers (secondary)"
expect "setup-host: ... without restarting the balancer" has_line "$work/setup.out" "restart-needed=no"

setup sentiment-balancer "$root" MONGODB_CACHE_GB=0.5 WORKERS=3
expect "setup-host: a new list of workers alone needs no balancer restart (applied live)" bash -c "
	grep -q 'updated /etc/sentiment/balancer.env' '$work/setup.err' && grep -qx 'restart-needed=no' '$work/setup.out'"
echo 'RUST_LOG=debug' >>"$root/etc/sentiment/balancer.env"
setup sentiment-balancer "$root" MONGODB_CACHE_GB=0.5 WORKERS=3
expect "setup-host: any other balancer.env change needs a restart" bash -c "
	grep -q 'updated /etc/sentiment/balancer.env' '$work/setup.err' && grep -qx 'restart-needed=yes' '$work/setup.out'"

# DOMAIN set on a later install: the balancer's unit alone changes (its
# ExecStart gains the TLS flags), systemd reloads it and the balancer restarts
# once (install rolls it); nothing else moves.
setup sentiment-balancer "$root" MONGODB_CACHE_GB=0.5 WORKERS=3 DOMAIN=sentiment.example.org ACME_EMAIL=ops@example.org
expect "setup-host: DOMAIN added later changes the balancer's unit and nothing else" bash -c "
	[[ $setup_status == 0 && \$(grep -c 'updated /' '$work/setup.err') == 1 ]] &&
	grep -q 'updated /etc/systemd/system/sentiment-balancer.service' '$work/setup.err' &&
	grep -q -- '--acme-domain sentiment.example.org' '$root/etc/systemd/system/sentiment-balancer.service'"
expect "setup-host: ... systemd reloads the unit, the balancer needs its one restart" bash -c "
	grep -qx 'systemctl daemon-reload' '$calls' && grep -qx 'restart-needed=yes' '$work/setup.out'"
expect "setup-host: ... mongod and the host firewall untouched (80 and 443 were open already)" bash -c "
	! grep -qE 'systemctl (start|restart) mongod|^nft -f' '$calls' && grep -q 'tcp dport { 80, 443 } accept' '$root/etc/nftables.conf'"
expect "setup-host: ... no package installed for TLS (no nginx, no certbot)" bash -c "! grep -q '^apt-get' '$calls'"
setup sentiment-balancer "$root" MONGODB_CACHE_GB=0.5 WORKERS=3 DOMAIN=sentiment.example.org ACME_EMAIL=ops@example.org
expect "setup-host: the same DOMAIN again changes nothing, no restart" bash -c "
	grep -q 'every file already as configured' '$work/setup.err' && grep -qx 'restart-needed=no' '$work/setup.out'"

# A balancer droplet from before TLS moved into the balancer: nginx and certbot go.
setup sentiment-balancer "$root" MONGODB_CACHE_GB=0.5 WORKERS=3 DOMAIN=sentiment.example.org ACME_EMAIL=ops@example.org \
	STUB_INSTALLED="nginx nginx-common certbot"
expect "setup-host: an earlier deployment's nginx and certbot are stopped and purged (they held :80/:443)" bash -c "
	grep -qx 'systemctl disable --now nginx.service certbot.timer' '$calls' &&
	grep -qx 'apt-get purge -y -q nginx nginx-common certbot' '$calls' && grep -q 'removing nginx nginx-common certbot' '$work/setup.err'"

setup sentiment-worker-1 "$work/worker" STUB_CLOUD_INIT=2
expect "setup-host: cloud-init exit 2 is a warning: it goes on (exit 0)" test "$setup_status" -eq 0
expect "setup-host: ... and prints cloud-init status --long" bash -c "
	grep -q 'warning: cloud-init finished with recoverable errors' '$work/setup.err' && grep -q 'recoverable_errors: WARNING: a package mirror was slow' '$work/setup.err'"
setup sentiment-worker-1 "$work/worker-2" STUB_CLOUD_INIT=1
expect "setup-host: cloud-init exit 1 stops it (exit 1) saying why" bash -c "
	[[ $setup_status == 1 ]] && grep -q 'cloud-init failed (exit 1)' '$work/setup.err' && grep -q 'status: degraded done' '$work/setup.err' &&
	grep -q 'cloud-init did not prepare this host' '$work/setup.err'"
expect "setup-host: ... having installed nothing, and deleted the bundle" bash -c "[[ ! -e '$work/worker-2/etc' && ! -e '$work/bundle' ]]"
setup sentiment-worker-3 "$work/worker-3" WORKERS=3
expect "setup-host: a worker outside the replica set runs no mongod" bash -c "
	[[ $setup_status == 0 ]] && ! grep -q mongod '$calls' && [[ ! -e '$work/worker-3/etc/mongod.conf' ]]"
unset STUB_CLOUD_INIT

echo "# sentiment-release"
release_root="$work/releases-host"
release() { SENTIMENT_ROOT="$release_root" "$deploy/templates/remote/sentiment-release" "$@"; }
incoming() {
	local dir="$release_root/opt/sentiment/releases/.incoming-$1"
	mkdir -p "$dir/bin"
	printf '%s' "$2" >"$dir/bin/backend"
	printf 'release %s\n' "$1" >"$dir/RELEASE"
}
mkdir -p "$release_root/opt/sentiment/releases"
expect "sentiment-release: a new host has no release" test "$(release status)" = "current= previous="
incoming aaa one
release unpack aaa
only_aaa() { release has aaa && ! release has bbb; }
expect "sentiment-release: unpack puts a release in place" only_aaa
release point aaa
expect "sentiment-release: point sets current (relative link, so the rehearsal can map the root)" bash -c "
	[[ \$(readlink '$release_root/opt/sentiment/current') == releases/aaa ]]"
incoming bbb two
release unpack bbb
expect "sentiment-release: binary-differs sees a new binary" release binary-differs bbb backend
release point bbb aaa
expect "sentiment-release: point keeps the previous release beside the new one" test "$(release status)" = "current=bbb previous=aaa"
incoming ccc two
release unpack ccc
not_differs() { ! release binary-differs ccc backend; }
expect "sentiment-release: binary-differs sees an identical binary (switch without a restart)" not_differs
expect "sentiment-release: pointing at a missing release fails and changes nothing" \
	bash -c "! SENTIMENT_ROOT='$release_root' '$deploy/templates/remote/sentiment-release' point zzz 2>/dev/null && [[ \$(readlink '$release_root/opt/sentiment/current') == releases/bbb ]]"
touch -d '2 minutes ago' "$release_root/opt/sentiment/releases/aaa"
release prune 2 >/dev/null
expect "sentiment-release: prune keeps current and previous whatever their age" bash -c "
	[[ -d '$release_root/opt/sentiment/releases/aaa' && -d '$release_root/opt/sentiment/releases/bbb' && ! -d '$release_root/opt/sentiment/releases/ccc' ]]"
expect "sentiment-release: a bad release id is refused" bash -c "! SENTIMENT_ROOT='$release_root' '$deploy/templates/remote/sentiment-release' has '../x' 2>/dev/null"

echo "# sentiment-backup"
backup_root="$work/backup-host"
mkdir -p "$backup_root/etc/sentiment"
printf 'MONGODB_BACKUP_PASSWORD=s3cret-backup\n' >"$backup_root/etc/sentiment/backup.env"
backup() { SENTIMENT_ROOT="$backup_root" PATH="$stubs:$PATH" "$deploy/templates/remote/sentiment-backup" "$@"; }
: >"$calls"
STUB_MONGOSH_ANSWER="secondary=10.10.10.3:27017 primary=10.10.10.2:27017" backup --stdout >"$work/dump.gz" 2>"$work/backup.err"
status=$?
expect "sentiment-backup --stdout: a gzip archive on stdout" bash -c "[[ $status == 0 ]] && gzip -t '$work/dump.gz'"
expect "sentiment-backup: dumps from the secondary the replica set names, directly" bash -c "
	grep -qx 'mongodump --host=10.10.10.3:27017 --username=backup --authenticationDatabase=admin --oplog --gzip --quiet --archive' '$calls' &&
	grep -q 'dumping from secondary 10.10.10.3:27017 (primary: 10.10.10.2:27017)' '$work/backup.err'"
expect "sentiment-backup: the password reaches mongodump on stdin, never its arguments" bash -c "
	[[ \$(cat '$state/mongodump-stdin') == s3cret-backup ]] && ! grep -q s3cret '$calls'"
for _ in 1 2 3; do
	STUB_MONGOSH_ANSWER="secondary=10.10.10.3:27017 primary=10.10.10.2:27017" backup --keep 2 2>>"$work/backup.err"
	sleep 1
done
expect "sentiment-backup --keep 2: the newest two dumps stay, checked, no partial file" bash -c "
	[[ \$(ls '$backup_root/var/backups/sentiment' | grep -c '^mongodb-.*\\.archive\\.gz$') == 2 && -z \$(ls -A '$backup_root/var/backups/sentiment' | grep partial) ]]"
STUB_MONGOSH_ANSWER="secondary=10.10.10.3:27017 primary=10.10.10.2:27017" STUB_MONGODUMP_FAIL=1 backup --keep 2 2>"$work/backup.err"
status=$?
expect "sentiment-backup: a failed dump exits non-zero and leaves no partial file" bash -c "
	[[ $status != 0 && -z \$(ls -A '$backup_root/var/backups/sentiment' | grep partial) ]]"
STUB_MONGOSH_ANSWER="secondary= primary=10.10.10.2:27017" backup --stdout >/dev/null 2>"$work/backup.err"
status=$?
expect "sentiment-backup: no secondary, no dump, and it says so" bash -c "
	[[ $status == 1 ]] && grep -q 'no secondary to dump from (primary: 10.10.10.2:27017)' '$work/backup.err'"

echo "# the replica set's steps"
# install's form_replica_set against members that answer as mongosh would:
# the balancer is not the primary on a first run, so the script asks for
# another go on the primary (worker-1, 10.10.10.3).
replica_set() (
	# shellcheck source=../lib/common.sh
	source "$deploy/lib/common.sh"
	# shellcheck source=../lib/doctl.sh
	source "$deploy/lib/doctl.sh"
	# shellcheck source=../lib/hosts.sh
	source "$deploy/lib/hosts.sh"
	# shellcheck source=../lib/secrets.sh
	source "$deploy/lib/secrets.sh"
	# shellcheck source=../lib/bundle.sh
	source "$deploy/lib/bundle.sh"
	# shellcheck source=../lib/replset.sh
	source "$deploy/lib/replset.sh"
	load_config
	use_placeholder_secrets "$WORK_DIR/secrets"
	DEPLOY_INVENTORY="$work/inv/inventory"
	load_inventory
	host_exec() {
		printf '%s\n' "$1" >>"$work/replset-hosts"
		cat >"$work/replset-script-$1.js"
		case "$1:$REPLSET_ANSWER" in
		sentiment-balancer:elsewhere) printf 'replica set rs0: initiated\nPRIMARY_ELSEWHERE 10.10.10.3:27017\n'; return 3 ;;
		*:broken) echo "MongoServerError: not authorized"; return 1 ;;
		*) echo "root user: created on the primary through the localhost exception" ;;
		esac
	}
	form_replica_set
)
: >"$work/replset-hosts"
REPLSET_ANSWER=elsewhere replica_set >"$work/replset.out" 2>&1
status=$?
expect "replica set: when the primary is elsewhere, the script runs again there (balancer, then worker-1)" bash -c "
	[[ $status == 0 && \$(paste -sd' ' '$work/replset-hosts') == 'sentiment-balancer sentiment-worker-1' ]] &&
	grep -q 'running again on sentiment-worker-1' '$work/replset.out'"
expect "replica set: the script reaches mongosh on stdin, with the passwords in it" \
	has "$work/replset-script-sentiment-worker-1.js" "const rootPassword = '<mongodb-root-password>';"
: >"$work/replset-hosts"
REPLSET_ANSWER=broken replica_set >"$work/replset.out" 2>&1
status=$?
expect "replica set: any other failure stops install, saying where" bash -c "
	[[ $status != 0 ]] && grep -q 'forming the replica set failed on sentiment-balancer (mongosh exit 1)' '$work/replset.out' &&
	grep -q 'not authorized' '$work/replset.out'"
