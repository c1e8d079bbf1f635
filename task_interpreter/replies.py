"""Turns tool results into one short sentence meant to be heard, not read."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from nlp import Intent, IntentName
from task_interpreter.executor import ToolResult
from task_interpreter.plan import Plan

_ERROR_REPLIES = {
    "chain_unreachable": "I can't reach the 0G chain right now. Please try again in a moment.",
    "wrong_chain": "The chain endpoint is on a different network than configured, so I won't use it.",
    "tool_unavailable": "The chain service is not answering right now. Please try again in a moment.",
    "insufficient_funds": "You don't have enough for that, including the fee. Nothing was sent.",
    "per_tx_cap": "That's more than the limit for one transfer, so I didn't prepare it.",
    "daily_cap": "That would go over today's spending limit, so I didn't prepare it.",
    "recipient_not_allowed": "That recipient isn't on your allowed list, so I didn't prepare it.",
    "fee_per_gas_cap": "Fees on the network are above your limit right now, so I didn't prepare it.",
    "total_fee_cap": "The fee would be above your limit, so I didn't prepare it.",
    "confirmation_expired": "That confirmation expired, so nothing was sent. Ask me again to start over.",
    "confirmation_used": "That transfer was already sent.",
    "not_found": "I couldn't find that on the chain.",
    "tool_not_vetted": "That tool changed since it was checked, so I won't use it.",
    "unknown_server": "That service isn't available here.",
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


def spoken_fee(neuron: str | int) -> str:
    """A fee in 0G with two significant digits ("0.000021"), for reading aloud."""
    value = Decimal(int(neuron)).scaleb(-18)
    if value == 0:
        return "0"
    rounded = round(value, 2 - value.adjusted() - 1)
    return format(rounded.normalize(), "f")


def _success_reply(intent: Intent, data: dict[str, Any], user_address: str | None) -> str:
    if "outputs" not in data and "number" in data and "hash" in data:
        return f"Block {_group_digits(data['number'])} has {data['transaction_count']} transactions."
    if "status" in data and "block_number" in data and "tx_hash" in data:
        state = "succeeded" if data["status"] == "success" else "failed"
        return f"That transaction {state}, in block {_group_digits(data['block_number'])}."
    if "results" in data and intent.name is IntentName.KNOWLEDGE:
        return _knowledge_reply(data["results"])
    if "balance" in data and "symbol" in data and "token" in data:
        owner = "You have" if data["owner"] == user_address else f"{shorten_address(data['owner'])} has"
        return f"{owner} {group_amount(data['balance'])} {data['symbol']}."
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


def _knowledge_reply(results: list[dict[str, Any]]) -> str:
    if not results:
        return "I couldn't find anything about that in my documentation."
    text = " ".join(line.strip("#*-` ") for line in str(results[0]["text"]).splitlines() if line.strip())
    sentences = re.split(r"(?<=[.!?])\s+", text)
    return " ".join(sentences[:2])[:400]


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
