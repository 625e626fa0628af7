"""The MQTT bridge: devices' messages in, accepted readings out to Kafka.

    python -m iot_service.bridge

The package: ``batch`` processes one batch (steps 1 to 4 below), ``runner``
keeps the MQTT session, pipelines batches and acknowledges them (step 5),
``__main__`` is the process.

Replicas share the subscription (``$share/<group>/...``), so each message goes
to one of them. Each replica connects with a stable client id and a
persistent session (clean_session false) at QoS 1: what devices publish while
a replica is down waits in the broker for it.

Exactly-once-stored, step by step, for one batch of messages:
  1. parse and validate (a message that cannot be used goes to the dead-letter
     topic with the reason, and counts as handled);
  2. in one Postgres transaction, read the batch's devices, each with its
     counter state on its own row, without locking them; turn registers into
     interval energy (counters.py); write the counter state back, and the
     devices' status (a device whose only news is a later last_seen is
     written once its stored last_seen is a quarter of its interval old:
     repository.LAST_SEEN_SLACK), each row only if it is still the version
     read (set-based statements). If any is not (another replica, the OFFLINE
     detector or the API changed it meanwhile), nothing has been sent yet:
     the transaction is rolled back and the batch done again from 1's result
     with its devices locked (in id order, so replicas serialise per device
     and never deadlock), when no row can change under it;
  3. send the readings (``MeasurementsAccepted``, one event per plant, keyed by
     plant) and dead letters to Kafka and wait for the broker's acks=all;
  4. commit the counter state, device status and command acks;
  5. only then PUBACK the MQTT messages, in the order received.
A crash before 3 completes redelivers and recomputes the same readings; a
crash between 3 and 4 redelivers and recomputes the same readings again (the
state was not committed), which the energy service stores once per (device,
timestamp); a crash between 4 and 5 redelivers readings whose registers
already moved past them: they are stale and not published again. What makes
this hold is the counter state, written with every reading that moves a
register; last_seen plays no part in it, which is why it may lag. If Kafka or
Postgres fails, the bridge drops its MQTT connection without acking and
reconnects, and the broker redelivers.

Pipelining. Most of a batch's time is spent waiting (Postgres, Kafka's acks),
so up to ``bridge_in_flight`` batches are processed at once, each in its own
transaction, and the guarantees above still hold as if they ran one by one:
  * per device, batches commit in the order received: a batch's messages for
    a device that an earlier batch still in flight has are split off and
    processed, in their own transaction, only once every such earlier batch
    has committed (and not at all if one of them did not), so they read the
    state it left; the rest of the batch goes ahead at once. Batches in flight
    therefore never share a device, and never wait for each other's locks;
  * a transaction changes only rows still as it read them, or locks its
    devices in id order and waits for nothing else while holding them, so
    replicas serialise per device. Rows an unlocked write waits for are taken
    in the order of their place in the table; should that deadlock with a
    locked batch of another replica (it takes a device the batch has, at the
    same moment), PostgreSQL ends one: the unlocked batch is then done again
    locked, a locked one fails like any Postgres error and is redelivered;
  * PUBACKs go out batch by batch in the order received, a batch's only once
    all of it committed and every batch before it was acknowledged. A failure
    ends the MQTT session with the failed batch and every later one
    unacknowledged, and the broker redelivers them; a later batch that did
    commit only holds devices the failed one did not, so the redelivery reads
    the same state for them as before: the situation after a crash.
"""

from iot_service.bridge.batch import BatchResult, Bridge, Inbound
from iot_service.bridge.runner import BridgeRunner, client_id, create_engine

__all__ = ["BatchResult", "Bridge", "BridgeRunner", "Inbound", "client_id", "create_engine"]
