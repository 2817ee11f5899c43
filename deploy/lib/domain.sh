# shellcheck shell=bash
# The DOMAIN side of deploy/install: before the balancer asks an ACME server
# for a certificate (which checks the name over HTTP at the address DNS gives),
# the name must resolve to the balancer, as seen from this machine; and after
# the rollout, which certificate the balancer serves. Sourced after
# lib/common.sh, lib/hosts.sh and lib/bundle.sh.

# The IPv4 addresses NAME resolves to here, sorted, one per line (the system
# resolver, /etc/hosts included, as a browser would; dig where there is no getent).
domain_addresses() {
	if command -v getent >/dev/null 2>&1; then
		# getent exits 2 for a name that does not resolve: that is an empty answer.
		{ getent ahostsv4 "$1" || true; } | awk '{ print $1 }' | sort -u
	elif command -v dig >/dev/null 2>&1; then
		{ dig +short A "$1" || true; } | { grep -E '^[0-9.]+$' || true; } | sort -u
	else
		die "neither getent nor dig is available to check that $1 resolves to the balancer (or pass --skip-dns-check)"
	fi
}

# Stops install before anything changes when DOMAIN does not point at the
# balancer: the certificate could not be issued, and failed orders count
# against the ACME server's rate limits.
require_domain_at_balancer() {
	[[ -n ${DOMAIN:-} ]] || return 0
	local expected found
	expected=${HOST_PUBLIC_IP[$(balancer_host)]}
	if ((DRY_RUN)); then
		log "$DOMAIN must resolve to $expected (the balancer): checked before anything changes"
		return 0
	fi
	found="$(domain_addresses "$DOMAIN" | paste -sd' ')"
	[[ -n $found ]] ||
		die "$DOMAIN does not resolve (yet): create an A record for it pointing at $expected (the balancer), wait until \`dig +short A $DOMAIN\` prints $expected, then run deploy/install again (--skip-dns-check if only this machine's resolver is behind)"
	[[ $found == "$expected" ]] ||
		die "$DOMAIN resolves to $found, not to the balancer's $expected: point its A record at $expected (only that address), wait until \`dig +short A $DOMAIN\` prints it, then run deploy/install again"
	log "$DOMAIN resolves to $expected (the balancer)"
}

# Says which certificate the balancer serves for DOMAIN (it passed its gate
# over HTTPS, so there is one).
report_certificate() {
	[[ -n ${DOMAIN:-} ]] || return 0
	local args certificate
	mapfile -t args < <(balancer_curl_args)
	if ((DRY_RUN)); then
		host_exec "$(balancer_host)" curl -sS -m 10 "${args[@]}" -o /dev/null -w '%{certs}' "https://$DOMAIN/healthz"
		return 0
	fi
	certificate="$(host_exec "$(balancer_host)" curl -sS -m 10 "${args[@]}" -o /dev/null -w '%{certs}' "https://$DOMAIN/healthz" 2>&1)" || {
		warn "https://$DOMAIN/ does not answer on the balancer: $certificate"
		return 0
	}
	log "https://$DOMAIN/ serves a certificate issued by $(sed -n 's/^Issuer: *//p' <<<"$certificate" | sed -n 1p), valid until $(sed -n 's/^Expire date: *//p' <<<"$certificate" | sed -n 1p)"
}
