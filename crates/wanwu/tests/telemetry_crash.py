"""A device that publishes QoS 1 telemetry (MQTT 5, paho-mqtt 2.x) as fast as the broker
acknowledges it and prints the timestamp of every point whose PUBACK reported success, one
per line, until the connection drops or the time is up.

    python3 telemetry_crash.py --port P --device D --token T [--window 64] [--seconds 60]

Message i carries {"ts": BASE + i * 1000, "values": {"pm25": i % 1000}}. The script never
blocks on a dead connection: every wait has a timeout, a lost connection ends the run (no
reconnect), and the process exits 0 whatever paho's network thread is doing. paho calls
on_publish with its own lock held, so this script never calls into paho while holding its
lock: a PUBACK may therefore be reported before publish() has returned the message id.
"""

import argparse
import os
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

BASE_TS = 1_600_000_000_000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--device", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()

    state = threading.Condition()
    pending = {}  # message id -> timestamp, sent and not yet acknowledged
    early = {}  # message id -> success, acknowledged before publish() returned
    gone = threading.Event()
    connected = threading.Event()

    out_lock = threading.Lock()

    def emit(line):
        # paho's thread and the main thread both print: one locked write per line.
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def on_connect(_c, _u, _flags, reason, _props):
        if reason.is_failure:
            emit(f"# refused {reason}")
            gone.set()
        connected.set()

    def on_publish(_c, _u, mid, reason, _props):
        with state:
            ts = pending.pop(mid, None)
            if ts is None:
                early[mid] = not reason.is_failure
            state.notify_all()
        if ts is not None and not reason.is_failure:
            emit(str(ts))

    def on_disconnect(_c, _u, _flags, reason, _props):
        gone.set()
        connected.set()
        with state:
            state.notify_all()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=args.device,
        protocol=mqtt.MQTTv5,
        reconnect_on_failure=False,
    )
    client.username_pw_set(args.device, args.token)
    client.max_inflight_messages_set(args.window)
    client.on_connect = on_connect
    client.on_publish = on_publish
    client.on_disconnect = on_disconnect
    client.connect(args.host, args.port, keepalive=5)
    client.loop_start()
    deadline = time.monotonic() + args.seconds
    if not connected.wait(10) or gone.is_set():
        emit("# no connection")
        os._exit(2)

    i = 0
    while not gone.is_set() and time.monotonic() < deadline:
        with state:
            while len(pending) >= args.window and not gone.is_set():
                state.wait(0.2)
                if time.monotonic() > deadline:
                    break
            if gone.is_set():
                break
        i += 1
        ts = BASE_TS + i * 1000
        payload = '{"ts": %d, "values": {"pm25": %d}}' % (ts, i % 1000)
        info = client.publish(f"devices/{args.device}/telemetry", payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            break
        with state:
            succeeded = early.pop(info.mid, None)
            if succeeded is None:
                pending[info.mid] = ts
        if succeeded:
            emit(str(ts))
    emit(f"# sent {i}")
    sys.stdout.flush()
    # paho's network thread may be stuck on a dead socket: leave without joining it.
    os._exit(0)


if __name__ == "__main__":
    main()
