#!/usr/bin/env bash
# Durable-mode throughput: bench/e2e.sh with an http target in durable mode
# (every matched event stored in the embedded JetStream, then delivered from
# the target's durable consumer in batches of BATCH to the wbbench HTTP sink).
# Rates default lower than e2e.sh's: JetStream is the bottleneck.
#   bench/durable.sh
#   RATES="10000 20000 max" BATCH=500 bench/durable.sh
export RATES=${RATES:-"10000 20000 50000 max"}
exec "$(dirname "$0")/e2e.sh" durable
