#!/usr/bin/env bash
# Idempotency claim + complete on Redis, side by side with redis-benchmark's
# plain SET at the same concurrency (issue 4's yardstick). The two are run
# interleaved, round after round, so that a noisy neighbour hits both; the
# table gives the median of each over the rounds and their ratio.
#
#   bench/idem-redis.sh [rounds]      (default 5; Redis on 127.0.0.1:6379)
set -euo pipefail
rounds=${1:-5}
addr=${BALDUR_TEST_REDIS_ADDR:-127.0.0.1:6379}
host=${addr%:*} port=${addr##*:}
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not found (Debian: redis-tools)" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(mktemp -d)/idem.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
(cd "$root" && go test -c -o "$bin" ./runtime/idem)

declare -A sets on off
for r in $(seq "$rounds"); do
	for c in 1 8 64; do
		s=$(redis-benchmark -h "$host" -p "$port" -t set -c "$c" -n 50000 --csv | awk -F'"' '/^"SET"/ {print $4}')
		sets[$c]+="$s "
		for p in on off; do
			v=$(cd "$root/runtime/idem" && "$bin" -test.run '^$' \
				-test.bench "RedisClaimComplete/autopipeline=$p/callers=$c\$" -test.benchtime 20000x |
				awk '/ops\/s/ {for (i = 1; i <= NF; i++) if ($(i+1) == "ops/s") print $i}')
			if [ "$p" = on ]; then on[$c]+="$v "; else off[$c]+="$v "; fi
		done
	done
	echo "round $r/$rounds done" >&2
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
printf '| callers | redis-benchmark SET/s | claim+complete/s (autopipeline) | ratio | claim+complete/s (NoAutoPipeline) | ratio |\n'
printf '|---|---|---|---|---|---|\n'
for c in 1 8 64; do
	s=$(echo "${sets[$c]}" | median) a=$(echo "${on[$c]}" | median) b=$(echo "${off[$c]}" | median)
	awk -v c="$c" -v s="$s" -v a="$a" -v b="$b" 'BEGIN {printf "| %d | %.0f | %.0f | %.2f | %.0f | %.2f |\n", c, s, a, a / s, b, b / s}'
done
echo "medians of $rounds interleaved rounds; per-round values: SET ${sets[*]} | on ${on[*]} | off ${off[*]}" >&2
