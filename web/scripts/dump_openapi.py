"""Write each service's OpenAPI document into web/openapi/ from its FastAPI app.

No server is started: the app factory builds the routes and FastAPI renders the
document, so the web build reads the contract as the code defines it today and
a changed contract fails `npm run build` where the generated types no longer fit.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

SERVICES = ("user", "cer", "iot", "energy", "economic", "notification", "reporting")


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent.parent / "openapi"
    out.mkdir(parents=True, exist_ok=True)
    for name in SERVICES:
        # Built with the development defaults only to render the routes (a
        # service without ENVIRONMENT runs as production and refuses them).
        os.environ.setdefault(f"CERC_{name.upper()}_ENVIRONMENT", "development")
        module = importlib.import_module(f"{name}_service.main")
        app = (
            module.app()
            if callable(module.app) and not hasattr(module.app, "openapi")
            else module.app
        )
        document = app.openapi()
        (out / f"{name}.json").write_text(json.dumps(document, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
