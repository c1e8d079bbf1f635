"""The voice gateway: HTTP (and, later, WebSocket audio) front of zgvoice."""
