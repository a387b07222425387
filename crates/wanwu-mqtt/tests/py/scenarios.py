"""MQTT scenarios driven by paho-mqtt 2.x against a running broker.

usage: scenarios.py SCENARIO --port PORT [--transport tcp|websockets] [--v311]
Exits 0 when the scenario's expectations hold; prints the failed expectation otherwise.
The broker under test admits user "NAME@NAMESPACE" with password "pw".
"""

import argparse
import queue
import socket
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

TIMEOUT = 5.0
ARGS = None


def expect(cond, what):
    if not cond:
        print("FAILED: " + what, flush=True)
        sys.exit(1)


class Client:
    """A paho client with blocking helpers."""

    def __init__(self, client_id="", v5=True, clean=True, expiry=None, user="alice@t1",
                 will=None, will_delay=None, receive_max=None, topic_alias_max=None):
        self.v5 = v5
        self.messages = queue.Queue()
        self.acks = {}
        self.ack_queue = queue.Queue()
        self.subacks = queue.Queue()
        self.connacks = queue.Queue()
        kwargs = dict(client_id=client_id, protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                      transport=ARGS.transport)
        if not v5:
            kwargs["clean_session"] = clean
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, **kwargs)
        if ARGS.transport == "websockets":
            self.c.ws_set_options(path="/mqtt")
        if user:
            self.c.username_pw_set(user, "pw")
        if will:
            props = None
            if will_delay is not None:
                props = Properties(PacketTypes.WILLMESSAGE)
                props.WillDelayInterval = will_delay
            self.c.will_set(will[0], will[1], qos=1, properties=props)
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.c.on_connect = lambda c, u, f, rc, p: self.connacks.put((f, rc, p))
        self.c.on_publish = lambda c, u, mid, rc, p: self.ack_queue.put((mid, rc, p))
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.put(rcs)
        props = None
        connect_kwargs = {}
        if v5:
            props = Properties(PacketTypes.CONNECT)
            if expiry is not None:
                props.SessionExpiryInterval = expiry
            if receive_max is not None:
                props.ReceiveMaximum = receive_max
            if topic_alias_max is not None:
                props.TopicAliasMaximum = topic_alias_max
            connect_kwargs["clean_start"] = clean
        self.c.connect("127.0.0.1", ARGS.port, keepalive=30, properties=props, **connect_kwargs)
        self.c.loop_start()
        flags, rc, p = self.connacks.get(timeout=TIMEOUT)
        expect(not rc.is_failure, "connect refused: %s" % rc)
        self.session_present = flags.session_present
        self.connack_props = p

    def subscribe(self, topic, qos=1, options=None, sub_id=None):
        props = None
        if sub_id is not None:
            props = Properties(PacketTypes.SUBSCRIBE)
            props.SubscriptionIdentifier = sub_id
        if self.v5:
            opts = options or SubscribeOptions(qos=qos)
            self.c.subscribe(topic, options=opts, properties=props)
        else:
            self.c.subscribe(topic, qos)
        return self.subacks.get(timeout=TIMEOUT)

    def publish(self, topic, payload, qos=1, retain=False, props=None):
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=props)
        if qos == 0:
            return None
        while info.mid not in self.acks:
            mid, rc, p = self.ack_queue.get(timeout=TIMEOUT)
            self.acks[mid] = (rc, p)
        return self.acks.pop(info.mid)

    def recv(self, timeout=TIMEOUT):
        return self.messages.get(timeout=timeout)

    def nothing(self, wait=0.7):
        try:
            m = self.messages.get(timeout=wait)
        except queue.Empty:
            return True
        print("unexpected message on %s: %r" % (m.topic, m.payload), flush=True)
        return False

    def disconnect(self):
        self.c.disconnect()
        self.c.loop_stop()

    def drop(self):
        """Ends the connection without DISCONNECT."""
        self.c.loop_stop()
        self.c.socket().shutdown(socket.SHUT_RDWR)
        self.c.socket().close()


def version_is_v5():
    return not ARGS.v311


def qos_roundtrip():
    v5 = version_is_v5()
    sub = Client(v5=v5)
    sub.subscribe("q/#", qos=2)
    pub = Client(v5=v5)
    for qos in (0, 1, 2):
        pub.publish("q/%d" % qos, b"m%d" % qos, qos=qos)
    for qos in (0, 1, 2):
        m = sub.recv()
        expect(m.topic == "q/%d" % qos and m.payload == b"m%d" % qos, "in-order delivery of q/%d" % qos)
        expect(m.qos == qos, "delivered at QoS %d, got %d" % (qos, m.qos))
    expect(sub.nothing(), "no duplicates")


