#!/bin/bash
# Entrypoint of ticketctl's local OpenSearch image, following the official
# opensearchproject/opensearch image: `opensearch` (the default) or a first
# argument that starts with `-` runs OpenSearch, every environment variable whose
# name looks like a setting (lower case, with a dot: discovery.type,
# cluster.name, ...) and has a value becomes `-E name=value`, and
# OPENSEARCH_JAVA_OPTS is read by OpenSearch's own launcher. This distribution has
# no security plugin and no demo configuration, so DISABLE_SECURITY_PLUGIN=true
# and DISABLE_INSTALL_DEMO_CONFIG=true hold already and are accepted as they are;
# DISABLE_SECURITY_PLUGIN=false is refused, since security cannot be turned on
# here. Any other command is run as is.
set -euo pipefail

if [[ "${1:-}" == -* ]]; then set -- opensearch "$@"; fi
if [[ "${1:-}" != opensearch ]]; then exec "$@"; fi
shift

if [[ -n "${DISABLE_SECURITY_PLUGIN:-}" && "${DISABLE_SECURITY_PLUGIN}" != true ]]; then
	echo "opensearch-docker-entrypoint: DISABLE_SECURITY_PLUGIN=${DISABLE_SECURITY_PLUGIN}: this image has no security plugin; use DISABLE_SECURITY_PLUGIN=true" >&2
	exit 1
fi

settings=()
while IFS= read -r -d '' entry; do
	name="${entry%%=*}"
	value="${entry#*=}"
	if [[ "$name" =~ ^[a-z0-9_]+\.[a-z0-9_]+ && -n "$value" ]]; then
		settings+=("-E" "$name=$value")
	fi
done < <(env -0)

exec /usr/share/opensearch/bin/opensearch "${settings[@]}" "$@"
