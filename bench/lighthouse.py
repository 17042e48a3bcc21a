"""Lighthouse on every example, desktop and mobile: the four scores, and the audits that missed.

Run by ``nox -s lighthouse``, which installs Lighthouse from npm and passes its path:
``python -P bench/lighthouse.py --lighthouse PATH [--example basic ...]``. Each example is
copied, built and served by ``perseus serve`` (granian) on a free loopback port; Chromium is
Debian's (``CHROME_PATH``). Exits 1 when a score misses its target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The pages audited per example: each one's home and a page of another kind (basic: and its
# interactive page, which mounts a page script).
PAGES = {
    "basic": ["/", "/post/first", "/search"],
    "i18n": ["/en-US", "/fr-FR/about"],
    "strategies": ["/", "/greet?name=Ada"],
}
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
# The lowest score each category may have, per form factor.
TARGETS = {
    "desktop": {"performance": 100, "accessibility": 100, "best-practices": 100, "seo": 100},
    "mobile": {"performance": 98, "accessibility": 100, "best-practices": 100, "seo": 100},
}
# NOTE: without the background-networking flags Chromium reaches out to Google's services,
# which a closed network refuses (and a CI machine need not allow).
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-background-networking"
                " --disable-component-update --disable-sync --no-first-run")
# Lighthouse's guidance on variability: a performance score is the median of several runs.
# Only a run that misses its performance target is repeated, to this many runs in all.
PERFORMANCE_RUNS = 3


@dataclass
class Audit:
    example: str
    page: str
    form_factor: str
    scores: dict[str, int]
    failed: list[str]  # "category: audit title (score)" of every scored audit below 1

    def misses(self) -> list[str]:
        targets = TARGETS[self.form_factor]
        return [c for c in CATEGORIES if self.scores[c] < targets[c]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(example: str, workdir: Path) -> Iterator[str]:
    """``examples/<example>`` copied into ``workdir``, built, and served; yields its URL."""
    project = workdir / example
    shutil.copytree(REPO / "examples" / example, project,
                    ignore=shutil.ignore_patterns("dist", "__pycache__", "*.log"))
    perseus = [sys.executable, "-P", "-m", "perseus"]
    subprocess.run([*perseus, "build"], cwd=project, check=True, capture_output=True)
    port = free_port()
    with open(project / "server.log", "w") as log:
        server = subprocess.Popen([*perseus, "serve", "--no-build", "--port", str(port), "--workers", "1"],
                                  cwd=project, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, server, project / "server.log")
        yield url
    finally:
        server.terminate()
        server.wait(10)


def wait_until_ready(url: str, server: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"perseus serve exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/.perseus/ready", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"perseus serve did not answer within {timeout}s:\n{log.read_text()}")


def lighthouse(binary: str, url: str, form_factor: str) -> dict[str, object]:
    """One Lighthouse run's report (its JSON)."""
    command = [binary, url, "--quiet", "--output=json", "--output-path=stdout",
               f"--chrome-flags={CHROME_FLAGS}"]
    if form_factor == "desktop":
        command.append("--preset=desktop")
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    if result.returncode != 0:
        raise SystemExit(f"lighthouse failed on {url} ({form_factor}):\n{result.stderr[-3000:]}")
    report: dict[str, object] = json.loads(result.stdout)
    return report


def summary(report: dict[str, object]) -> tuple[dict[str, int], list[str]]:
    """A report's four scores (0-100) and its scored audits that did not pass."""
    categories: dict[str, dict[str, object]] = report["categories"]  # type: ignore[assignment]
    audits: dict[str, dict[str, object]] = report["audits"]  # type: ignore[assignment]
    scores = {name: round(float(categories[name]["score"]) * 100) for name in CATEGORIES}  # type: ignore[arg-type]
    failed = []
    for name in CATEGORIES:
        for ref in categories[name]["auditRefs"]:  # type: ignore[attr-defined]
            audit = audits[ref["id"]]
            if ref["weight"] and audit["score"] is not None and float(audit["score"]) < 1:
                shown = audit.get("displayValue") or audit["score"]
                failed.append(f"{name}: {audit['title']} ({shown})")
    return scores, failed


def audit(binary: str, example: str, url: str, page: str, form_factor: str) -> Audit:
    scores, failed = summary(lighthouse(binary, url + page, form_factor))
    result = Audit(example, page, form_factor, scores, failed)
    if "performance" not in result.misses():
        return result
    performance = [scores["performance"]]
    for _ in range(PERFORMANCE_RUNS - 1):
        performance.append(summary(lighthouse(binary, url + page, form_factor))[0]["performance"])
    result.scores["performance"] = round(statistics.median(performance))
    return result


def table(audits: list[Audit]) -> str:
    header = ["example", "page", "form factor", *CATEGORIES]
    rows = [[a.example, a.page, a.form_factor,
             *(f"{a.scores[c]}{'' if c not in a.misses() else ' !'}" for c in CATEGORIES)] for a in audits]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lighthouse", required=True, help="the lighthouse command (node_modules/.bin)")
    parser.add_argument("--example", action="append", choices=sorted(PAGES), help="only these examples")
    options = parser.parse_args()
    audits = []
    with tempfile.TemporaryDirectory(prefix="perseus-lighthouse-") as workdir:
        for example in options.example or sorted(PAGES):
            with served(example, Path(workdir)) as url:
                for page in PAGES[example]:
                    for form_factor in ("desktop", "mobile"):
                        audits.append(audit(options.lighthouse, example, url, page, form_factor))
                        print(f"  {example} {page} {form_factor}: {audits[-1].scores}", flush=True)
    targets = ", ".join(f"{form}: performance >= {t['performance']}" for form, t in TARGETS.items())
    print(f"\nLighthouse scores (targets: 100 in every category; {targets}; ! marks a miss)\n")
    print(table(audits))
    missed = [a for a in audits if a.misses()]
    for a in missed:
        print(f"\n{a.example} {a.page} ({a.form_factor}) missed {', '.join(a.misses())}:")
        for line in a.failed:
            print(f"  {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
