"""The deterministic planner: from intent and context to a `Plan` of MCP tool calls (with the results
later calls depend on), a question back, or a direct reply. Pure and fast: no I/O."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from nlp import Intent, IntentName
from task_interpreter.plan import Plan, ResultRef, ToolCall

CHAIN = "chain"
KNOWLEDGE = "knowledge"

HELP_TEXT = (
    "You can ask me for your balance or anyone's, send 0G to a contact or an address, check a "
    "transaction, the latest block or the gas price, and tell me to remember a contact."
)
NOT_UNDERSTOOD = "Sorry, I didn't understand that. " + HELP_TEXT
_SUB_UNITS = {"gwei": 9, "neuron": 18}


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What the planner knows beyond the words.

    Attributes:
        user_address: whose wallet "my" means.
        contacts: the user's saved names (lower-case) and their addresses.
        last_tx_hash: the user's latest transaction in this conversation.
        transcript: the words as said (a knowledge question is searched as asked).
    """

    user_address: str | None = None
    contacts: Mapping[str, str] = field(default_factory=dict)
    last_tx_hash: str | None = None
    transcript: str = ""


def native_amount(slots: Mapping[str, object]) -> str | None:
    """The amount in whole 0G (a sub-unit amount converted exactly), or None if there is none."""
    amount = slots.get("amount")
    if not isinstance(amount, str):
        return None
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return None
    unit = slots.get("unit")
    if isinstance(unit, str) and unit in _SUB_UNITS:
        value = value.scaleb(-_SUB_UNITS[unit])
    return format(value.normalize(), "f")


def _closest(name: str, contacts: Mapping[str, str]) -> str | None:
    matches = difflib.get_close_matches(name, list(contacts), n=2, cutoff=0.8)
    return matches[0] if len(matches) == 1 else None


