"""Call commands carried to the instance holding a call (docs/cluster.md, "Call controls
across instances").

Place: beside the shared routing state (`ivr.adapters.sharedacd.state`), on the same
database and the same notification channel. With a shared ACD the caller's SIP leg, and
so the conversation with the agent's phone, lives at the instance the call arrived at
(its "owner"), while the agent's desktop may be on another instance. A desktop command
for such a call (hang up, hold, resume, mute, keypad) becomes a row of `acd_commands`
addressed to the owner, and a `command` notification in the same transaction. The owner
claims its rows (`pending` to `running`, one conditional update, so a row runs once),
carries each out on its own leg through `CommandHandler` (the CTI's call control there:
`ivr.adapters.cti.remote`), and writes the outcome (`done`, or `failed` with the reason)
with a `command_done` notification to the sender, who is waiting for it.

Why a table and not a bare notification: the row is the command's one truth. The sender
reads the outcome from it even if a notification was missed (each instance's router polls
as a safety net); a command the owner did not claim in time is withdrawn by the sender
(`pending` to `failed`, conditional again), so it can never run after the desktop was told
it failed; and the rows are a log of who did what to which call.

Why not Redis or a socket between instances: the database already connects every instance
and knows which one owns the call (`acd_calls.instance`) and whether it is alive
(`acd_instances.seen_at`, the routers' heartbeat), and a row and its notification commit
together. The cost is a few milliseconds per command, against a human's click.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import trio

from ivr.adapters.errors import AdapterError
from ivr.adapters.postgres.migrations import migrate
from ivr.adapters.sharedacd.state import CHANNEL, RoutingState
from ivr.adapters.storage.schema import Migration

log = logging.getLogger(__name__)
T = TypeVar("T")

COMPONENT = "acd_commands"
MIGRATIONS: tuple[Migration, ...] = (
    (
        1,
        (
            """CREATE TABLE acd_commands (
                id bigserial PRIMARY KEY,
                center text NOT NULL,
                call_id text NOT NULL,
                agent_id text NOT NULL,
                owner text NOT NULL,
                sender text NOT NULL,
                command text NOT NULL,
                args jsonb NOT NULL DEFAULT '{}',
                state text NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
                error text,
                created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                done_at timestamptz
            )""",
            "CREATE INDEX acd_commands_pending ON acd_commands (center, owner) WHERE state = 'pending'",
        ),
    ),
)
ANSWER_WITHIN = 10.0  # seconds the sender waits for the owner's outcome
KEEP_SETTLED = 7 * 24 * 3600.0  # seconds a settled command stays as the log of who did what
ABANDONED_AFTER = 600.0  # a command still pending or running this long will never settle
PRUNE_EVERY = 600.0  # seconds between two prunings by one instance


class CommandRefused(AdapterError):
    """A call command that did not take effect; the message says why, for the desktop."""


@dataclass(frozen=True)
class RemoteCommand:
    """A command for a call this instance holds, sent by the instance of its agent's desktop."""

    id: int
    call_id: str
    agent_id: str
    sender: str
    command: str
    args: Mapping[str, Any]


CommandHandler = Callable[[RemoteCommand], Awaitable[None]]
"""Carries a command out on this instance's leg; raises (`AdapterError`, with a message for
the desktop) when it cannot."""


def prepare(state: RoutingState) -> None:
    with state.conn.transaction():
        migrate(state.conn, COMPONENT, MIGRATIONS)


# -- the statements (one transaction each, on the instance's changes connection) ----------
def send(
    state: RoutingState,
    call_id: str,
    sender: str,
    command: str,
    args: Mapping[str, object],
    stale_after: float,
) -> int:
    """Address `command` to the instance holding `call_id`; its row id. Refused at once when
    no instance holds the call for an agent, or the holder has not been heard of lately."""
    conn = state.conn
    with conn.transaction():
        row = conn.execute(
            "SELECT c.instance, c.agent_id, i.seen_at > clock_timestamp() - make_interval(secs => %s)"
            " FROM acd_calls c LEFT JOIN acd_instances i ON i.center = c.center AND i.instance = c.instance"
            " WHERE c.center = %s AND c.call_id = %s AND c.state IN ('offered', 'connected')",
            (stale_after, state.center, call_id),
        ).fetchone()
        if row is None or row[1] is None:
            raise CommandRefused(f"call {call_id} is no longer held by any instance of the center")
        owner, agent_id, alive = str(row[0]), str(row[1]), bool(row[2])
        if not alive:
            raise CommandRefused(
                f"the instance {owner} holding call {call_id} has not been heard of for"
                f" {stale_after:g} s: it is gone, and the call with it"
            )
        inserted = conn.execute(
            "INSERT INTO acd_commands (center, call_id, agent_id, owner, sender, command, args, state)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, 'pending') RETURNING id",
            (state.center, call_id, agent_id, owner, sender, command, json.dumps(dict(args), default=str)),
        ).fetchone()
        assert inserted is not None
        command_id = int(inserted[0])
        _notify(state, {"kind": "command", "id": command_id, "owner": owner})
        return command_id


