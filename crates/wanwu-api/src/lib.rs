//! REST API with OpenAPI, WebSocket live data and the embedded web console.
