"""A simulated device for the console's end-to-end tests: connects to wanwu's MQTT broker with
its id and token, publishes telemetry every interval, and answers every command it receives
with {"status": "ok", "result": {"command": name, "echo": params}}.

Usage: device.py HOST PORT DEVICE_ID TOKEN TELEMETRY_JSON INTERVAL_S
TELEMETRY_JSON maps property ids to [low, high]; each message holds one value per property.
Prints "ready" once subscribed, and "command NAME ID" per command answered.
"""
import json
import random
import sys
import threading
import time

import paho.mqtt.client as mqtt

host, port, device_id, token, telemetry_json, interval = sys.argv[1:7]
ranges = json.loads(telemetry_json)
interval = float(interval)
prefix = f"devices/{device_id}/"
subscribed = threading.Event()


def on_connect(client, _userdata, _flags, reason_code, _properties):
    if reason_code.is_failure:
        print(f"connect refused: {reason_code}", flush=True)
        sys.exit(1)
    client.subscribe([(prefix + "commands/+", 1), (prefix + "shadow/delta", 1), (prefix + "errors", 0)])


def on_subscribe(_client, _userdata, _mid, _reason_codes, _properties):
    subscribed.set()
    print("ready", flush=True)


def on_message(client, _userdata, msg):
    if msg.topic.startswith(prefix + "commands/"):
        name = msg.topic[len(prefix + "commands/"):]
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        command_id = body.get("id")
        reply = {"status": "ok", "result": {"command": name, "echo": body.get("params", {})}}
        client.publish(prefix + f"replies/{command_id}", json.dumps(reply), qos=1)
        print(f"command {name} {command_id}", flush=True)
    elif msg.topic == prefix + "errors":
        print(f"error {msg.payload.decode(errors='replace')}", flush=True)


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv311)
client.username_pw_set(device_id, token)
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect(host, int(port), keepalive=30)
client.loop_start()
subscribed.wait(30)
try:
    while True:
        if ranges:
            values = {k: round(random.uniform(lo, hi), 2) for k, (lo, hi) in ranges.items()}
            client.publish(prefix + "telemetry", json.dumps(values), qos=1)
        time.sleep(interval)
except KeyboardInterrupt:
    pass
finally:
    client.loop_stop()
    client.disconnect()
