"""The streaming voice API (`zgv-voice/1`): protocol messages, sessions, and the WebSocket route."""
