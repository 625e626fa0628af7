"""A page of each kind of report, turned into a picture with poppler's pdftoppm
(installed by `make install`, infra/report-libs.sh): the page is A4, it has
ink but is not a smear, and the title is there in the report's green. What
the pictures look like was checked by eye when the layout was made; this keeps
a broken font set-up or an empty page from passing unseen."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from reporting_service.figures import day_of
from reporting_service.render.document import Document
from reporting_service.render.formats import render
from reporting_service.sample import sample_month
from reporting_service.service import compose

NOW = datetime(2025, 7, 3, 9, tzinfo=UTC)
TITLE_GREEN = (0x1B, 0x5E, 0x20)


def documents() -> dict[str, Document]:
    s = sample_month(31, "2025-06", 12, days=3)
    runs = {"2025-06": s.run}
    days = [day_of(d) for d in s.days_answer]
    member = s.run.members[0].user_id
    return {
        "monthly": compose.monthly_report(s.ctx, "2025-06", "it", s.energy, runs, NOW, days),
        "statement": compose.member_statement(
            s.ctx, member, "2025-06", "en", {"2025-06": s.energy}, runs, [], NOW
        ),
        "annual": compose.annual_report(s.ctx, "2025", "it", [s.run], [], NOW),
    }


def _pixels(image: Image.Image) -> list[tuple[int, int, int]]:
    raw = image.tobytes()
    return [(raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw), 3)]


@pytest.mark.parametrize("kind", ["monthly", "statement", "annual"])
def test_the_first_page_is_a_readable_picture(kind: str, tmp_path: Path) -> None:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.fail("pdftoppm is missing: `make install` installs poppler-utils")
    pdf = tmp_path / f"{kind}.pdf"
    pdf.write_bytes(render(documents()[kind], "PDF").data)
    subprocess.run(
        [pdftoppm, "-r", "40", "-f", "1", "-l", "1", "-png", "-singlefile", str(pdf),
         str(tmp_path / kind)],
        check=True,
    )  # fmt: skip
    with Image.open(tmp_path / f"{kind}.png") as picture:
        page = picture.convert("RGB")
    width, height = page.size
    assert abs(height / width - 297 / 210) < 0.02  # A4 portrait
    pixels = _pixels(page)
    ink = sum(1 for p in pixels if sum(p) < 600) / len(pixels)
    assert 0.01 < ink < 0.5, ink
    top = page.crop((0, 0, width, height // 8))
    greens = sum(
        1 for p in _pixels(top) if all(abs(a - b) < 40 for a, b in zip(p, TITLE_GREEN, strict=True))
    )
    assert greens > 20, greens
