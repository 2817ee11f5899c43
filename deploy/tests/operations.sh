# shellcheck shell=bash
# shellcheck disable=SC2154 # work, deploy and the harness: set by tests/run, which sources this
# deploy/tests: update, rollback, backup and restore as dry runs (sourced by
# tests/run): the order of their steps and the exact remote commands.

mkdir -p "$work/inv"
printf 'sentiment-balancer 203.0.113.10 10.10.10.2\nsentiment-worker-1 203.0.113.11 10.10.10.3\nsentiment-worker-2 203.0.113.12 10.10.10.4\n' >"$work/inv/inventory"
export DEPLOY_INVENTORY="$work/inv/inventory"

"$deploy/update" --dry-run --bin-dir "$work/bins" >"$work/update.out" 2>&1
status=$?
expect "update --dry-run exits 0" test "$status" -eq 0
expect "update: ships the release to every host before moving any" bash -c "
	last_unpack=\$(grep -n 'sentiment-release unpack' '$work/update.out' | tail -n 1 | cut -d: -f1)
	first_point=\$(grep -n 'sentiment-release point' '$work/update.out' | sed -n 1p | cut -d: -f1)
	[[ \$(grep -c 'sentiment-release unpack' '$work/update.out') == 3 && \$last_unpack -lt \$first_point ]]"
sequence="$(grep -oE '/backends/10\.10\.10\.[34]:8080/drain|sentiment-release point|restart sentiment-[a-z]+|10\.10\.10\.[34]:8080/readyz|10\.10\.10\.[34]:8080/analyze|127\.0\.0\.1:80/analyze|8081/backends -H' "$work/update.out" | paste -sd' ')"
expect "update: per worker drain -> switch -> restart -> readyz -> real request -> back in; worker-1 back before worker-2 drains; then the balancer" \
	test "$sequence" = "/backends/10.10.10.3:8080/drain sentiment-release point restart sentiment-backend 10.10.10.3:8080/readyz 10.10.10.3:8080/analyze 8081/backends -H /backends/10.10.10.4:8080/drain sentiment-release point restart sentiment-backend 10.10.10.4:8080/readyz 10.10.10.4:8080/analyze 8081/backends -H sentiment-release point restart sentiment-balancer 127.0.0.1:80/analyze"
expect "update: ships the balancer and the frontend too" bash -c "
	grep -q 'release/balancer ops@203.0.113.10:' '$work/update.out' && grep -q 'release/worker ops@203.0.113.11:' '$work/update.out'"
expect "update: purges the balancer's cache and prunes old releases" bash -c "
	grep -q '8081/cache/purge' '$work/update.out' && [[ \$(grep -c 'sentiment-release prune 3' '$work/update.out') == 3 ]]"
expect "update: admin token never on a command line" lacks "$work/update.out" "Bearer"

"$deploy/rollback" --dry-run >"$work/rollback.out" 2>&1
status=$?
expect "rollback --dry-run exits 0" test "$status" -eq 0
expect "rollback: reads every host's releases before moving one" bash -c "
	[[ \$(grep -n 'sentiment-release status' '$work/rollback.out' | sed -n 3p | cut -d: -f1) -lt \$(grep -n 'sentiment-release point' '$work/rollback.out' | sed -n 1p | cut -d: -f1) ]]"
expect "rollback: workers drained and gated one at a time, then the balancer" test "$(grep -oE '/drain|/readyz|/healthz|127\.0\.0\.1:80/analyze' "$work/rollback.out" | paste -sd' ')" = \
	"/drain /readyz /drain /readyz /healthz 127.0.0.1:80/analyze"

"$deploy/backup" --dry-run >"$work/backup.out" 2>&1
status=$?
expect "backup --dry-run exits 0" test "$status" -eq 0
expect "backup: streams sentiment-backup --stdout from the balancer droplet" \
	has "$work/backup.out" "ops@203.0.113.10 'sudo -- /usr/local/sbin/sentiment-backup --stdout'"
expect "backup --dry-run keeps no file" test -z "$(ls -A "$DEPLOY_BACKUP_DIR" 2>/dev/null)"

printf 'not gzip\n' >"$work/not-a-dump"
"$deploy/restore" "$work/not-a-dump" --dry-run >"$work/restore.out" 2>&1
expect "restore refuses a file that is not a gzip archive" has "$work/restore.out" "is not a complete gzip archive"
printf 'a dump\n' | gzip >"$work/dump.archive.gz"
"$deploy/restore" "$work/dump.archive.gz" </dev/null >"$work/restore.out" 2>&1
expect "restore refuses without --yes when not interactive" has "$work/restore.out" "refusing to replace the store without --yes"
"$deploy/restore" "$work/dump.archive.gz" --dry-run >"$work/restore.out" 2>&1
status=$?
expect "restore --dry-run exits 0" test "$status" -eq 0
expect "restore: mongorestore --drop --oplogReplay into the replica set as root, password not on the command line" bash -c "
	grep -q \"'sudo -- mongorestore --host=rs0/10.10.10.2:27017,10.10.10.3:27017,10.10.10.4:27017 --username=root --authenticationDatabase=admin --archive=/root/sentiment-restore-[0-9TZ]*.archive.gz --gzip --drop --oplogReplay'\" '$work/restore.out' &&
	! grep -q -- '--password' '$work/restore.out'"
expect "restore: stops every backend before, starts and gates each after" test "$(grep -oE 'systemctl (stop|start) sentiment-backend|sudo -- mongorestore|/readyz' "$work/restore.out" | paste -sd' ')" = \
	"systemctl stop sentiment-backend systemctl stop sentiment-backend sudo -- mongorestore systemctl start sentiment-backend /readyz systemctl start sentiment-backend /readyz"
expect "restore: removes the uploaded dump from the droplet" grep -q "'sudo -- rm -f /root/sentiment-restore-" "$work/restore.out"
unset DEPLOY_INVENTORY
