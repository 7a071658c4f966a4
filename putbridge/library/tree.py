"""The put.io file tree, indexed for planning: lookups by id, children, paths and walks.

Built from the flat listing (``files/list?parent_id=-1``) or from a partial set (a subtree plus
its ancestor chain). put.io's root folder has id 0 and is not itself in the listing; a file whose
``parent_id`` is 0 or None sits at the top.

Everything is iterative: folder chains can be far deeper than Python's recursion limit, and a
malformed listing can contain a parent cycle. Files whose chain does not reach the root (a
missing ancestor or a cycle) are *orphans*: they can be looked up by id but have no path, so
``parts``/``ancestors`` raise KeyError for them and ``walk(ROOT_ID)`` never reaches them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from putbridge.putio.models import File

ROOT_ID = 0
# Path tuples are memoised only for folders this shallow: a memo per folder of an N-deep chain
# costs O(N^2) memory, which a hostile 100,000-deep listing would turn into gigabytes. Deeper
# folders are answered by walking up to the nearest memoised one.
_MEMO_DEPTH = 256


class PutioTree:
    """An immutable index over a set of put.io files."""

    __slots__ = ("_files", "_children", "_depth", "_by_name", "_parts_memo", "_ids_memo")

    def __init__(self, files: Iterable[File]) -> None:
        self._files: dict[int, File] = {}
        for item in files:
            if item.id == ROOT_ID:
                continue  # the root is implicit; a listing that includes it adds nothing
            self._files[item.id] = item  # a repeated id: the last one seen wins
        self._children: dict[int, list[File]] = {}
        for item in self._files.values():
            self._children.setdefault(_parent_of(item), []).append(item)
        for siblings in self._children.values():
            siblings.sort(key=_by_id)
        self._depth = self._rooted_depths()
        # (parent id, name) -> lowest id; folders and other files apart, since a path prefers a
        # folder where put.io holds a folder and a file of the same name.
        self._by_name: dict[tuple[int, str, bool], int] = {}
        for item in sorted(self._files.values(), key=_by_id, reverse=True):
            self._by_name[(_parent_of(item), item.name, item.is_folder)] = item.id
        self._parts_memo: dict[int, tuple[str, ...]] = {ROOT_ID: ()}
        self._ids_memo: dict[int, tuple[int, ...]] = {ROOT_ID: ()}

    def _rooted_depths(self) -> dict[int, int]:
        """Depth (1 = top level) of every file whose parent chain reaches the root.

        Each file's chain is followed up until it meets a known file, the root, a missing
        parent or itself (a cycle); every file on the way is then settled at once, so the whole
        pass is linear.
        """
        depth: dict[int, int] = {ROOT_ID: 0}
        orphan: set[int] = set()
        for start in self._files:
            if start in depth or start in orphan:
                continue
            path: list[int] = []
            on_path: set[int] = set()
            current = start
            while True:
                if current in depth:
                    base = depth[current]
                    break
                if current in orphan or current in on_path or current not in self._files:
                    base = None
                    break
                path.append(current)
                on_path.add(current)
                current = _parent_of(self._files[current])
            if base is None:
                orphan.update(path)
                continue
            for offset, file_id in enumerate(reversed(path), start=1):
                depth[file_id] = base + offset
        del depth[ROOT_ID]
        return depth

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, file_id: object) -> bool:
        return file_id in self._files

    def get(self, file_id: int) -> File | None:
        return self._files.get(file_id)

    def children(self, folder_id: int) -> list[File]:
        """The files directly inside a folder, by id (a copy: callers may keep or change it)."""
        return list(self._children.get(folder_id, ()))

    def is_rooted(self, file_id: int) -> bool:
        """Whether the file's parent chain reaches the root (False for orphans and unknown ids)."""
        return file_id == ROOT_ID or file_id in self._depth

    def depth(self, file_id: int) -> int:
        """1 for a top-level file; KeyError for orphans and unknown ids."""
        if file_id == ROOT_ID:
            return 0
        return self._depth[file_id]

    def parts(self, file_id: int) -> tuple[str, ...]:
        """The names from the top down to and including the file; () for the root.

        KeyError when the file is unknown or an orphan (an ancestor is missing or in a cycle).
        """
        return self._chain(file_id, self._parts_memo, lambda item: item.name)

    def ancestors(self, file_id: int) -> tuple[int, ...]:
        """The ids of the folders above the file, top down, without the root and the file."""
        return self._chain(file_id, self._ids_memo, _by_id)[:-1] if file_id != ROOT_ID else ()

    def _chain(self, file_id: int, memo: dict[int, tuple], value: Callable[[File], Any]) -> tuple:
        if file_id in memo:
            return memo[file_id]
        if file_id not in self._depth:
            raise KeyError(file_id)
        # Walk up to the nearest memoised folder; rootedness was settled at construction, so
        # this ends without a cycle check.
        pending: list[File] = []
        current = file_id
        while current not in memo:
            item = self._files[current]
            pending.append(item)
            current = _parent_of(item)
        base = memo[current]
        pending.reverse()
        values = [value(item) for item in pending]
        for index, item in enumerate(pending):
            if item.is_folder and self._depth[item.id] <= _MEMO_DEPTH:
                memo[item.id] = (*base, *values[: index + 1])
        return (*base, *values)

    def resolve(self, path: str) -> int | None:
        """The id at a put.io path ("/" is 0, "/Movies/Action" a folder), or None.

        Names match exactly; put.io allows duplicates in one folder, and the lowest id wins.
        Every step but the last must be a folder; the last may be a file when no folder of
        that name exists there.
        """
        names = [name for name in path.split("/") if name]
        current = ROOT_ID
        for index, name in enumerate(names):
            found = self._by_name.get((current, name, True))
            if found is None and index == len(names) - 1:
                found = self._by_name.get((current, name, False))
            if found is None:
                return None
            current = found
        return current

    def walk(self, folder_id: int) -> Iterator[File]:
        """Every file below a folder, depth first, siblings by id (the folder itself excluded)."""
        seen: set[int] = {folder_id}  # guards walks that start inside a parent cycle
        stack: list[Iterator[File]] = [iter(self._children.get(folder_id, ()))]
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
                continue
            if item.id in seen:
                continue
            seen.add(item.id)
            yield item
            siblings = self._children.get(item.id)
            if siblings:
                stack.append(iter(siblings))


def _parent_of(item: File) -> int:
    return ROOT_ID if item.parent_id is None else item.parent_id


def _by_id(item: File) -> int:
    return item.id
