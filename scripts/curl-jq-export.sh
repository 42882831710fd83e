#!/usr/bin/env bash
# The export a user would write by hand, for comparison in benchmarks:
# one token, then curl following @odata.nextLink, each page's records
# through jq -c '.value[]' into a file. No retries, no dedupe, no checks.
#   NEO_CLIENT_ID=... NEO_CLIENT_SECRET=... curl-jq-export.sh API_URL ACCOUNT FROM TO OUT
# FROM and TO are $filter time literals (2026-11-24T10.00.00).
set -euo pipefail
api=$1 account=$2 from=$3 to=$4 out=$5
if ! command -v jq >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
fi
token=$(curl -sf -u "$NEO_CLIENT_ID:$NEO_CLIENT_SECRET" -X POST "$api/oauth2/apitoken/v1?grant_type=client_credentials" | jq -r .access_token)
url="$api/auditlog/v1/accounts/$account/AuditLogRecords?\$filter=Time%20ge%20%27$from%27%20and%20Time%20lt%20%27$to%27"
: >"$out"
while [ -n "$url" ]; do
	page=$(curl -sf -H "Authorization: Bearer $token" "$url")
	jq -c '.value[]' <<<"$page" >>"$out"
	next=$(jq -r '."@odata.nextLink" // empty' <<<"$page")
	url=""
	if [ -n "$next" ]; then
		url="$api/${next#*://*/}" # keep path and query, on the configured API URL
	fi
done
