#!/usr/bin/env bash
# A class server on this machine, on loopback only: PostgreSQL, a Ray head, two app replicas, nginx in front,
# each piece under supervisord (restarted on failure, on its own).
# Needs: apt-get install nginx postgresql; pip install -r requirements.txt -r requirements-cluster.txt
# Options are those of `python -m deploy.stack up --help` (e.g. --replicas 3 --port 9000 --ray-cpus 8
# --state-dir DIR). `python -m deploy.stack status` and `python -m deploy.stack stop` (the kept runs stay in
# the state folder). See docs/DEPLOY.md, also for several machines.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python -m deploy.stack up "$@"
