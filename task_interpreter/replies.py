"""Turns tool results into one short sentence meant to be heard, not read."""

from __future__ import annotations

from typing import Any

from nlp import Intent, IntentName
from task_interpreter.executor import ToolResult
from task_interpreter.plan import Plan

_ERROR_REPLIES = {
    "chain_unreachable": "I can't reach the 0G chain right now. Please try again in a moment.",
    "wrong_chain": "The chain endpoint is on a different network than configured, so I won't use it.",
    "tool_unavailable": "The chain service is not answering right now. Please try again in a moment.",
}


def shorten_address(address: str) -> str:
    """First six and last four characters, the way people read an address aloud."""
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address


def _group_digits(value: Any) -> str:
    return f"{int(value):,}"


def group_amount(text: str) -> str:
    """Thousands separators for a decimal string ("10000.5" -> "10,000.5"); other text unchanged."""
    whole, dot, fraction = text.partition(".")
    if not whole.isdigit():
        return text
    return f"{int(whole):,}{dot}{fraction}"


def _error_reply(result: ToolResult) -> str:
    assert result.error is not None
    if result.error.code == "invalid_address":
        return f"That address doesn't look right: {result.error.message}."
    return _ERROR_REPLIES.get(result.error.code, f"That didn't work: {result.error.message}.")


def _success_reply(intent: Intent, data: dict[str, Any], user_address: str | None) -> str:
    match intent.name:
        case IntentName.BALANCE:
            amount = f"{group_amount(data['display'])} {data['symbol']}"
            if user_address is not None and data["address"] == user_address:
                return f"You have {amount}."
            return f"The address {shorten_address(data['address'])} has {amount}."
        case IntentName.BLOCK:
            return f"The latest block is number {_group_digits(data['block_number'])}."
        case IntentName.GAS_PRICE:
            return f"Gas costs {data['gas_price_gwei']} gwei."
        case IntentName.CHAIN_INFO:
            return (
                f"I'm connected to the {data['network']} network, chain ID {data['chain_id']}, "
                f"at block {_group_digits(data['latest_block'])}."
            )
        case _:
            return "Done."


def compose_reply(intent: Intent, plan: Plan, results: list[ToolResult], user_address: str | None) -> str:
    """The sentence to say for this turn.

    Args:
        intent: what was understood.
        plan: what was planned (its `direct_reply` wins when set).
        results: tool results in plan order; the first failure decides the reply.
        user_address: the speaker's own address, to say "you" rather than the address.
    """
    if plan.direct_reply is not None:
        return plan.direct_reply
    for result in results:
        if not result.ok:
            return _error_reply(result)
    if not results or results[-1].data is None:
        return "Done."
    return _success_reply(intent, results[-1].data, user_address)
