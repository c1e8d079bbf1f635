"""MCP tool servers for 0G. Each server is its own module and runs alone over stdio or HTTP."""

from mcp_servers.chain import build_chain_server

__all__ = ["build_chain_server"]
