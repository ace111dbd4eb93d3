"""Render a leaderboard page in headless Chromium: the check that it shows in a real browser.

    python -m equibench.leaderboard.screenshot [PAGE] [PNG]

(default ``leaderboard/index.html`` -> ``leaderboard-screenshot.png``). Needs Chromium
(Debian: ``apt-get install chromium``); runs without a sandbox, as root in a container must.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from equibench.errors import ConfigError

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def chromium(page: Path, *args: str, timeout: float = 120) -> str:
    """Run headless Chromium on ``page`` with ``args``; returns its stdout (``--dump-dom``: the DOM)."""
    browser = find_browser()
    if browser is None:
        raise ConfigError(f"no Chromium found (looked for {', '.join(BROWSERS)}); apt-get install chromium")
    if not page.is_file():
        raise ConfigError(f"{page} does not exist; build it with 'equibench leaderboard'")
    with tempfile.TemporaryDirectory(prefix="equibench-chromium-") as profile:
        done = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise ConfigError(f"Chromium failed on {page} (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    return done.stdout


def screenshot(page: Path, png: Path, width: int = 1400, height: int = 2000) -> Path:
    """Save a ``width`` x ``height`` screenshot of ``page`` as ``png``."""
    png.unlink(missing_ok=True)
    chromium(page, f"--screenshot={png.resolve()}", f"--window-size={width},{height}")
    if not png.is_file():
        raise ConfigError(f"Chromium wrote no screenshot of {page}")
    return png


def main(argv: list[str]) -> int:
    page = Path(argv[0]) if argv else Path("leaderboard/index.html")
    png = Path(argv[1]) if len(argv) > 1 else Path("leaderboard-screenshot.png")
    try:
        print(screenshot(page, png))
    except ConfigError as exc:
        print(f"equibench: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
