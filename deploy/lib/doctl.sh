# shellcheck shell=bash
# DigitalOcean resource names, firewall rules and the read-only look-ups that
# make provision/firewall/destroy idempotent. Sourced after lib/common.sh.

vpc_name() { printf '%s-vpc\n' "$PROJECT"; }
ssh_key_name() { printf '%s-admin\n' "$PROJECT"; }
firewall_names() { printf '%s-balancer-fw\n%s-worker-fw\n' "$PROJECT" "$PROJECT"; }
project_tags() { printf '%s\n%s-balancer\n%s-worker\n' "$PROJECT" "$PROJECT" "$PROJECT"; }

# A read-only doctl query. In --dry-run it is printed, not run, and answers
# nothing, so the dry run shows every create it would make on a fresh account.
query() {
	if ((DRY_RUN)); then
		run "$DOCTL" "$@"
		return 0
	fi
	"$DOCTL" "$@"
}

# Inbound rules, doctl syntax: space-separated rules of comma-separated fields.
internet='address:0.0.0.0/0,address:::/0'
firewall_inbound_rules() {
	local ssh="protocol:tcp,ports:22,address:$ADMIN_CIDR"
	local mongo="protocol:tcp,ports:27017,address:$VPC_CIDR"
	case $1 in
	"$PROJECT-balancer-fw")
		printf '%s' "protocol:tcp,ports:80,$internet protocol:tcp,ports:443,$internet $ssh $mongo"
		;;
	"$PROJECT-worker-fw")
		printf '%s' "$ssh protocol:tcp,ports:$BACKEND_PORT,address:$VPC_CIDR $mongo"
		;;
	esac
}
firewall_outbound_rules() {
	printf '%s' "protocol:tcp,ports:all,$internet protocol:udp,ports:all,$internet protocol:icmp,$internet"
}
firewall_tag() {
	case $1 in
	"$PROJECT-balancer-fw") printf '%s-balancer' "$PROJECT" ;;
	"$PROJECT-worker-fw") printf '%s-worker' "$PROJECT" ;;
	esac
}

# One firewall as a canonical JSON line, so what exists can be compared with
# what is configured whatever order or spelling the API answers with ("0" and
# "all" ports, address order, ICMP without ports).
# shellcheck disable=SC2016 # jq programs, not shell expansions
firewall_canonical_jq='
def canonical_rule: {
  protocol,
  ports: (if .protocol == "icmp" then "" elif (.ports // "0") == "0" then "all" else .ports end),
  addresses: ((.addresses // []) | sort),
  tags: ((.tags // []) | sort)
};
def canonical: {inbound: (.inbound | map(canonical_rule) | sort), outbound: (.outbound | map(canonical_rule) | sort), tags: (.tags | sort)};
'

# The configured firewall NAME, canonical.
firewall_wanted() {
	local name=$1
	# shellcheck disable=SC2016
	jq -cn --arg inbound "$(firewall_inbound_rules "$name")" --arg outbound "$(firewall_outbound_rules)" \
		--arg tag "$(firewall_tag "$name")" "$firewall_canonical_jq"'
		def parse: split(" ") | map(split(",") | map(capture("^(?<k>[^:]+):(?<v>.*)$")) |
			{protocol: (map(select(.k == "protocol"))[0].v), ports: (map(select(.k == "ports"))[0].v),
			 addresses: map(select(.k == "address") | .v), tags: map(select(.k == "tag") | .v)});
		{inbound: ($inbound | parse), outbound: ($outbound | parse), tags: [$tag]} | canonical'
}

# The firewall NAME as `doctl compute firewall list --output json` shows it,
# canonical, with its id: {"id": ..., "rules": {...}}; nothing when absent.
firewall_actual() {
	local name=$1 listing=$2
	# shellcheck disable=SC2016
	jq -c --arg name "$name" "$firewall_canonical_jq"'
		.[] | select(.name == $name) | {id, rules: ({
			inbound: (.inbound_rules // [] | map({protocol, ports, addresses: .sources.addresses, tags: .sources.tags})),
			outbound: (.outbound_rules // [] | map({protocol, ports, addresses: .destinations.addresses, tags: .destinations.tags})),
			tags: (.tags // [])} | canonical)}' <<<"$listing"
}

# Creates each firewall, or brings an existing one to the configured rules
# (a changed ADMIN_CIDR, VPC_CIDR or BACKEND_PORT); leaves an equal one alone.
converge_firewalls() {
	local listing fw actual wanted id
	listing="$(query compute firewall list --output json)"
	[[ -n $listing ]] || listing='[]'
	while read -r fw; do
		actual="$(firewall_actual "$fw" "$listing")"
		local rules=(--name "$fw" --tag-names "$(firewall_tag "$fw")"
			--inbound-rules "$(firewall_inbound_rules "$fw")" --outbound-rules "$(firewall_outbound_rules)")
		if [[ -z $actual ]]; then
			run "$DOCTL" compute firewall create "${rules[@]}" >/dev/null
			log "  firewall $fw created"
			continue
		fi
		id="$(jq -r .id <<<"$actual")"
		wanted="$(firewall_wanted "$fw")"
		if [[ $(jq -c .rules <<<"$actual") == "$wanted" ]]; then
			log "  firewall $fw exists with the configured rules"
		else
			log "  firewall $fw differs from the configuration: updating it"
			diff <(jq . <<<"$(jq -c .rules <<<"$actual")") <(jq . <<<"$wanted") | sed 's/^/      /' >&2 || true
			run "$DOCTL" compute firewall update "$id" "${rules[@]}" >/dev/null
		fi
	done < <(firewall_names)
}

# "name public-ip private-ip" per droplet of the project, as recorded by provision.
inventory_file() { printf '%s/inventory\n' "$STATE_DIR"; }
