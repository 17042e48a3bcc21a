"""CPU time and resident memory of a server's whole process tree, read from /proc."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None  # gone between listing and reading
    # NOTE: the command name (field 2) may hold spaces and parentheses; split after its last ")".
    return text[text.rindex(")") + 2:].split()


def process_tree(root: int) -> list[int]:
    """``root`` and every live descendant (granian's workers are children of its main process)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(root: int) -> float:
    """User + system CPU time used so far by the tree (reaped children included)."""
    total = 0
    for pid in process_tree(root):
        fields = _stat_fields(pid)
        if fields is not None:
            # fields[11:15] are utime, stime, cutime, cstime (stat fields 14-17), in clock ticks.
            total += sum(int(n) for n in fields[11:15])
    return total / _TICKS


def rss_bytes(root: int) -> int:
    """Resident memory summed over the tree (pages shared after fork count once per process)."""
    total = 0
    for pid in process_tree(root):
        try:
            resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except OSError:
            continue
        total += resident * _PAGE
    return total


def pss_bytes(root: int) -> int:
    """Proportional set size summed over the tree: pages shared after fork are split, not repeated."""
    return _tree_kilobytes(root, "smaps_rollup", ["Pss:"])["Pss:"]


def memory_kinds(root: int) -> dict[str, int]:
    """Resident bytes of the tree by kind, from /proc/<pid>/status: ``anon`` (the processes' own
    memory), ``file`` (file-backed maps, such as the page bodies mapped from dist/, which the
    kernel can drop and read again) and ``shmem``; each summed over the tree."""
    fields = {"RssAnon:": "anon", "RssFile:": "file", "RssShmem:": "shmem"}
    totals = _tree_kilobytes(root, "status", list(fields))
    return {kind: totals[name] for name, kind in fields.items()}


def _tree_kilobytes(root: int, proc_file: str, names: list[str]) -> dict[str, int]:
    """The ``name: <n> kB`` lines of /proc/<pid>/<proc_file>, in bytes, summed over the tree."""
    totals = dict.fromkeys(names, 0)
    for pid in process_tree(root):
        try:
            text = Path(f"/proc/{pid}/{proc_file}").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            words = line.split()
            if words and words[0] in totals:
                totals[words[0]] += int(words[1]) * 1024
    return totals
