"""`python -m services.live.worker`: the live app's process (supervised by the embedded stack)."""

from __future__ import annotations

import logging

from faust import Worker

from services.live.app import create_app, ensure_changelog
from services.live.settings import LiveSettings


def main() -> None:
    settings = LiveSettings()  # validated before anything connects
    live = create_app(settings)
    ensure_changelog(live)
    logging.getLogger("services.live").setLevel(logging.INFO)
    Worker(live.app, loglevel="INFO").execute_from_commandline()


if __name__ == "__main__":
    main()
