"""Moves along a lifecycle: the rules every stateful object's owner applies.

Each lifecycle is a python-statemachine `StateMachine` kept in the module that
owns the object (sessions, connections, pulls, webhook endpoints and
deliveries, portal grants, jobs); the store holds the state. The owner asks
`transition(Machine, current, event)` for the next state, which raises
`TransitionNotAllowed` for a move the machine does not have, and writes it.

The machines are plain graphs (no guards), so each one is read once into an
immutable table and a move is a dict lookup rather than a machine instance per
object. A bulk update applies one event to many rows through `edge()`: its
source states build the WHERE clause, its target is the value written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from statemachine import State, StateMachine
from statemachine.event import Event
from statemachine.exceptions import InvalidStateValue, TransitionNotAllowed

__all__ = ["Edge", "TransitionNotAllowed", "edge", "event_to", "states", "transition"]


@dataclass(frozen=True)
class Edge:
    """One event as a bulk update applies it: each source state moves to `target`."""

    event: str
    sources: tuple[str, ...]
    target: str

    def where(self, column: str) -> str:
        """`column = ?` (or `column IN (?, …)`); the sources are its parameters."""
        if len(self.sources) == 1:
            return f"{column} = ?"
        return f"{column} IN ({', '.join('?' for _ in self.sources)})"


@dataclass(frozen=True)
class _Graph:
    states: tuple[str, ...]
    moves: Mapping[tuple[str, str], str]  # (state, event) -> next state
    by_value: Mapping[str, State]
    events: Mapping[str, Event]


@cache
def _graph(machine: type[StateMachine]) -> _Graph:
    moves: dict[tuple[str, str], str] = {}
    for state in machine.states:
        for move in state.transitions:
            if list(move.cond):
                raise TypeError(f"{machine.__name__}: a guarded transition cannot be tabled")
            for event in move.events:
                moves[(str(state.value), str(event.id))] = str(move.target.value)
    return _Graph(
        states=tuple(str(s.value) for s in machine.states),
        moves=MappingProxyType(moves),
        by_value=MappingProxyType({str(s.value): s for s in machine.states}),
        events=MappingProxyType({str(e.id): e for e in machine.events}),
    )


def states(machine: type[StateMachine]) -> tuple[str, ...]:
    """The machine's state values, in the order they are declared."""
    return _graph(machine).states


def _state(graph: _Graph, value: str) -> State:
    state = graph.by_value.get(value)
    if state is None:
        raise InvalidStateValue(value)
    return state


def transition(machine: type[StateMachine], current: str, event: str) -> str:
    """The state `event` moves `current` to; raises `TransitionNotAllowed` when it cannot."""
    graph = _graph(machine)
    target = graph.moves.get((current, event))
    if target is None:
        raise TransitionNotAllowed(
            graph.events.get(event) or Event(event), {_state(graph, current)}
        )
    return target


def edge(machine: type[StateMachine], event: str) -> Edge:
    """`event` as one bulk move: the states it leaves from and the one state it leads to."""
    graph = _graph(machine)
    sources = tuple(s for s in graph.states if (s, event) in graph.moves)
    targets = {graph.moves[(s, event)] for s in sources}
    if len(targets) != 1:
        raise ValueError(f"{machine.__name__}.{event} does not lead to exactly one state")
    return Edge(event, sources, targets.pop())


def event_to(machine: type[StateMachine], current: str, target: str) -> str:
    """The event that moves `current` to `target` (for inputs that name the state wanted)."""
    graph = _graph(machine)
    for (source, event), to in graph.moves.items():
        if source == current and to == target:
            return event
    raise TransitionNotAllowed(None, {_state(graph, current)})
