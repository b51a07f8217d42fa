#!/usr/bin/env bash
# A class server on this machine, on loopback only: PostgreSQL, a Ray head, two app replicas, nginx in front.
# Needs: apt-get install nginx postgresql; pip install -r requirements.txt -r requirements-cluster.txt
# Options are those of `python -m deploy.stack up --help` (e.g. --replicas 3 --port 9000 --ray-cpus 8).
# Ctrl-C stops everything it started. See docs/DEPLOY.md for several machines.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python -m deploy.stack up "$@"
