"""Responses of the meter-file imports API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from energy_service.imports.models import MeterImport, MeterImportCurve, MeterImportJob

DirectionIn = Literal["immessa", "prelevata", "fed_in", "withdrawn"]


class ImportCurveOut(BaseModel):
    file_name: str
    pod: str
    plant_id: int
    direction: Literal["fed_in", "withdrawn"]
    month: date
    values_count: int
    total_kwh: Decimal
    estimated_days: list[date]
    first_interval_end: datetime
    last_interval_end: datetime
    # written: its values were stored; unchanged: equal to the current curve;
    # superseded: a later import replaced it.
    status: Literal["written", "unchanged", "superseded"]
    superseded_by: int | None


class ImportOut(BaseModel):
    """One loaded file; ``unchanged`` when this exact file had been loaded before."""

    id: int
    community_id: int
    uploaded_by: int
    file_name: str
    content_sha256: str
    created_at: datetime
    values_total: int
    values_written: int
    # Progress of the write: values_written of the values to write, done once answered.
    progress: float
    unchanged: bool
    warnings: list[dict[str, Any]]
    curves: list[ImportCurveOut] | None = None


def curve_out(curve: MeterImportCurve, current_import: int) -> ImportCurveOut:
    if curve.superseded_by is None:
        status: Literal["written", "unchanged", "superseded"] = "written"
    elif curve.import_id == current_import and curve.superseded_by < current_import:
        status = "unchanged"
    else:
        status = "superseded"
    return ImportCurveOut(
        file_name=curve.file_name,
        pod=curve.pod,
        plant_id=curve.plant_id,
        direction=curve.direction,
        month=curve.month,
        values_count=curve.values_count,
        total_kwh=curve.total_kwh,
        estimated_days=list(curve.estimated_days or []),
        first_interval_end=curve.first_interval_end,
        last_interval_end=curve.last_interval_end,
        status=status,
        superseded_by=curve.superseded_by,
    )


def import_out(
    record: MeterImport, curves: list[MeterImportCurve] | None, *, unchanged: bool = False
) -> ImportOut:
    return ImportOut(
        id=record.id,
        community_id=record.community_id,
        uploaded_by=record.uploaded_by,
        file_name=record.file_name,
        content_sha256=record.content_sha256,
        created_at=record.created_at,
        values_total=record.values_total,
        values_written=record.values_written,
        progress=1.0,
        unchanged=unchanged,
        warnings=list(record.warnings or []),
        curves=None if curves is None else [curve_out(c, record.id) for c in curves],
    )


class ImportJobOut(BaseModel):
    """A file loaded in the background. ``progress``: values written over values to write
    (None until the file is validated); ``errors``: the rows refused (REJECTED) or why the
    load failed (FAILED); ``import_id``: the import it became (DONE)."""

    id: int
    community_id: int
    file_name: str
    status: Literal["QUEUED", "RUNNING", "DONE", "REJECTED", "FAILED"]
    progress: float | None
    values_total: int | None
    values_written: int
    errors: list[dict[str, Any]]
    import_id: int | None
    created_at: datetime
    updated_at: datetime


def job_out(job: MeterImportJob) -> ImportJobOut:
    progress = None
    if job.status == "DONE":
        progress = 1.0
    elif job.values_total:
        progress = round(job.values_written / job.values_total, 4)
    elif job.values_total == 0:
        progress = 1.0
    return ImportJobOut(
        id=job.id,
        community_id=job.community_id,
        file_name=job.file_name,
        status=job.status,
        progress=progress,
        values_total=job.values_total,
        values_written=job.values_written,
        errors=list(job.errors or []),
        import_id=job.import_id,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )
