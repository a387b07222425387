//! MQTT 3.1.1 and 5.0 broker library with hooks for authentication, ACL and publish interception.