class Planner:
    """Turns an intent into a plan."""

    def plan(self, intent: Intent, context: TurnContext) -> Plan:
        """Plan the tool calls for `intent`, or a direct reply when none are needed or possible."""
        match intent.name:
            case IntentName.BALANCE:
                return self._balance(intent, context)
            case IntentName.TRANSFER:
                return self._transfer(intent, context)
            case IntentName.BLOCK:
                block = intent.slots.get("block", "latest")
                if isinstance(block, int):
                    return Plan(calls=(ToolCall(CHAIN, "get_block", {"number": block}),))
                return Plan(calls=(ToolCall(CHAIN, "get_block_number"),))
            case IntentName.TX_STATUS:
                return self._tx_status(intent, context)
            case IntentName.GAS_PRICE:
                return Plan(calls=(ToolCall(CHAIN, "get_gas_price"),))
            case IntentName.CHAIN_INFO:
                return Plan(calls=(ToolCall(CHAIN, "chain_info"),))
            case IntentName.KNOWLEDGE:
                query = context.transcript[:500] or "zgvoice"
                return Plan(calls=(ToolCall(KNOWLEDGE, "search_docs", {"query": query, "limit": 1}),))
            case IntentName.HELP:
                return Plan(direct_reply=HELP_TEXT)
            case IntentName.UNKNOWN:
                return Plan(direct_reply=NOT_UNDERSTOOD)
            case _:
                # Understood, but not something this planner turns into tool calls (the interpreter
                # handles dialogue and profile intents itself): say so rather than guess.
                spoken = intent.name.value.replace("_", " ")
                return Plan(direct_reply=f"I understood a {spoken} request, but I can't do that yet.")

    @staticmethod
    def _recipient(intent: Intent, context: TurnContext) -> tuple[list[tuple[str, str]], str | None]:
        """[(how the user named them, address)] or a reply explaining who is unknown."""
        address = intent.slots.get("address")
        if isinstance(address, str):
            return [(address, address)], None
        names: list[str] = []
        contact = intent.slots.get("contact")
        many = intent.slots.get("contacts")
        if isinstance(contact, str):
            names = [contact]
        elif isinstance(many, list):
            names = [str(n) for n in many]
        # A name the recognizer slightly misheard ("alise") is the saved contact it is closest to; the
        # confirmation prompt says the contact's name and address, so a wrong guess is heard and refused.
        names = [n if n in context.contacts else _closest(n, context.contacts) or n for n in names]
        unknown = [n for n in names if n not in context.contacts]
        if unknown:
            who = " and ".join(unknown)
            return [], (
                f"I don't know who {who} {'is' if len(unknown) == 1 else 'are'} yet. "
                f"Say, for example: remember {unknown[0]} is, then the address."
            )
        return [(n, context.contacts[n]) for n in names], None

    def _transfer(self, intent: Intent, context: TurnContext) -> Plan:
        recipients, problem = self._recipient(intent, context)
        if problem is not None:
            return Plan(direct_reply=problem)
        if not recipients:
            return Plan(direct_reply="Who should I send it to?", question="recipient")
        amount = native_amount(intent.slots)
        if amount is None:
            named = (
                recipients[0][0] if len(recipients) == 1 and not recipients[0][0].startswith("0x") else "them"
            )
            return Plan(direct_reply=f"How much should I send to {named}?", question="amount")
        asset = str(intent.slots.get("asset", "0G"))
        if asset != "0G" and not re.fullmatch(r"0x[0-9a-fA-F]{40}", asset):
            return Plan(
                direct_reply=f"I don't know the {asset} token's address on this network, so I can't send it."
            )
        if len(recipients) == 1:
            to = recipients[0][1]
            return Plan(
                calls=(ToolCall(CHAIN, "prepare_transfer", {"to": to, "amount": amount, "asset": asset}),)
            )
        transfers = [{"to": address, "amount": amount} for _, address in recipients]
        return Plan(
            calls=(ToolCall(CHAIN, "prepare_batch_transfer", {"transfers": transfers, "asset": asset}),)
        )

    @staticmethod
    def confirm(tool: str, handle: str) -> Plan:
        """Send what the user confirmed, then (for one transfer) wait until it is mined."""
        calls = [ToolCall(CHAIN, tool, {"handle": handle})]
        if tool == "confirm_transfer":
            calls.append(
                ToolCall(CHAIN, "wait_for_transaction", {"tx_hash": ResultRef(0, "tx_hash"), "timeout_s": 30})
            )
        return Plan(calls=tuple(calls))

    @staticmethod
    def _tx_status(intent: Intent, context: TurnContext) -> Plan:
        tx_hash = intent.slots.get("tx_hash")
        if not isinstance(tx_hash, str):
            tx_hash = context.last_tx_hash
        if tx_hash is None:
            return Plan(
                direct_reply="You haven't sent a transaction in this conversation yet. "
                "Tell me its hash instead."
            )
        return Plan(calls=(ToolCall(CHAIN, "get_receipt", {"tx_hash": tx_hash}),))

    @staticmethod
    def _balance(intent: Intent, context: TurnContext) -> Plan:
        address = intent.slots.get("address")
        if not isinstance(address, str):
            contact = intent.slots.get("contact")
            if isinstance(contact, str):
                address = context.contacts.get(contact)
                if address is None:
                    return Plan(
                        direct_reply=f"I don't know who {contact} is yet. Tell me their address instead."
                    )
            elif context.user_address is None:
                return Plan(direct_reply="I don't know your wallet address yet. Connect a wallet first.")
            else:
                address = context.user_address
        asset = intent.slots.get("asset")
        if isinstance(asset, str) and re.fullmatch(r"0x[0-9a-fA-F]{40}", asset):
            return Plan(calls=(ToolCall(CHAIN, "get_token_balance", {"token": asset, "owner": address}),))
        if isinstance(asset, str) and asset != "0G":
            return Plan(direct_reply=f"I don't know the {asset} token's address on this network.")
        return Plan(calls=(ToolCall(CHAIN, "get_balance", {"address": address}),))