def claim(state: RoutingState, owner: str) -> list[RemoteCommand]:
    """The commands addressed to `owner`, now `running` (each claimed once)."""
    with state.conn.transaction():
        rows = state.conn.execute(
            "WITH claimed AS (UPDATE acd_commands SET state = 'running'"
            " WHERE center = %s AND owner = %s AND state = 'pending'"
            " RETURNING id, call_id, agent_id, sender, command, args)"
            " SELECT * FROM claimed ORDER BY id",  # in the order they were sent
            (state.center, owner),
        ).fetchall()
    return [RemoteCommand(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), dict(r[5])) for r in rows]


def still_theirs(state: RoutingState, command: RemoteCommand) -> bool:
    """The command's agent still has the call, and its desktop is still on the sender."""
    row = state.conn.execute(
        "SELECT 1 FROM acd_calls c JOIN acd_agents a ON a.center = c.center AND a.agent_id = c.agent_id"
        " WHERE c.center = %s AND c.call_id = %s AND c.agent_id = %s AND a.instance = %s",
        (state.center, command.call_id, command.agent_id, command.sender),
    ).fetchone()
    return row is not None


def settle(state: RoutingState, command: RemoteCommand, error: str | None) -> None:
    with state.conn.transaction():
        state.conn.execute(
            "UPDATE acd_commands SET state = %s, error = %s, done_at = clock_timestamp()"
            " WHERE id = %s AND state = 'running'",
            ("done" if error is None else "failed", error, command.id),
        )
        _notify(state, {"kind": "command_done", "id": command.id, "sender": command.sender})


def outcome(state: RoutingState, command_id: int) -> tuple[str, str | None]:
    row = state.conn.execute("SELECT state, error FROM acd_commands WHERE id = %s", (command_id,)).fetchone()
    return ("failed", "the command is gone") if row is None else (str(row[0]), row[1])


def withdraw(state: RoutingState, command_id: int, reason: str) -> bool:
    """Fail a command its owner has not claimed yet (it will never run); False if claimed."""
    with state.conn.transaction():
        cursor = state.conn.execute(
            "UPDATE acd_commands SET state = 'failed', error = %s, done_at = clock_timestamp()"
            " WHERE id = %s AND state = 'pending'",
            (reason, command_id),
        )
        return cursor.rowcount == 1


def prune(state: RoutingState, keep: float = KEEP_SETTLED, abandoned_after: float = ABANDONED_AFTER) -> int:
    """Keep `acd_commands` bounded; the number of rows deleted. A command still pending or
    running `abandoned_after` seconds after it was sent (its sender or owner stopped half
    way: the sender had long given up waiting) is failed; settled commands older than `keep`
    are deleted. Any instance may run it: both statements are idempotent."""
    with state.conn.transaction():
        state.conn.execute(
            "UPDATE acd_commands SET state = 'failed', done_at = clock_timestamp(),"
            " error = 'abandoned: its sender or the instance holding the call stopped half way'"
            " WHERE center = %s AND state IN ('pending', 'running')"
            " AND created_at < clock_timestamp() - make_interval(secs => %s)",
            (state.center, abandoned_after),
        )
        cursor = state.conn.execute(
            "DELETE FROM acd_commands WHERE center = %s AND state IN ('done', 'failed')"
            " AND done_at < clock_timestamp() - make_interval(secs => %s)",
            (state.center, keep),
        )
        return cursor.rowcount


def _notify(state: RoutingState, payload: Mapping[str, object]) -> None:
    body = json.dumps({"center": state.center, **payload})
    state.conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, body))


