"""The IoT service's side of MQTT.

- ``topics``: the topic contract between devices, the bridge and the service;
- ``wire``: the bridge's lean MQTT 3.1.1 subscriber (and the packets it speaks);
- ``dynsec``: devices' credentials and ACLs in Mosquitto's dynamic security;
- ``publisher``: commands to devices from the API process.

Nothing is imported here: the bridge loads ``wire`` and ``topics`` only."""
