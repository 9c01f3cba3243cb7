#!/bin/bash
# Entrypoint of ticketctl's local Elasticsearch image, following the official
# image: `eswrapper` (the default) or a first argument that starts with `-` runs
# Elasticsearch, every environment variable whose name looks like a setting
# (lower case, with a dot: discovery.type, xpack.security.enabled, ...) and has a
# value becomes `-E name=value`, and ES_JAVA_OPTS is read by Elasticsearch's own
# launcher. Any other command is run as is.
set -euo pipefail

if [[ "${1:-}" == -* ]]; then set -- eswrapper "$@"; fi
if [[ "${1:-}" != eswrapper ]]; then exec "$@"; fi
shift

settings=()
while IFS= read -r -d '' entry; do
	name="${entry%%=*}"
	value="${entry#*=}"
	if [[ "$name" =~ ^[a-z0-9_]+\.[a-z0-9_]+ && -n "$value" ]]; then
		settings+=("-E" "$name=$value")
	fi
done < <(env -0)

exec /usr/share/elasticsearch/bin/elasticsearch "${settings[@]}" "$@"
