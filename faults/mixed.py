"""Mixed traffic for the scenarios under load, labelled by what a page needs from the store.

``built``: prerendered pages and their JSON (no store at all); ``cached``: incremental pages
stored before the load (the local store has them, with a known generation); ``new``: first
requests for incremental pages nobody asked for yet (generated now).
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass, field

from faults.client import Answer, get
from faults.pages import generation_of, is_page
from faults.tally import Tally

BUILT = ["/en-US", "/fr-FR/about", "/en-US/post/first", "/fr-FR/post/second",
         "/.perseus/page/en-US/about.json", "/.perseus/static/style.css"]


@dataclass
class KindFigures:
    answers: int = 0
    failed: list[Answer] = field(default_factory=list)  # not a whole 200 (or, cached: another version)
    slowest: float = 0.0


class Mixed:
    """Chooses requests of each kind and checks what came back, per kind."""

    def __init__(self, cached: dict[str, str], *, weights: tuple[float, float, float] = (0.4, 0.4, 0.2),
                 prefix: str = "mixed", seed: int = 5) -> None:
        self.cached = cached  # path -> generation stored
        self.weights = weights
        self.rng = random.Random(seed)
        self.names = (f"/{'en-US' if n % 2 else 'fr-FR'}/post/{prefix}-{n}" for n in itertools.count())
        self.tally = Tally()
        self.kinds: dict[str, KindFigures] = defaultdict(KindFigures)

    def next_request(self) -> tuple[tuple[str, str], bytes]:
        kind = self.rng.choices(("built", "cached", "new"), self.weights)[0]
        if kind == "cached" and not self.cached:
            kind = "built"
        path = (self.rng.choice(BUILT) if kind == "built" else self.rng.choice(list(self.cached))
                if kind == "cached" else next(self.names))
        return (kind, path), get(path)

    def seen(self, label: tuple[str, str], answer: Answer) -> None:
        kind, path = label
        self.tally.add(answer)
        figures = self.kinds[kind]
        figures.answers += 1
        figures.slowest = max(figures.slowest, answer.seconds)
        whole = answer.status == 200 if kind == "built" else is_page(answer)
        if not whole or (kind == "cached" and generation_of(answer.body) != self.cached[path]):
            figures.failed.append(answer)

    def report(self) -> str:
        return "; ".join(f"{kind}: {f.answers} requests, {len(f.failed)} failed, slowest {f.slowest:.2f} s"
                         for kind, f in sorted(self.kinds.items()))

    def problems(self, *, fast: float, kinds_fast: tuple[str, ...] = ("built", "cached"),
                 kinds_whole: tuple[str, ...] = ("built", "cached", "new")) -> list[str]:
        """Failures: a kind in ``kinds_whole`` not answered whole, or one in ``kinds_fast`` slower
        than ``fast`` seconds."""
        found = self.tally.problems()
        for kind, figures in sorted(self.kinds.items()):
            if kind in kinds_whole and figures.failed:
                samples = [(a.status, a.target.decode("latin-1"), round(a.seconds, 2))
                           for a in figures.failed[:3]]
                found.append(f"{len(figures.failed)} of {figures.answers} {kind} requests failed,"
                             f" e.g. {samples}")
            if kind in kinds_fast and figures.slowest > fast:
                found.append(f"a {kind} page took {figures.slowest:.2f} s (bound {fast:g} s)")
        return found
