"""An MQTT client (paho-mqtt 2.x) driven by command-line steps, printing one JSON line per
result so that the Rust tests can assert on exact reason codes.

    python3 mqtt_probe.py --port P [--version 5|311] [--user U --password S]
        [--transport websockets --path /mqtt] STEP...

Steps run in order after CONNACK:
    sub:FILTER            subscribe (QoS 1), prints {"suback": [codes]}
    pub:TOPIC:QOS:PAYLOAD publish, prints {"puback": code} for QoS 1 (0 for v3.1.1)
    wait:SECONDS          collect messages for a while
    recv:COUNT            wait (up to 20 s) until COUNT messages arrived in all
Every message received prints {"message": {"topic": ..., "payload": ...}}. A refused
connection prints {"connack": code} and exits with status 3.
"""

import argparse
import json
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


_emit_lock = threading.Lock()


def emit(obj):
    # paho calls back on its network thread while the main thread prints too: one locked
    # write per line keeps lines whole.
    with _emit_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def code_of(rc):
    value = getattr(rc, "value", rc)
    return int(value)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--version", default="5", choices=["5", "311"])
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--client-id", default="")
    parser.add_argument("--transport", default="tcp", choices=["tcp", "websockets"])
    parser.add_argument("--path", default="/mqtt")
    parser.add_argument("steps", nargs="*")
    args = parser.parse_args()

    protocol = mqtt.MQTTv5 if args.version == "5" else mqtt.MQTTv311
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=args.client_id,
        protocol=protocol,
        transport=args.transport,
    )
    if args.transport == "websockets":
        client.ws_set_options(path=args.path)
    if args.user is not None:
        client.username_pw_set(args.user, args.password)

    connected = threading.Event()
    acked = threading.Event()
    state = {"connack": None, "last": None}
    received = threading.Semaphore(0)

    def on_connect(_c, _u, _flags, reason, _props):
        state["connack"] = code_of(reason)
        connected.set()

    def on_subscribe(_c, _u, _mid, reasons, _props):
        state["last"] = {"suback": [code_of(r) for r in reasons]}
        acked.set()

    def on_publish(_c, _u, _mid, reason, _props):
        state["last"] = {"puback": code_of(reason)}
        acked.set()

    def on_message(_c, _u, message):
        emit({"message": {"topic": message.topic,
                          "payload": message.payload.decode("utf-8", "replace")}})
        received.release()

    def on_disconnect(_c, _u, _flags, reason, _props):
        if not connected.is_set():
            state["connack"] = code_of(reason)
            connected.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_publish = on_publish
    client.on_message = on_message
    client.on_disconnect = on_disconnect
    client.connect(args.host, args.port, keepalive=30)
    client.loop_start()
    if not connected.wait(10):
        emit({"error": "no CONNACK"})
        sys.exit(2)
    emit({"connack": state["connack"]})
    if state["connack"] != 0:
        client.loop_stop()
        sys.exit(3)

    for step in args.steps:
        kind, _, rest = step.partition(":")
        acked.clear()
        if kind == "sub":
            client.subscribe(rest, qos=1)
        elif kind == "pub":
            topic, qos, payload = rest.split(":", 2)
            info = client.publish(topic, payload, qos=int(qos))
            if int(qos) == 0:
                info.wait_for_publish(5)
                continue
        elif kind == "wait":
            time.sleep(float(rest))
            continue
        elif kind == "recv":
            deadline = time.monotonic() + 20
            for _ in range(int(rest)):
                if not received.acquire(timeout=max(0, deadline - time.monotonic())):
                    emit({"error": f"fewer than {rest} messages arrived"})
                    sys.exit(2)
            continue
        else:
            emit({"error": f"unknown step {step}"})
            sys.exit(2)
        if not acked.wait(10):
            emit({"error": f"no acknowledgement for {step}"})
            sys.exit(2)
        emit(state["last"])

    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main()
