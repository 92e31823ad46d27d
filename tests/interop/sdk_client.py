"""Drives ide-agentsd through `ide-agentsd connect` with the official MCP Python SDK.

Usage: sdk_client.py BINARY SOCKET
Runs the same checks in every connect mode the SDK offers (legacy handshake, and auto,
which probes server/discover and speaks the stateless 2026-07-28 revision). Exits non-zero
with a message on the first mismatch.
"""

import asyncio
import sys

from mcp import Client, StdioServerParameters, types

SNIPPET_URI = "ide-agents://kb.snippet/intro"
SNIPPET_MARK = "interop snippet body"


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

        await check_resources_and_prompts(client)
        print(
            f"{mode}: protocol {client.protocol_version}, {len(names)} tools, healthz ok, "
            "resources ok, prompts ok"
        )


async def check_resources_and_prompts(client: Client) -> None:
    """The test puts kb/intro.md (containing SNIPPET_MARK) in the daemon's kb directory."""
    listed = await client.list_resources()
    uris = [str(r.uri) for r in listed.resources]
    for uri in ("ide-agents://repo.graph", "ide-agents://build.logs", SNIPPET_URI):
        assert uri in uris, uris

    read = await client.read_resource(SNIPPET_URI)
    text = read.contents[0].text
    assert SNIPPET_MARK in text, text
    graph = await client.read_resource("ide-agents://repo.graph")
    assert '"nodes"' in graph.contents[0].text, graph

    templates = await client.list_resource_templates()
    assert templates.resource_templates[0].uri_template == "ide-agents://kb.snippet/{name}"

    prompts = await client.list_prompts()
    prompt_names = [p.name for p in prompts.prompts]
    assert "diff_review" in prompt_names and "rank_top_bug_prs" in prompt_names, prompt_names
    got = await client.get_prompt("diff_review", {"diff": "+interop added line"})
    message = got.messages[0]
    assert message.role == "user", message
    assert "+interop added line" in message.content.text, message


async def check_approval_asked_in_the_client(binary: str, socket: str, mode: str) -> None:
    """A command needing approval is asked through the SDK's elicitation callback: a request
    to the client in the legacy era, an input-required round the SDK retries in the
    stateless one. The test's daemon has the reference backend, which runs `echo`."""
    params = StdioServerParameters(command=binary, args=["connect", "--socket", socket])
    questions = []

    def answering(action: str):
        async def answer(context, request: types.ElicitRequestParams) -> types.ElicitResult:
            questions.append(request.message)
            return types.ElicitResult(action=action)

        return answer

    async with Client(
        params, mode=mode, read_timeout_seconds=15, elicitation_callback=answering("accept")
    ) as client:
        ran = await client.call_tool("ide_agents_run_command", {"command": f"echo {mode} asked"})
        assert not ran.is_error, ran
        assert len(questions) == 1 and f"echo {mode} asked" in questions[0], questions
    async with Client(
        params, mode=mode, read_timeout_seconds=15, elicitation_callback=answering("decline")
    ) as client:
        refused = await client.call_tool("ide_agents_run_command", {"command": "echo declined"})
        assert refused.is_error, refused
        error = refused.structured_content["error"]
        assert error["code"] == "approval_required" and error["declined"] is True, error
    print(f"{mode} elicitation: accepted command ran, declined command refused")


async def main() -> None:
    binary, socket = sys.argv[1], sys.argv[2]
    for mode in ("legacy", "auto"):
        await check(binary, socket, mode)
        await check_approval_asked_in_the_client(binary, socket, mode)


if __name__ == "__main__":
    asyncio.run(main())