def persistent_session():
    v5 = version_is_v5()
    cid = "persist-" + ("v5" if v5 else "v3")
    sub = Client(client_id=cid, v5=v5, clean=False, expiry=300)
    sub.subscribe("ps/#", qos=1)
    sub.disconnect()
    pub = Client(v5=v5)
    for i in range(5):
        pub.publish("ps/x", b"%d" % i, qos=1)
    sub = Client(client_id=cid, v5=v5, clean=False, expiry=300)
    expect(sub.session_present, "session present on resume")
    got = [sub.recv().payload for _ in range(5)]
    expect(got == [b"0", b"1", b"2", b"3", b"4"], "queued messages in order, got %r" % got)


def properties():
    sub = Client()
    sub.subscribe("props/#")
    pub = Client()
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("k", "v"), ("k2", "v2")]
    props.ResponseTopic = "props/reply"
    props.CorrelationData = b"\x01\x02"
    props.ContentType = "application/json"
    props.PayloadFormatIndicator = 1
    props.MessageExpiryInterval = 60
    pub.publish("props/a", b"{}", props=props)
    m = sub.recv()
    p = m.properties
    expect(p.UserProperty == [("k", "v"), ("k2", "v2")], "user properties %r" % getattr(p, "UserProperty", None))
    expect(p.ResponseTopic == "props/reply", "response topic")
    expect(p.CorrelationData == b"\x01\x02", "correlation data")
    expect(p.ContentType == "application/json", "content type")
    expect(p.PayloadFormatIndicator == 1, "payload format")
    expect(0 < p.MessageExpiryInterval <= 60, "message expiry forwarded")


def message_expiry():
    sub = Client(client_id="expiry-sub", clean=True, expiry=300)
    sub.subscribe("exp/#")
    sub.disconnect()
    pub = Client()
    props = Properties(PacketTypes.PUBLISH)
    props.MessageExpiryInterval = 1
    pub.publish("exp/short", b"gone", props=props)
    pub.publish("exp/long", b"kept")
    time.sleep(2.2)
    sub = Client(client_id="expiry-sub", clean=False, expiry=300)
    m = sub.recv()
    expect(m.topic == "exp/long", "expired message dropped, got %s" % m.topic)
    expect(sub.nothing(), "nothing else")


def topic_alias():
    sub = Client()
    sub.subscribe("alias/#")
    pub = Client()
    props = Properties(PacketTypes.PUBLISH)
    props.TopicAlias = 1
    pub.publish("alias/x", b"first", props=props)
    pub.publish("", b"second", props=props)
    for payload in (b"first", b"second"):
        m = sub.recv()
        expect(m.topic == "alias/x" and m.payload == payload, "alias resolved: %s %r" % (m.topic, m.payload))


def topic_alias_outbound():
    # paho leaves aliases unresolved on receipt, so what the broker sent is visible as is.
    sub = Client(topic_alias_max=2)
    sub.subscribe("aout/#")
    plain = Client()
    plain.subscribe("aout/#")
    pub = Client()
    sent = ["aout/a", "aout/a", "aout/b", "aout/c", "aout/b"]
    for topic in sent:
        pub.publish(topic, topic.encode())
    expected = [("aout/a", 1), ("", 1), ("aout/b", 2), ("aout/c", None), ("", 2)]
    for topic, alias in expected:
        m = sub.recv()
        got = getattr(m.properties, "TopicAlias", None)
        expect((m.topic, got) == (topic, alias),
               "sent as topic %r alias %r, got %r alias %r (payload %r)" % (topic, alias, m.topic, got, m.payload))
    for topic in sent:
        m = plain.recv()
        expect(m.topic == topic and getattr(m.properties, "TopicAlias", None) is None,
               "no aliases without a Topic Alias Maximum: %r" % m.topic)


def auth_method_refused():
    connacks = queue.Queue()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="auth", protocol=mqtt.MQTTv5)
    c.username_pw_set("alice@t1", "pw")
    c.on_connect = lambda c, u, f, rc, p: connacks.put(rc)
    props = Properties(PacketTypes.CONNECT)
    props.AuthenticationMethod = "SCRAM-SHA-256"
    props.AuthenticationData = b"client-first"
    c.connect("127.0.0.1", ARGS.port, keepalive=30, properties=props)
    c.loop_start()
    rc = connacks.get(timeout=TIMEOUT)
    c.loop_stop()
    expect(rc.value == 0x8C, "bad authentication method 0x8C, got %s" % rc)


