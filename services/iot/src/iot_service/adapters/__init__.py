"""What devices send, turned into one shape (:class:`Sample`).

Formats, chosen by the topic (see mqtt/topics.py), one module each:

``.../measurements`` -- the specification's message (spec.py)::

    {"device_id": "DEV1", "plant_id": 123, "timestamp": "2025-09-04T10:00:00Z",
     "energy_mode": "cumulative",            # optional; or "interval"
     "interval_s": 900,                      # optional, for energy_mode "interval"
     "measurements": {"energy_produced": 15.5, "energy_consumed": 8.2,     # kWh
                      "power_produced": 3.1, "power_consumed": 1.6,        # kW
                      "voltage": 230.5, "current": 13.7, "frequency": 50.0,
                      "power_factor": 0.95},
     "status": {"battery_level": 85, "signal_strength": -45}}

  The energies are cumulative registers (kWh since installation, as a meter
  displays them) unless ``energy_mode`` is ``interval``: then they are the
  energy of the ``interval_s`` seconds ending at ``timestamp``. A timestamp
  must carry its offset (``Z`` or ``+01:00``).

``.../measurements/shelly/...`` -- Shelly, any sub-path (shelly.py):
  * Gen2 (Pro 3EM, Pro EM): the ``NotifyStatus``/``NotifyFullStatus`` RPC
    notifications (``{"method": "NotifyStatus", "params": {"ts": ..., "em:0":
    {...}, "emdata:0": {...}}}``) or a ``Shelly.GetStatus`` result (stamped by
    ``sys.unixtime``). ``em:N`` (``EM.GetStatus``) gives power, voltage, current,
    pf, frequency; ``emdata:N`` (``EMData.GetStatus``) the registers
    ``total_act``/``total_act_ret`` (Wh); ``em1:N``/``em1data:N`` (Pro EM) the same
    per channel, summed. Other RPC methods are ignored.
  * Gen1 (EM, 3EM): the ``/status`` document (``emeters[]`` with ``total``,
    ``total_returned`` in Wh, stamped by ``unixtime``). The per-value topics
    (``emeter/N/energy``...) carry no timestamp, so a redelivered value could
    not be told from a new one: they are refused with that reason.

``.../measurements/tasmota/...`` -- Tasmota ``tele/.../SENSOR`` (tasmota.py)::

    {"Time": "2025-09-04T12:00:00", "ENERGY": {"Total": 123.456, "ExportActive": 4.2,
     "Power": 850, "Voltage": 231, "Current": 3.9, "Factor": 0.94, "Frequency": 50}}

  ``Total``/``ExportActive`` are kWh registers; a ``Time`` without offset is the
  device's local time (``naive_time_zone``). Other Tasmota topics (STATE, LWT,
  INFO...) are ignored.

Meters at the point of connection count imported energy as consumed and
exported (returned) energy as produced; a negative active power is export.
Status reports and command acks are in the specification's JSON (spec.py).
"""

from __future__ import annotations

from datetime import tzinfo

from iot_service.adapters.sample import (
    CONSUMED,
    PRODUCED,
    Ack,
    Ignored,
    Sample,
    StatusReport,
    Unusable,
)
from iot_service.adapters.shelly import parse_shelly
from iot_service.adapters.spec import parse_ack, parse_spec, parse_status
from iot_service.adapters.tasmota import parse_tasmota
from iot_service.mqtt.topics import DeviceTopic

__all__ = [
    "CONSUMED",
    "PRODUCED",
    "Ack",
    "Ignored",
    "Sample",
    "StatusReport",
    "Unusable",
    "parse_ack",
    "parse_measurement",
    "parse_shelly",
    "parse_spec",
    "parse_status",
    "parse_tasmota",
]


def parse_measurement(topic: DeviceTopic, payload: bytes, local_zone: tzinfo) -> Sample:
    fmt = topic.format
    if fmt == "spec":
        return parse_spec(topic, payload)
    if fmt == "shelly":
        return parse_shelly(topic, payload)
    if fmt == "tasmota":
        return parse_tasmota(topic, payload, local_zone)
    raise Unusable(f"unknown measurement format {fmt!r} (spec, shelly, tasmota)")
