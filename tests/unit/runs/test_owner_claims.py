"""One training per owner across app servers: the owner's claim in the shared PostgreSQL database
(``store_postgres.OwnerClaims``), held while a job is active and released when it ends or its server dies."""

from __future__ import annotations

import subprocess
import sys
import time

from playground.runs.store_postgres import OwnerClaims


def test_an_owner_holds_one_claim_across_servers_until_it_is_released(postgres_server):
    url = postgres_server.database()
    replica_1, replica_2 = OwnerClaims(url), OwnerClaims(url)  # two app servers
    alice = replica_1.claim("owner:alice")
    assert alice not in (None, False)
    assert replica_2.claim("owner:alice") is False  # the other server sees her training
    assert replica_2.cut_off("owner:alice") is False  # under way, not cut off
    bob = replica_2.claim("owner:bob")  # another owner is not held up
    assert bob not in (None, False)
    replica_1.release(alice)
    again = replica_2.claim("owner:alice")
    assert again not in (None, False)
    for claim in (bob, again):
        replica_2.release(claim)


def test_a_claim_of_a_server_that_died_is_released_by_the_database(postgres_server):
    url = postgres_server.database()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom playground.runs.store_postgres import OwnerClaims\n"
         f"c = OwnerClaims({url!r}).claim('owner:carol')\nprint('held' if c else 'no', flush=True)\ntime.sleep(600)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        claims = OwnerClaims(url)
        assert claims.claim("owner:carol") is False
    finally:
        holder.kill()  # kill -9: the server holding the claim dies
        holder.wait()
    deadline = time.monotonic() + 30
    while not claims.cut_off("owner:carol") and time.monotonic() < deadline:  # PostgreSQL notices the closed connection
        time.sleep(0.2)
    assert time.monotonic() < deadline  # her next page is told her training was cut off ...
    assert claims.cut_off("owner:carol") is False  # ... once
    claim = claims.claim("owner:carol")
    assert claim not in (None, False)  # and she trains again
    claims.release(claim)
    assert claims.cut_off("owner:carol") is False  # a training that ended normally was not cut off


def test_an_unreachable_database_claims_nothing():
    claims = OwnerClaims("postgresql://nobody@127.0.0.1:1/none", connect_timeout_s=2)
    assert claims.claim("owner:dan") is None and claims.cut_off("owner:dan") is False