def subscription_options():
    me = Client()
    me.subscribe("nl/#", options=SubscribeOptions(qos=1, noLocal=True))
    me.publish("nl/a", b"mine")
    expect(me.nothing(), "no-local suppresses own messages")
    other = Client()
    other.publish("nl/a", b"theirs")
    expect(me.recv().payload == b"theirs", "others' messages arrive")

    other.publish("rap/x", b"retained", retain=True)
    rap = Client()
    rap.subscribe("rap/#", options=SubscribeOptions(qos=1, retainAsPublished=True))
    expect(rap.recv().retain, "retained message on subscribe has retain set")
    plain = Client()
    plain.subscribe("rap/#", options=SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND))
    expect(plain.nothing(), "retain handling 2 sends no retained messages")
    other.publish("rap/x", b"live", retain=True)
    expect(rap.recv().retain, "retain-as-published keeps the flag")
    expect(not plain.recv().retain, "without it the flag is cleared")

    new_only = Client()
    opts = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
    new_only.subscribe("rap/#", options=opts)
    expect(new_only.recv().payload == b"live", "retain handling 1 sends on a new subscription")
    new_only.subscribe("rap/#", options=opts)
    expect(new_only.nothing(), "retain handling 1 sends nothing on a repeated subscription")
    other.publish("rap/x", b"", retain=True)
    fresh = Client()
    fresh.subscribe("rap/#")
    expect(fresh.nothing(), "empty payload deleted the retained message")


def subscription_ids():
    sub = Client()
    sub.subscribe("sid/+", sub_id=7)
    sub.subscribe("sid/#", sub_id=9)
    Client().publish("sid/a", b"x")
    m = sub.recv()
    ids = m.properties.SubscriptionIdentifier
    expect(sorted(ids) == [7, 9], "subscription identifiers %r" % ids)
    expect(sub.nothing(), "one delivery for overlapping subscriptions")


def hook_and_acl():
    sub = Client()
    sub.subscribe("#")
    pub = Client()
    rc, props = pub.publish("reject/x", b"bad")
    expect(rc.value == 0x99, "refused with 0x99, got %s" % rc)
    expect(getattr(props, "ReasonString", None) == "invalid payload", "reason string %r" % props)
    rc, _ = pub.publish("consume/x", b"taken")
    expect(rc.value == 0, "consumed message acknowledged, got %s" % rc)
    rc, _ = pub.publish("forbidden/x", b"no")
    expect(rc.value == 0x87, "ACL refusal 0x87, got %s" % rc)
    expect(sub.nothing(), "refused, consumed and forbidden messages are not routed")
    rcs = Client().subscribe("forbidden/#")
    expect(rcs[0].value == 0x87, "subscription refused with 0x87, got %s" % rcs)


def will_delay():
    watcher = Client()
    watcher.subscribe("will/#")
    resumed = Client(client_id="will-resumed", expiry=60, will=("will/resumed", b"x"), will_delay=2)
    gone = Client(client_id="will-gone", expiry=60, will=("will/gone", b"bye"), will_delay=2)
    resumed.drop()
    gone.drop()
    Client(client_id="will-resumed", clean=False, expiry=60)
    expect(watcher.nothing(1.0), "no will before the delay")
    m = watcher.recv(timeout=4)
    expect(m.topic == "will/gone" and m.payload == b"bye", "will after delay, got %s" % m.topic)
    expect(watcher.nothing(2.0), "no will for the resumed session")


def shared_subscription():
    a = Client()
    b = Client()
    a.subscribe("$share/g/sh/#")
    b.subscribe("$share/g/sh/#")
    pub = Client()
    for i in range(20):
        pub.publish("sh/x", b"%d" % i)
    time.sleep(0.5)
    na, nb = a.messages.qsize(), b.messages.qsize()
    expect(na + nb == 20, "each message to one member: %d + %d" % (na, nb))
    expect(na == 10 and nb == 10, "round robin alternates between members: %d, %d" % (na, nb))


def pubsub():
    v5 = version_is_v5()
    sub = Client(v5=v5)
    sub.subscribe("ws/#")
    Client(v5=v5).publish("ws/a", b"over websocket")
    m = sub.recv()
    expect(m.topic == "ws/a" and m.payload == b"over websocket", "round trip")


SCENARIOS = {f.__name__: f for f in [
    qos_roundtrip, persistent_session, properties, message_expiry, topic_alias, subscription_options,
    subscription_ids, hook_and_acl, will_delay, shared_subscription, pubsub, topic_alias_outbound,
    auth_method_refused,
]}

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--transport", default="tcp")
    parser.add_argument("--v311", action="store_true")
    ARGS = parser.parse_args()
    SCENARIOS[ARGS.scenario]()
    print("ok", flush=True)
    sys.exit(0)
