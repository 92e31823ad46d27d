"""Drives ide-agentsd through `ide-agentsd connect` with the official MCP Python SDK.

Usage: sdk_client.py BINARY SOCKET
Runs the same checks in every connect mode the SDK offers (legacy handshake, and auto,
which probes server/discover and speaks the stateless 2026-07-28 revision). Exits non-zero
with a message on the first mismatch.
"""

import asyncio
import sys

from mcp import Client, StdioServerParameters


async def check(binary: str, socket: str, mode: str) -> None:
    params = StdioServerParameters(command=binary, args=["connect", "--socket", socket])
    async with Client(params, mode=mode, read_timeout_seconds=15) as client:
        if client.server_info is not None:
            assert client.server_info.name == "ide-agentsd", client.server_info
        tools = await client.list_tools()
        names = [t.name for t in tools.tools]
        assert "ide_agents_healthz" in names, names
        healthz = next(t for t in tools.tools if t.name == "ide_agents_healthz")
        assert healthz.input_schema["type"] == "object", healthz.input_schema

        result = await client.call_tool("ide_agents_healthz", {})
        assert not result.is_error, result
        structured = result.structured_content
        assert structured["status"] == "live", structured
        assert structured["time"].endswith("Z"), structured

        failed = await client.call_tool("ide_agents_no_such_tool", {})
        assert failed.is_error, failed
        assert failed.structured_content["error"]["code"] == "unknown_tool", failed
        print(f"{mode}: protocol {client.protocol_version}, {len(names)} tools, healthz ok")


async def main() -> None:
    binary, socket = sys.argv[1], sys.argv[2]
    for mode in ("legacy", "auto"):
        await check(binary, socket, mode)


if __name__ == "__main__":
    asyncio.run(main())
