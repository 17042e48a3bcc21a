"""What a stream of answers showed a user: statuses, unintended 5xx, hangs, leaks, stack traces."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from faults.client import Answer
from faults.site import CANARY, INTENDED_500

# Text that only a stack trace, an exception or a file outside the roots would put in an answer.
TRACEBACK_MARKERS = (b"Traceback (most recent call last)", b'File "/', b"RuntimeError", b"returned garbage")
LEAK_MARKERS = (CANARY.encode(), b"root:x:0:0:")
SAMPLES = 5


def intended_500(answer: Answer) -> bool:
    """The site's one page whose state function raises: its 500 is what the contract asks for."""
    target = unquote_to_bytes(unquote_to_bytes(answer.target))
    return answer.status == 500 and INTENDED_500.encode() in target


class Tally:
    """Counts answers as they come; ``problems`` lists what a user would call a failure."""

    def __init__(self, intended: Callable[[Answer], bool] = intended_500) -> None:
        self.intended = intended
        self.tried = 0
        self.statuses: Counter[int | None] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.unintended_5xx: list[Answer] = []
        self.hangs: list[Answer] = []
        self.leaks: list[Answer] = []
        self.tracebacks: list[Answer] = []
        self.slowest = 0.0

    def add(self, answer: Answer) -> None:
        self.tried += 1
        self.statuses[answer.status] += 1
        outcome = "hung" if answer.hung else "answered" if answer.status else "closed"
        self.outcomes[answer.error or outcome] += 1
        self.slowest = max(self.slowest, answer.seconds)
        if answer.hung:
            self.hangs.append(answer)
        if answer.status is not None and answer.status >= 500 and not self.intended(answer):
            self.unintended_5xx.append(answer)
        if any(marker in answer.raw for marker in LEAK_MARKERS):
            self.leaks.append(answer)
        if any(marker in answer.body for marker in TRACEBACK_MARKERS):
            self.tracebacks.append(answer)

    @property
    def failed_5xx(self) -> int:
        return len(self.unintended_5xx)

    def problems(self) -> list[str]:
        """One line per kind of failure, with a few of the requests that showed it."""
        found = []
        for what, answers in (("unintended 5xx", self.unintended_5xx), ("hangs", self.hangs),
                              ("canary or system file leaked", self.leaks),
                              ("stack trace or exception text in a body", self.tracebacks)):
            if answers:
                samples = "; ".join(f"{a.status} {a.request[:120]!r}" for a in answers[:SAMPLES])
                found.append(f"{len(answers)} {what}, e.g. {samples}")
        return found

    def summary(self) -> str:
        statuses = ", ".join(f"{status or 'none'}: {n}" for status, n in sorted(
            self.statuses.items(), key=lambda item: item[0] or 0))
        return f"{self.tried} requests ({statuses}); slowest {self.slowest:.2f} s"
