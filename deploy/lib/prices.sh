# shellcheck shell=bash
# Droplet price lookup: live from `doctl compute size list` when doctl is
# installed and authenticated, else the dated fallback table deploy/prices.tsv.
# Sourced after lib/common.sh.

PRICE_SOURCE=""
declare -A PRICE_OF=()

load_prices() {
	local live slug price
	if [[ ${PRICES_OFFLINE:-0} != 1 ]] && command -v "$DOCTL" >/dev/null 2>&1 &&
		live="$("$DOCTL" compute size list --format Slug,PriceMonthly --no-header 2>/dev/null)" &&
		[[ -n $live ]]; then
		while read -r slug price _; do
			[[ -n $slug ]] && PRICE_OF[$slug]=$price
		done <<<"$live"
		PRICE_SOURCE="live: doctl compute size list"
		return
	fi
	local table="$DEPLOY_DIR/prices.tsv" dated
	dated="$(sed -n 's/^# As of: //p' "$table")"
	while IFS=$'\t' read -r slug price _; do
		[[ -z $slug || $slug == \#* ]] && continue
		PRICE_OF[$slug]=$price
	done <"$table"
	PRICE_SOURCE="fallback table deploy/prices.tsv, prices as of ${dated:-an unknown date}; doctl not available"
}

price_of() {
	[[ -n ${PRICE_OF[$1]:-} ]] || die "no price known for droplet size '$1' (${PRICE_SOURCE})"
	printf '%s\n' "${PRICE_OF[$1]}"
}
