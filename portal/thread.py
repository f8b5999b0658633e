"""Nest a thread's records by `parent_id` for display.

The read model returns a thread flat, oldest first. Replies whose parent is not in the thread (not
archived, or disposed of) are shown at the top level rather than lost; a parent cycle in damaged data
cannot loop; nesting deeper than `MAX_DEPTH` is shown at that depth so pages stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archiver.model import RecordDoc

MAX_DEPTH = 6  # levels shown, the thread root included


@dataclass
class Node:
    record: RecordDoc
    children: list[Node] = field(default_factory=list)


def nest(records: list[RecordDoc]) -> list[Node]:
    """Roots of the thread tree, each with its replies (in the order given, oldest first)."""
    nodes = {record.record_id: Node(record) for record in records}
    roots: list[Node] = []
    for record in records:
        node = nodes[record.record_id]
        parent = nodes.get(record.parent_id) if record.parent_id else None
        if parent is None or parent is node or _is_ancestor(node, parent, nodes):
            roots.append(node)
        else:
            parent.children.append(node)
    for root in roots:
        _cap_depth(root, 0)
    return roots


def _is_ancestor(node: Node, candidate: Node, nodes: dict[str, Node]) -> bool:
    """Whether `node` is already above `candidate` (attaching would make a cycle)."""
    seen: set[str] = set()
    current: Node | None = candidate
    while current is not None and current.record.record_id not in seen:
        if current is node:
            return True
        seen.add(current.record.record_id)
        parent_id = current.record.parent_id
        current = nodes.get(parent_id) if parent_id else None
    return False


def _cap_depth(node: Node, depth: int) -> None:
    if depth >= MAX_DEPTH - 2:  # this node's children sit at the last level, flattened
        flat: list[Node] = []
        stack = list(reversed(node.children))
        while stack:
            child = stack.pop()
            flat.append(child)
            stack.extend(reversed(child.children))
            child.children = []
        node.children = flat
        return
    for child in node.children:
        _cap_depth(child, depth + 1)
