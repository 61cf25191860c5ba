"""Bridges between the gateway and other systems: the MQTT bridge (:mod:`jt808.bridges.mqtt`, EMQX
JSON both ways, a bounded buffer, cross-node commands).

What lives here: adapters that listen to the gateway through its listener protocols and talk to a
broker. What never does: protocol decoding (they exchange packets and EMQX JSON) or storage.
"""
