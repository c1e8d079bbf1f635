"""What the assistant says around a value transfer: the confirmation prompt, built only from the
server's own description of the prepared transaction (never from what the recognizer heard), and the
receipt after sending."""

from __future__ import annotations

from typing import Any

from task_interpreter.replies import group_amount, shorten_address, spoken_fee


def _names(named: list[str]) -> str:
    shown = [shorten_address(n) if n.startswith("0x") else n for n in named]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def transfer_prompt(data: dict[str, Any], named: list[str], detailed: bool) -> str:
    """The question for a prepared single transfer (`PreparedTransfer` of the chain server)."""
    summary = data["summary"]
    to = summary["to"]
    who = named[0] if named and not named[0].startswith("0x") else shorten_address(to)
    where = to if detailed else shorten_address(to)
    address = f", address {where}," if who != shorten_address(to) or detailed else ""
    return (
        f"Send {group_amount(summary['amount'])} {summary['symbol']} to {who}{address} on the "
        f"{summary['network']} network? The fee is at most {spoken_fee(summary['max_total_fee'])} 0G. "
        "Say yes to send it, or no to cancel."
    )


def batch_prompt(data: dict[str, Any], named: list[str]) -> str:
    """The question for a prepared batch (`PreparedBatch` of the chain server)."""
    summary = data["summary"]
    lines = summary["transfers"]
    amounts = {line["amount"] for line in lines}
    each = (
        f"{group_amount(next(iter(amounts)))} {summary['symbol']} each"
        if len(amounts) == 1
        else "different amounts"
    )
    total = f"{group_amount(summary['total_amount'])} {summary['symbol']}"
    return (
        f"Send {each} to {_names(named)}, {total} in all, "
        f"on the {summary['network']} network? Fees are at most {spoken_fee(summary['max_total_fee'])} 0G. "
        "Say yes to send, or no to cancel."
    )


def receipt(
    tool: str, results: list[dict[str, Any] | None], named: list[str], summary: dict[str, Any]
) -> str:
    """What to say once the confirmed transfer was handed to the network (and, for one, mined)."""
    if tool == "confirm_batch_transfer":
        count = len(summary.get("transfers", []))
        return f"Sent {count} transfers to {_names(named)}. They'll be confirmed in a moment."
    amount = f"{group_amount(summary['amount'])} {summary['symbol']}"
    who = _names(named) if named else shorten_address(summary["to"])
    mined = results[1] if len(results) > 1 else None
    if mined is not None and mined.get("status") == "success":
        return f"Done: {amount} sent to {who}, confirmed in block {int(mined['block_number']):,}."
    if mined is not None:
        return f"The transfer to {who} was mined but failed. Your 0G stayed put apart from the fee."
    return (
        f"I sent {amount} to {who}; it isn't confirmed yet. Ask me about your last transaction in a moment."
    )
