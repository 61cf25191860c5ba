"""Bridges between the gateway and the outside world (the MQTT bridge in :mod:`jt808.bridges.mqtt`)."""
