"""The shared routing state of one center on one PostgreSQL connection (synchronous).

Place: the PostgreSQL side of `ivr.runtime.acd.shared`; `ivr.adapters.sharedacd.routing`
runs it from trio in a worker thread, and the property test runs several of them in
threads. Every method is one transaction.

Why a row lock on the center and conditional updates (and not SKIP LOCKED, nor Redis):

- A routing step compares the whole center: the best waiting call among all instances'
  calls, the longest-idle (or, for a VIP, most skilled) agent among all instances'
  agents. `SELECT ... FOR UPDATE SKIP LOCKED` suits a job queue where any worker may take
  any job; here a router that skips a locked call or agent passes over the one that should
  have been chosen (a VIP call, the longest-idle agent) whenever another transaction
  touches it, and the order is lost exactly when the center is busy. Per-row locks taken
  call-then-agent by one router and agent-then-call by another also risk deadlocks.
- So a routing step locks the center's row in `acd_routing` `FOR UPDATE` (one decider per
  step, across all instances), and every other change (a call arrives, an agent becomes
  ready, ...) locks it `FOR SHARE`: changes run side by side, steps run one at a time,
  and both take their number from one sequence while holding the lock. The numbers are the
  order of availability, and a change numbered before a step is visible to it. Within
  that, each change is a conditional update (`WHERE state = 'ready'`, ...): an agent going
  not ready after a step reserved it finds `reserved` and does not apply, so the offer
  stands and is never made twice.
- The cost is one short transaction per step (`benchmarks/shared_acd_routing.py`),
  against a rate of routing steps bounded by the calls agents answer (a few a second for
  hundreds of agents).
- Redis could hold the same state with Lua scripts for the atomic match, but it would be
  another service to run, secure and make durable (AOF with fsync), and its pub/sub is not
  tied to the write; PostgreSQL is already the center's shared store (call records,
  journal), a change and its `NOTIFY` commit together, and a dead client's transaction
  (and its lock) is rolled back by the server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

import psycopg
from psycopg.rows import TupleRow

from ivr.adapters.sharedacd.schema import prepare
from ivr.runtime.acd.shared import (
    CenterFigures,
    CenterQueue,
    Match,
    Place,
    SharedAgent,
    SharedAgentState,
    SharedCall,
    Step,
)

CHANNEL = "ivr_acd"  # one channel; each payload names its center

_PAIR = """
SELECT c.call_id, a.agent_id, a.address, c.instance, a.instance, c.queue, c.screen
FROM (
    SELECT * FROM acd_calls c
    WHERE c.center = %(center)s AND c.state = 'waiting'
      AND EXISTS (SELECT 1 FROM acd_agents r
                  WHERE r.center = c.center AND r.state = 'ready' AND r.skill_names @> c.skills)
    ORDER BY c.priority DESC, c.seq
    LIMIT 1
) c
CROSS JOIN LATERAL (
    SELECT r.* FROM acd_agents r
    WHERE r.center = c.center AND r.state = 'ready' AND r.skill_names @> c.skills
    ORDER BY CASE WHEN c.vip
                  THEN -coalesce((SELECT min((r.skills ->> s)::int) FROM unnest(c.skills) AS s), 0)
                  ELSE 0 END,
             r.ready_seq, r.login_seq
    LIMIT 1
) a
"""

_OFFERS = (
    "SELECT c.offer_seq, c.call_id, a.agent_id, a.address, c.instance, a.instance, c.queue, c.screen"
    " FROM acd_calls c JOIN acd_agents a ON a.center = c.center AND a.agent_id = c.agent_id"
    " WHERE c.center = %s"
)

Connection = psycopg.Connection[TupleRow]


def connect(url: str) -> Connection:
    """A connection in autocommit mode: each method opens its own transaction."""
    return psycopg.connect(url, autocommit=True)


class RoutingState:
    """One center's queue state (`center` names it, so several centers may share tables)."""

    def __init__(self, conn: Connection, center: str = "default", handle_window: int = 20) -> None:
        self.conn = conn
        self.center = center
        self.handle_window = handle_window  # as `AcdSettings.handle_time_window`

    def prepare(self) -> None:
        prepare(self.conn, self.center)

    # -- calls ----------------------------------------------------------------------------
    def add_call(self, call: SharedCall) -> Step:
        with self.conn.transaction():
            seq = self._change(call_id=call.call_id)
            cursor = self.conn.execute(
                "INSERT INTO acd_calls (center, call_id, queue, priority, vip, skills, seq, instance,"
                " state, screen) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'waiting', %s)"
                " ON CONFLICT DO NOTHING",
                (
                    self.center,
                    call.call_id,
                    call.queue,
                    call.priority,
                    call.vip,
                    sorted(call.skills),
                    seq,
                    call.instance,
                    json.dumps(dict(call.screen), default=str),
                ),
            )
            return self._available(seq, cursor.rowcount == 1)

    def withdraw_call(self, call_id: str) -> Step:
        with self.conn.transaction():
            seq = self._change(call_id=call_id)
            cursor = self.conn.execute(
                "DELETE FROM acd_calls WHERE center = %s AND call_id = %s AND state = 'waiting'",
                (self.center, call_id),
            )
            return Step(seq, cursor.rowcount == 1)

    # -- agents ---------------------------------------------------------------------------
    def login(self, agent: SharedAgent, *, ready: bool = False) -> Step:
        with self.conn.transaction():
            seq = self._change(agent_id=agent.agent_id)
            cursor = self.conn.execute(
                "INSERT INTO acd_agents (center, agent_id, instance, address, skills, skill_names, state,"
                " login_seq, ready_seq, idle_since) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " CASE WHEN %s THEN clock_timestamp() END) ON CONFLICT DO NOTHING",
                (
                    self.center,
                    agent.agent_id,
                    agent.instance,
                    agent.address,
                    json.dumps(dict(agent.skills)),
                    sorted(agent.skills),
                    "ready" if ready else "not_ready",
                    seq,
                    seq if ready else None,
                    ready,
                ),
            )
            applied = cursor.rowcount == 1
            return self._available(seq, applied) if ready else Step(seq, applied)

    def logout(self, agent_id: str) -> Step:
        return self._agent_change(
            "DELETE FROM acd_agents WHERE center = %s AND agent_id = %s"
            " AND state IN ('ready', 'not_ready', 'wrap_up')",
            agent_id,
        )

    def set_ready(self, agent_id: str) -> Step:
        with self.conn.transaction():
            seq = self._change(agent_id=agent_id)
            cursor = self.conn.execute(
                "UPDATE acd_agents SET state = 'ready', ready_seq = %s, idle_since = clock_timestamp()"
                " WHERE center = %s AND agent_id = %s AND state IN ('not_ready', 'wrap_up')",
                (seq, self.center, agent_id),
            )
            return self._available(seq, cursor.rowcount == 1)

    def set_not_ready(self, agent_id: str) -> Step:
        return self._agent_change(
            "UPDATE acd_agents SET state = 'not_ready', ready_seq = NULL, idle_since = NULL"
            " WHERE center = %s AND agent_id = %s AND state IN ('ready', 'not_ready', 'wrap_up')",
            agent_id,
        )

    # -- the routing step -----------------------------------------------------------------
    def route_once(self) -> Match | None:
        """Match the best waiting call to its best ready agent, as one transaction holding
        the center's routing token; None when no ready agent can serve any waiting call."""
        with self.conn.transaction():
            self.conn.execute("SELECT 1 FROM acd_routing WHERE center = %s FOR UPDATE", (self.center,))
            row = self.conn.execute(_PAIR, {"center": self.center}).fetchone()
            if row is None:
                return None
            seq = self._next()
            call_id, agent_id, address, call_instance, agent_instance, queue, screen = row
            reserved = self.conn.execute(
                "UPDATE acd_agents SET state = 'reserved', call_id = %s"
                " WHERE center = %s AND agent_id = %s AND state = 'ready'",
                (call_id, self.center, agent_id),
            ).rowcount
            offered = self.conn.execute(
                "UPDATE acd_calls SET state = 'offered', agent_id = %s, offer_seq = %s"
                " WHERE center = %s AND call_id = %s AND state = 'waiting'",
                (agent_id, seq, self.center, call_id),
            ).rowcount
            if (reserved, offered) != (1, 1):  # the token excludes this; never commit half a match
                raise RuntimeError(f"routing step {seq}: {call_id} / {agent_id} changed under the token")
            match = Match(seq, call_id, agent_id, address, call_instance, agent_instance, queue, screen)
            self._notify(
                {
                    "kind": "offer",
                    "seq": seq,
                    "call": call_id,
                    "agent": agent_id,
                    "call_instance": call_instance,
                    "agent_instance": agent_instance,
                }
            )
            return match

    # -- after the offer ------------------------------------------------------------------
    def answered(self, call_id: str) -> Step:
        with self.conn.transaction():
            seq, state, agent_id = self._call_change(call_id)
            if state != "offered":
                return Step(seq, False)
            self._tell_agent("connected", call_id)
            self.conn.execute(
                "UPDATE acd_calls SET state = 'connected', connected_at = clock_timestamp()"
                " WHERE center = %s AND call_id = %s",
                (self.center, call_id),
            )
            self.conn.execute(
                "UPDATE acd_agents SET state = 'on_call' WHERE center = %s AND agent_id = %s",
                (self.center, agent_id),
            )
            return Step(seq, True)

    def not_answered(self, call_id: str) -> Step:
        with self.conn.transaction():
            seq, state, agent_id = self._call_change(call_id)
            if state != "offered":
                return Step(seq, False)
            self._tell_agent("not_answered", call_id)
            self._set_call(call_id, "waiting", None)
            self.conn.execute(
                "UPDATE acd_agents SET state = 'not_ready', call_id = NULL, ready_seq = NULL,"
                " idle_since = NULL WHERE center = %s AND agent_id = %s",
                (self.center, agent_id),
            )
            return self._available(seq, True)

    def abandon(self, call_id: str) -> Step:
        """The caller hung up while waiting or while its agent rang; the agent keeps its
        place among idle agents (its `ready_seq`)."""
        with self.conn.transaction():
            seq, state, agent_id = self._call_change(call_id)
            if state not in ("waiting", "offered"):
                return Step(seq, False)
            self._tell_agent("abandoned", call_id)
            self._delete_call(call_id)
            if agent_id is None:
                return Step(seq, True)
            self.conn.execute(
                "UPDATE acd_agents SET state = 'ready', call_id = NULL WHERE center = %s AND agent_id = %s",
                (self.center, agent_id),
            )
            return self._available(seq, True)

    def finished(self, call_id: str, *, wrap_up: bool) -> Step:
        with self.conn.transaction():
            seq, state, agent_id = self._call_change(call_id)
            if state != "connected":
                return Step(seq, False)
            self._tell_agent("finished", call_id)
            self._record_handle_time(call_id)
            self._delete_call(call_id)
            if wrap_up:
                self.conn.execute(
                    "UPDATE acd_agents SET state = 'wrap_up', call_id = NULL, ready_seq = NULL,"
                    " idle_since = NULL WHERE center = %s AND agent_id = %s",
                    (self.center, agent_id),
                )
                return Step(seq, True)
            self.conn.execute(
                "UPDATE acd_agents SET state = 'ready', call_id = NULL, ready_seq = %s,"
                " idle_since = clock_timestamp() WHERE center = %s AND agent_id = %s",
                (seq, self.center, agent_id),
            )
            return self._available(seq, True)

    # -- instances ------------------------------------------------------------------------
    def heartbeat(self, instance: str) -> None:
        """This instance is alive (its router calls this every poll)."""
        self.conn.execute(
            "INSERT INTO acd_instances (center, instance, seen_at) VALUES (%s, %s, clock_timestamp())"
            " ON CONFLICT (center, instance) DO UPDATE SET seen_at = excluded.seen_at",
            (self.center, instance),
        )

    def sweep(self, stale_after: float) -> list[str]:
        """Clear what instances not seen for `stale_after` seconds held (`_clear`), in one
        transaction holding the routing token. Returns the instances cleared."""
        with self.conn.transaction():
            self.conn.execute("SELECT 1 FROM acd_routing WHERE center = %s FOR UPDATE", (self.center,))
            dead = [
                str(row[0])
                for row in self.conn.execute(
                    "DELETE FROM acd_instances WHERE center = %s"
                    " AND seen_at < clock_timestamp() - make_interval(secs => %s) RETURNING instance",
                    (self.center, stale_after),
                ).fetchall()
            ]
            if dead:
                self._clear(dead)
            return dead

    def restart(self, instance: str) -> Step:
        """An instance starting again clears what its previous life held (its call ids
        start again from 1) before it says it is alive."""
        with self.conn.transaction():
            self.conn.execute("SELECT 1 FROM acd_routing WHERE center = %s FOR UPDATE", (self.center,))
            seq = self._clear([instance])
        self.heartbeat(instance)
        return Step(seq, True)

    def _clear(self, dead: list[str]) -> int:
        """The instances `dead` are gone: their calls leave (their callers' legs died with
        them) and the agents those calls had are ready again (in their old place if only
        rung); their agents are logged out (their desktops died with them) and a call one of
        them was ringing waits again in its old place."""
        seq = self._next()
        self.conn.execute(
            "UPDATE acd_agents a SET state = 'ready', call_id = NULL,"
            " ready_seq = CASE WHEN a.state = 'reserved' THEN a.ready_seq ELSE %s END,"
            " idle_since = coalesce(a.idle_since, clock_timestamp())"
            " FROM acd_calls c WHERE c.center = a.center AND c.call_id = a.call_id"
            " AND a.center = %s AND c.instance = ANY(%s)",
            (seq, self.center, dead),
        )
        where = "WHERE center = %s AND instance = ANY(%s)"
        self.conn.execute(f"DELETE FROM acd_calls {where}", (self.center, dead))
        self.conn.execute(
            "UPDATE acd_calls c SET state = 'waiting', agent_id = NULL, offer_seq = NULL"
            " FROM acd_agents a WHERE a.center = c.center AND a.agent_id = c.agent_id"
            " AND c.center = %s AND c.state = 'offered' AND a.instance = ANY(%s)",
            (self.center, dead),
        )
        self.conn.execute(f"DELETE FROM acd_agents {where}", (self.center, dead))
        self._notify({"kind": "available", "seq": seq})
        return seq

    # -- reads ----------------------------------------------------------------------------
    def offers_for(self, instance: str) -> list[Match]:
        """The offers standing for calls owned by `instance`."""
        rows = self.conn.execute(
            _OFFERS + " AND c.state = 'offered' AND c.instance = %s ORDER BY c.seq", (self.center, instance)
        )
        return [Match(*row) for row in rows.fetchall()]

    def agents_of(self, instance: str) -> list[tuple[str, SharedAgentState, str | None]]:
        """The agents whose desktops are on `instance`: (agent, state, call)."""
        rows = self.conn.execute(
            "SELECT agent_id, state, call_id FROM acd_agents WHERE center = %s AND instance = %s",
            (self.center, instance),
        ).fetchall()
        return [(str(agent), cast(SharedAgentState, state), call) for agent, state, call in rows]

    def offer(self, call_id: str) -> Match | None:
        """The offer standing for one call, if it still stands (rung or answered: the
        agent's instance may read it after the call's instance connected it)."""
        row = self.conn.execute(
            _OFFERS + " AND c.state IN ('offered', 'connected') AND c.call_id = %s", (self.center, call_id)
        ).fetchone()
        return None if row is None else Match(*row)

    def agents_with(self, skills: frozenset[str]) -> int:
        """Logged-in agents (any state) having every skill: none means "no_agents"."""
        row = self.conn.execute(
            "SELECT count(*) FROM acd_agents WHERE center = %s AND skill_names @> %s",
            (self.center, sorted(skills)),
        ).fetchone()
        return int(row[0]) if row else 0

    def figures(self) -> CenterFigures:
        """Every queue with a call not yet answered (waiting or offered), its longest wait
        (the database's clock), and the agents by state."""
        with self.conn.transaction():  # one snapshot for both reads
            queues = self.conn.execute(
                "SELECT queue, count(*), extract(epoch FROM now() - min(enqueued_at))::float8"
                " FROM acd_calls WHERE center = %s AND state IN ('waiting', 'offered') GROUP BY queue",
                (self.center,),
            ).fetchall()
            agents = self.conn.execute(
                "SELECT state, count(*) FROM acd_agents WHERE center = %s GROUP BY state", (self.center,)
            ).fetchall()
        return CenterFigures(
            {str(q): CenterQueue(str(q), int(n), max(0.0, float(wait))) for q, n, wait in queues},
            {cast(SharedAgentState, state): int(n) for state, n in agents},
        )

    def place(self, call_id: str) -> Place | None:
        """Where a waiting call stands: 1 + the waiting calls with the same skills served
        before it (higher priority, or the same and earlier), and the agents covering them."""
        row = self.conn.execute(
            "SELECT 1 + (SELECT count(*) FROM acd_calls o WHERE o.center = c.center"
            "   AND o.state = 'waiting' AND o.skills = c.skills"
            "   AND (o.priority > c.priority OR (o.priority = c.priority AND o.seq < c.seq))),"
            " (SELECT count(*) FROM acd_agents a WHERE a.center = c.center AND a.skill_names @> c.skills),"
            " (SELECT h.average FROM acd_handle_times h WHERE h.center = c.center AND h.queue = c.queue)"
            " FROM acd_calls c WHERE c.center = %s AND c.call_id = %s AND c.state = 'waiting'",
            (self.center, call_id),
        ).fetchone()
        if row is None:
            return None
        return Place(int(row[0]), int(row[1]), None if row[2] is None else float(row[2]))

    def snapshot(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Every call (id, state, agent) and agent (id, state, call): for tests and tools."""
        calls = self.conn.execute(
            "SELECT call_id, state, agent_id FROM acd_calls WHERE center = %s ORDER BY call_id",
            (self.center,),
        ).fetchall()
        agents = self.conn.execute(
            "SELECT agent_id, state, call_id FROM acd_agents WHERE center = %s ORDER BY agent_id",
            (self.center,),
        ).fetchall()
        return calls, agents

    # -- helpers --------------------------------------------------------------------------
    def _change(self, *, call_id: str | None = None, agent_id: str | None = None) -> int:
        """Inside a change's transaction: share the routing token, lock the call and agent
        the change touches (by key, so a row that does not exist yet is covered too), then
        take the next number. Two changes of one agent or call are thereby numbered in the
        order they happen, and a change numbered before a routing step is visible to it."""
        self.conn.execute("SELECT 1 FROM acd_routing WHERE center = %s FOR SHARE", (self.center,))
        if call_id is not None:
            self._lock("call", call_id)
        if agent_id is not None:
            self._lock("agent", agent_id)
        return self._next()

    def _call_change(self, call_id: str) -> tuple[int, str | None, str | None]:
        """`_change` for a call and the agent it is offered to or talking with (stable while
        the call's key is held): (number, the call's state, its agent)."""
        self.conn.execute("SELECT 1 FROM acd_routing WHERE center = %s FOR SHARE", (self.center,))
        self._lock("call", call_id)
        row = self.conn.execute(
            "SELECT state, agent_id FROM acd_calls WHERE center = %s AND call_id = %s", (self.center, call_id)
        ).fetchone()
        state, agent_id = (None, None) if row is None else (str(row[0]), row[1])
        if agent_id is not None:
            self._lock("agent", agent_id)
        return self._next(), state, agent_id

    def _lock(self, kind: str, key: str) -> None:
        self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ("\x1f".join((self.center, kind, key)),)
        )

    def _next(self) -> int:
        row = self.conn.execute("SELECT nextval('acd_seq')").fetchone()
        assert row is not None
        return int(row[0])

    def _agent_change(self, sql: str, agent_id: str) -> Step:
        with self.conn.transaction():
            seq = self._change(agent_id=agent_id)
            return Step(seq, self.conn.execute(sql, (self.center, agent_id)).rowcount == 1)

    def _set_call(self, call_id: str, state: str, agent_id: str | None) -> None:
        self.conn.execute(
            "UPDATE acd_calls SET state = %s, agent_id = %s WHERE center = %s AND call_id = %s",
            (state, agent_id, self.center, call_id),
        )

    def _record_handle_time(self, call_id: str) -> None:
        """Fold the call's handle time (connected to finished) into its queue's average over
        about the last `handle_window` calls of every instance (a running mean up to that
        many samples, then each new call weighs 1/window): one row per queue, bounded."""
        self.conn.execute(
            "INSERT INTO acd_handle_times AS h (center, queue, average, samples)"
            " SELECT center, queue, extract(epoch FROM clock_timestamp() - connected_at), 1"
            " FROM acd_calls WHERE center = %s AND call_id = %s AND connected_at IS NOT NULL"
            " ON CONFLICT (center, queue) DO UPDATE SET samples = h.samples + 1,"
            " average = h.average + (excluded.average - h.average) / LEAST(h.samples + 1, %s)",
            (self.center, call_id, self.handle_window),
        )

    def _delete_call(self, call_id: str) -> None:
        self.conn.execute("DELETE FROM acd_calls WHERE center = %s AND call_id = %s", (self.center, call_id))

    def _tell_agent(self, what: str, call_id: str) -> None:
        """Tell the instance hosting the desktop of the call's agent (if any) what became
        of the call: "connected", "not_answered", "abandoned", "finished" (sent at commit;
        `SharedAcd.followed` turns it into the desktop's events)."""
        row = self.conn.execute(
            "SELECT c.agent_id, c.queue, c.instance, a.instance FROM acd_calls c"
            " JOIN acd_agents a ON a.center = c.center AND a.agent_id = c.agent_id"
            " WHERE c.center = %s AND c.call_id = %s",
            (self.center, call_id),
        ).fetchone()
        if row is not None:
            agent_id, queue, call_instance, agent_instance = row
            self._notify(
                {
                    "kind": "agent",
                    "what": what,
                    "call": call_id,
                    "agent": agent_id,
                    "queue": queue,
                    "call_instance": call_instance,
                    "agent_instance": agent_instance,
                }
            )

    def _available(self, seq: int, applied: bool) -> Step:
        """A call or an agent became available: wake the routers (sent at commit)."""
        if applied:
            self._notify({"kind": "available", "seq": seq})
        return Step(seq, applied)

    def _notify(self, payload: Mapping[str, object]) -> None:
        body = json.dumps({"center": self.center, **payload})
        self.conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, body))
