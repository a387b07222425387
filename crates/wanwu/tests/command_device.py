"""A device that answers commands (paho-mqtt 2.x, MQTT 5), for the command tests.

    python3 command_device.py --port P --device ID --token T [--reply MODE]
        [--persistent] [--seconds S]

It subscribes to devices/ID/commands/+ and prints one JSON line per fact:
    {"subscribed": true}
    {"command": {"topic", "payload", "response_topic", "correlation_data"}}
    {"reply": {"topic", "puback"}}
and answers each command by MODE:
    topic          {"status": "ok", "result": {"done": <params>}} on devices/ID/replies/<id>
    response-topic the same on the MQTT 5 response topic, echoing the correlation data
    error          {"status": "error", "error": "jammed"} on devices/ID/replies/<id>
    silent         no answer
--persistent connects with client id ID, clean start off and a session that outlives the
connection. It exits after S seconds (default 30).
"""

import argparse
import json
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

_emit_lock = threading.Lock()


def emit(obj):
    with _emit_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--device", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--reply", default="topic",
                        choices=["topic", "response-topic", "error", "silent"])
    parser.add_argument("--persistent", action="store_true")
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()

    client = mqtt.Client(CallbackAPIVersion.VERSION2,
                         client_id=args.device if args.persistent else "",
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(args.device, args.token)
    pending = {}

    def on_connect(c, _u, _flags, reason, _props):
        if reason.value != 0:
            emit({"connack": reason.value})
            return
        c.subscribe(f"devices/{args.device}/commands/+", qos=1)

    def on_subscribe(_c, _u, _mid, _reasons, _props):
        emit({"subscribed": True})

    def on_publish(_c, _u, mid, reason, _props):
        topic = pending.pop(mid, None)
        emit({"reply": {"topic": topic, "puback": reason.value}})

    def on_message(c, _u, message):
        props = message.properties
        response_topic = getattr(props, "ResponseTopic", None)
        correlation = getattr(props, "CorrelationData", None)
        emit({"command": {
            "topic": message.topic,
            "payload": message.payload.decode("utf-8", "replace"),
            "response_topic": response_topic,
            "correlation_data": correlation.decode("utf-8", "replace") if correlation else None,
        }})
        command = json.loads(message.payload)
        topic = f"devices/{args.device}/replies/{command['id']}"
        answer = {"status": "ok", "result": {"done": command.get("params")}}
        reply_props = None
        if args.reply == "silent":
            return
        if args.reply == "error":
            answer = {"status": "error", "error": "jammed"}
        if args.reply == "response-topic":
            topic = response_topic
            reply_props = Properties(PacketTypes.PUBLISH)
            reply_props.CorrelationData = correlation
        info = c.publish(topic, json.dumps(answer), qos=1, properties=reply_props)
        pending[info.mid] = topic

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_publish = on_publish
    client.on_message = on_message
    connect_props = None
    if args.persistent:
        connect_props = Properties(PacketTypes.CONNECT)
        connect_props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", args.port, keepalive=30,
                   clean_start=not args.persistent, properties=connect_props)
    client.loop_start()
    time.sleep(args.seconds)
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main()
