"""paho reading the socket in large chunks (vitals.mqtt.ReadAheadClient), on a real broker."""

import socket
import threading

from paho.mqtt.enums import CallbackAPIVersion

from bench.common import PacketPublisher
from tests.helpers import wait_until
from vitals.mqtt import READ_AHEAD, BrokerConfig, ReadAheadClient, connect_async, make_client

# Remaining-length boundaries of MQTT (1/2/3-byte encodings) and messages larger than one
# read-ahead chunk, so packets start and end anywhere inside a chunk.
SIZES = [0, 1, 100, 127, 128, 5000, 16_383, 16_384, READ_AHEAD + 10, 3 * READ_AHEAD]


def _payload(n: int) -> bytes:
    size = SIZES[n % len(SIZES)]
    stamp = f"{n:06d}".encode()
    return (stamp * (size // 6 + 1))[:size]


def test_a_burst_of_messages_of_every_size_arrives_whole_and_in_order(mosquitto):
    got: list[tuple[str, bytes]] = []
    subscribed = threading.Event()
    # A keepalive longer than the wait below: its ping would also wake a stuck client.
    broker = BrokerConfig(port=mosquitto.port, keepalive=600)
    client = make_client(broker, "read-ahead-subscriber")
    assert isinstance(client, ReadAheadClient)
    client.on_connect = lambda c, *_: c.subscribe("read-ahead/#", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda c, u, message: got.append((message.topic, message.payload))
    connect_async(client, broker)
    client.loop_start()
    try:
        assert subscribed.wait(15)
        messages = [(f"read-ahead/{n % 7}", _payload(n)) for n in range(1500)]
        # ... ending in small ones, many to a chunk.
        messages += [("read-ahead/tail", f"{n:06d}".encode() * 10) for n in range(500)]
        publisher = PacketPublisher(mosquitto.port, "read-ahead-publisher")
        try:
            # One burst and then silence: the last packets reach the client in the same
            # chunks as the ones before them, and nothing arrives afterwards to wake its
            # select(); they must be handled from the chunk all the same.
            publisher.publish(publisher.prepare(messages))
            wait_until(lambda: len(got) >= len(messages), timeout=60)
        finally:
            publisher.close()
    finally:
        client.disconnect()
        client.loop_stop()
    assert got == messages


def test_reads_are_served_from_one_chunk_and_a_new_socket_starts_afresh():
    client = ReadAheadClient(CallbackAPIVersion.VERSION2, client_id="read-ahead-unit")
    first, far = socket.socketpair()
    second, far2 = socket.socketpair()
    try:
        first.setblocking(False)
        far.sendall(b"\x30\x05hello\x30\x03abc")
        client._sock = first
        assert client._sock_recv(1) == b"\x30"
        far.sendall(b"late")  # already in the socket, not in the chunk read before it
        assert client._sock_recv(1) == b"\x05"
        assert client._sock_recv(5) == b"hello"
        assert client._sock_recv(100) == b"\x30\x03abc"  # the rest of the chunk only
        assert client._sock_recv(100) == b"late"
        # Reconnected: what was read ahead on the old socket is not served on the new one.
        far.sendall(b"old stream")
        assert client._sock_recv(1) == b"o"
        second.setblocking(False)
        far2.sendall(b"new")
        client._sock = second
        assert client._sock_recv(100) == b"new"
        far2.close()
        assert client._sock_recv(100) == b""  # the end of the stream is still seen
    finally:
        for sock in (first, far, second):
            sock.close()