# -- from trio ------------------------------------------------------------------------------
class RemoteCommands:
    """This instance's side of call commands: `send` for its desktops' commands on calls
    held elsewhere, and the executor (`run`) for commands on calls it holds.
    `run_sync` runs one statement in a worker thread on the instance's connection."""

    def __init__(
        self,
        state: RoutingState,
        run_sync: Callable[[Callable[[], Any]], Awaitable[Any]],
        instance: str,
        stale_after: float,
        answer_within: float = ANSWER_WITHIN,
    ) -> None:
        self._state = state
        self._run_sync = run_sync
        self.instance = instance
        self.stale_after = stale_after
        self.answer_within = answer_within
        self.handler: CommandHandler | None = None
        self._waiting: dict[int, trio.Event] = {}
        self._due = trio.Event()
        self._pruned_at: float | None = None

    async def _run(self, work: Callable[[], T]) -> T:
        result: T = await self._run_sync(work)
        return result

    async def send(self, call_id: str, command: str, args: Mapping[str, object]) -> None:
        """Carry `command` to the instance holding `call_id` and wait for its outcome;
        `CommandRefused` with the reason when it did not take effect."""
        state = self._state
        command_id = await self._run(
            lambda: send(state, call_id, self.instance, command, args, self.stale_after)
        )
        done = self._waiting[command_id] = trio.Event()
        try:
            with trio.move_on_after(self.answer_within):
                while True:
                    status, error = await self._run(lambda: outcome(state, command_id))
                    if status in ("done", "failed"):
                        if status == "failed":
                            raise CommandRefused(error or f"the instance holding call {call_id} refused it")
                        return
                    with trio.move_on_after(1.0):  # the safety net, if a notification is missed
                        await done.wait()
                    done = self._waiting[command_id] = trio.Event()
        finally:
            del self._waiting[command_id]
        reason = f"the instance holding call {call_id} did not answer within {self.answer_within:g} s"
        with trio.CancelScope(shield=True):
            withdrawn = await self._run(lambda: withdraw(state, command_id, reason))
        if withdrawn:
            raise CommandRefused(reason + "; nothing was done")
        raise CommandRefused(reason + "; it may have taken effect late")

    def noted(self, note: Mapping[str, object]) -> None:
        """A notification of the channel: a command for this instance, or an outcome."""
        if note.get("kind") == "command" and note.get("owner") == self.instance:
            self._due.set()
        elif note.get("kind") == "command_done" and note.get("sender") == self.instance:
            command_id = note.get("id")
            event = self._waiting.get(command_id) if isinstance(command_id, int) else None
            if event is not None:
                event.set()

    def poll(self) -> None:
        """The router's round: look for unclaimed commands even without a notification."""
        self._due.set()

    async def prune_now_and_then(self, every: float = PRUNE_EVERY) -> None:
        """The router's round: `prune` the table, at most once every `every` seconds."""
        now = trio.current_time()
        if self._pruned_at is not None and now - self._pruned_at < every:
            return
        self._pruned_at = now
        deleted = await self._run(lambda: prune(self._state))
        if deleted:
            log.info("call commands: %d settled rows older than %g s deleted", deleted, KEEP_SETTLED)

    async def run(self) -> None:
        """Carry out the commands addressed to this instance, as they come."""
        while True:
            await self._due.wait()
            self._due = trio.Event()
            if self.handler is None:
                continue  # not serving calls' commands yet: they wait (or the sender withdraws)
            for command in await self._run(lambda: claim(self._state, self.instance)):
                await self._execute(self.handler, command)

    async def _execute(self, handler: CommandHandler, command: RemoteCommand) -> None:
        state, error = self._state, None
        try:
            if not await self._run(lambda: still_theirs(state, command)):
                error = f"call {command.call_id} is no longer with agent {command.agent_id}"
            else:
                await handler(command)
        except AdapterError as exc:
            error = str(exc) or type(exc).__name__
        except Exception as exc:  # one bad command never harms the others
            log.exception("call %s: remote command %s failed", command.call_id, command.command)
            error = f"the instance holding the call failed to {command.command}: {type(exc).__name__}"
        with trio.CancelScope(shield=True):
            await self._run(lambda: settle(state, command, error))
