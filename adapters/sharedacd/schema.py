"""The tables of the shared routing state (PostgreSQL), created idempotently.

Place: used by `ivr.adapters.sharedacd.state`. One row of `acd_routing` per center is the
routing token: a routing step locks it `FOR UPDATE`, every other change `FOR SHARE`, and
each takes its number from `acd_seq` while holding it, so the numbers order the steps as
they happened (a change numbered before a decision committed before it; docs/cluster.md).
`SCHEMA_VERSION` is written to `acd_schema` for the migrations that will follow.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import TupleRow

SCHEMA_VERSION = 1

_TABLES = """
CREATE TABLE IF NOT EXISTS acd_schema (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS acd_routing (center text PRIMARY KEY);
CREATE SEQUENCE IF NOT EXISTS acd_seq;
CREATE TABLE IF NOT EXISTS acd_calls (
    center text NOT NULL,
    call_id text NOT NULL,
    queue text NOT NULL,
    priority integer NOT NULL,
    vip boolean NOT NULL,
    skills text[] NOT NULL,
    seq bigint NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    instance text NOT NULL,
    state text NOT NULL CHECK (state IN ('waiting', 'offered', 'connected')),
    agent_id text,
    offer_seq bigint,
    screen jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (center, call_id)
);
CREATE INDEX IF NOT EXISTS acd_calls_waiting ON acd_calls (center, priority DESC, seq)
    WHERE state = 'waiting';
CREATE TABLE IF NOT EXISTS acd_agents (
    center text NOT NULL,
    agent_id text NOT NULL,
    instance text NOT NULL,
    address text NOT NULL,
    skills jsonb NOT NULL,
    skill_names text[] NOT NULL,
    state text NOT NULL CHECK (state IN ('ready', 'not_ready', 'reserved', 'on_call', 'wrap_up')),
    login_seq bigint NOT NULL,
    ready_seq bigint,
    idle_since timestamptz,
    call_id text,
    PRIMARY KEY (center, agent_id)
);
CREATE INDEX IF NOT EXISTS acd_agents_ready ON acd_agents (center, ready_seq) WHERE state = 'ready';
CREATE TABLE IF NOT EXISTS acd_instances (
    center text NOT NULL,
    instance text NOT NULL,
    seen_at timestamptz NOT NULL,
    PRIMARY KEY (center, instance)
);
ALTER TABLE acd_calls ADD COLUMN IF NOT EXISTS connected_at timestamptz;
CREATE TABLE IF NOT EXISTS acd_handle_times (
    center text NOT NULL,
    queue text NOT NULL,
    average double precision NOT NULL,
    samples bigint NOT NULL,
    PRIMARY KEY (center, queue)
);
"""


def prepare(conn: psycopg.Connection[TupleRow], center: str) -> None:
    """Create the tables if missing and the center's routing token; several instances may
    start at once, so one advisory lock orders them."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('ivr.sharedacd.schema'))")
        conn.execute(_TABLES)
        if conn.execute("SELECT 1 FROM acd_schema").fetchone() is None:
            conn.execute("INSERT INTO acd_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
        conn.execute("INSERT INTO acd_routing (center) VALUES (%s) ON CONFLICT DO NOTHING", (center,))
