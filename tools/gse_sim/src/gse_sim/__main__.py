"""`python -m gse_sim [--host H] [--port P]`: serve the simulator (GSE_SIM_* settings)."""

from __future__ import annotations

import argparse

import uvicorn

from gse_sim.app import create_app
from gse_sim.settings import GseSimSettings


def main() -> None:
    defaults = GseSimSettings()
    parser = argparse.ArgumentParser(prog="python -m gse_sim", description=__doc__)
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port)
    args = parser.parse_args()
    settings = defaults.model_copy(update={"host": args.host, "port": args.port})
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
