"""The mutable store on a full disk: pages keep being answered, and storing resumes by itself.

The LMDB store lives on a small tmpfs mounted in a private mount namespace (so nothing
outside the server sees it); the test fills it through ``/proc/<server>/root``. While the
store cannot write, first requests for new incremental pages are answered 200 (generated,
not kept), stored pages keep being served as stored, and the failure is not logged once
per request. Once space is freed, a new page is stored again (its second request is
served the version its first request generated).
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import re
from pathlib import Path

from faults.client import Answer, exchange, get
from faults.figures import Figures
from faults.pages import generation_of, is_page
from faults.scale import scaled
from faults.servers import serving, wait_for
from faults.tally import Tally

FULL_REQUESTS = scaled(4_000, 200)
STORED_BEFORE = 20
CONCURRENCY = 8
BOUND = 10.0
TMPFS_SIZE = "8m"
# Generous: storing is retried on its own schedule once the store fails.
RESUME_BOUND = 60.0
# A line about the failure names its cause (the store, LMDB, the disk, space): so does a
# traceback through perseus/stores/.
STORE_LINE = re.compile(r"^.*(?:stor|lmdb|disk|space).*$", re.IGNORECASE | re.MULTILINE)
# Runs the command (after $0) with a tmpfs mounted on the directory $0, seen only by it.
ON_TMPFS = f'mkdir -p "$0" && mount -t tmpfs -o size={TMPFS_SIZE} faults-full "$0" && exec "$@"'


def on_tmpfs(directory: Path) -> list[str]:
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", ON_TMPFS, str(directory)]


def _store_lines(log: str) -> int:
    """Log lines about the store (not an access log's lines for the pages asked for)."""
    return len(STORE_LINE.findall(log))


def fill(directory: Path) -> int:
    """Write ``directory/filler`` until the file system is full; how many bytes it took."""
    written = 0
    block = bytes(1 << 16)
    with open(directory / "filler", "wb", buffering=0) as filler:
        while True:
            try:
                written += filler.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
        # The last partial block: down to the last byte.
        for size in (4096, 512, 1):
            try:
                while True:
                    written += filler.write(bytes(size))
            except OSError:
                pass
    return written


async def _pages(port: int, paths: list[str], tally: Tally, concurrency: int = CONCURRENCY) -> list[Answer]:
    answers: list[Answer] = []
    todo = iter(paths)

    async def client() -> None:
        for path in todo:
            answer = await exchange(port, get(path), bound=BOUND)
            tally.add(answer)
            answers.append(answer)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return answers


def test_full_disk(site: Path, tmp_path: Path, figures: Figures) -> None:
    mount_point = tmp_path / "small-disk"
    tally = Tally()
    problems: list[str] = []
    names = (f"/en-US/post/full-{n}" for n in itertools.count())
    env = {"PERSEUS_MUTABLE_DIR": str(mount_point / "store"), "FAULTS_SITE_CLOCK": "1s"}
    with serving(site, workers=2, wrapper=on_tmpfs(mount_point), env=env) as server:
        disk = Path(f"/proc/{server.process.pid}/root") / mount_point.relative_to("/")
        stored = [next(names) for _ in range(STORED_BEFORE)]
        first = asyncio.run(_pages(server.port, stored, tally))
        kept = {a.target.decode(): generation_of(a.body) for a in first}
        asyncio.run(_pages(server.port, ["/en-US/clock"] * 4, tally))

        filled = fill(disk)
        log_before = _store_lines(server.log.read_text())
        new = [next(names) for _ in range(FULL_REQUESTS)]
        full = asyncio.run(_pages(server.port, new, tally))
        again = asyncio.run(_pages(server.port, stored + ["/en-US/clock", "/fr-FR/clock"], tally))
        logged = _store_lines(server.log.read_text()) - log_before
        unanswered = [a for a in full if not is_page(a)]
        if unanswered:
            problems.append(f"{len(unanswered)} of {len(full)} first requests on a full disk were not"
                            f" answered 200, e.g. {[(a.status, a.target) for a in unanswered[:3]]}")
        changed = [a.target for a in again if a.target.decode() in kept and generation_of(a.body) !=
                   kept[a.target.decode()]]
        if changed or not all(is_page(a) for a in again):
            problems.append(f"stored pages changed or failed on a full disk: {changed[:3]}")
        if logged > FULL_REQUESTS / 10 + 20:
            problems.append(f"{logged} log lines about the store for {FULL_REQUESTS} pages that could not be"
                            " stored (the failure must be logged once per interval, not per request)")

        (disk / "filler").unlink()
        resumed_at: list[str] = []

        def storing_resumed() -> bool:
            path = next(names)
            answers = asyncio.run(_pages(server.port, [path, path], tally, concurrency=1))
            if all(is_page(a) for a in answers) and len({generation_of(a.body) for a in answers}) == 1:
                resumed_at.append(path)
                return True
            return False

        if not wait_for(storing_resumed, RESUME_BOUND, pause=0.5):
            problems.append(f"storing did not resume within {RESUME_BOUND:g} s of freeing space")
    figures.add_requests(tally)
    figures.note(f"tmpfs of {TMPFS_SIZE}, {filled} bytes of filler; {FULL_REQUESTS} first requests while"
                 f" full: {sum(is_page(a) for a in full)} answered 200; {logged} log lines about the store"
                 f" meanwhile; storing resumed: {bool(resumed_at)}")
    problems = tally.problems() + problems
    assert filled > 0
    assert not problems, "\n".join(problems)
