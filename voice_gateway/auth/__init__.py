"""Wallet sign-in (EIP-4361) and the gateway's sessions."""
