"""The deterministic planner: one rule per intent, from intent and context to a `Plan`."""

from __future__ import annotations

from dataclasses import dataclass

from nlp import Intent, IntentName
from task_interpreter.plan import Plan, ToolCall

CHAIN = "chain"

HELP_TEXT = (
    "You can ask me for your balance, the balance of an address, the latest block, "
    "the gas price, or which network I am on."
)
NOT_UNDERSTOOD = "Sorry, I didn't understand that. " + HELP_TEXT


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What the planner knows beyond the words: whose wallet "my" means."""

    user_address: str | None = None


class Planner:
    """Turns an intent into a plan. Pure and fast: no I/O."""

    def plan(self, intent: Intent, context: TurnContext) -> Plan:
        """Plan the tool calls for `intent`, or a direct reply when none are needed or possible."""
        match intent.name:
            case IntentName.BALANCE:
                return self._plan_balance(intent, context)
            case IntentName.BLOCK:
                return Plan(calls=(ToolCall(CHAIN, "get_block_number"),))
            case IntentName.GAS_PRICE:
                return Plan(calls=(ToolCall(CHAIN, "get_gas_price"),))
            case IntentName.CHAIN_INFO:
                return Plan(calls=(ToolCall(CHAIN, "chain_info"),))
            case IntentName.HELP:
                return Plan(direct_reply=HELP_TEXT)
            case IntentName.UNKNOWN:
                return Plan(direct_reply=NOT_UNDERSTOOD)

    @staticmethod
    def _plan_balance(intent: Intent, context: TurnContext) -> Plan:
        address = intent.slots.get("address")
        if isinstance(address, str):
            return Plan(calls=(ToolCall(CHAIN, "get_balance", {"address": address}),))
        contact = intent.slots.get("contact")
        if isinstance(contact, str):
            # The contact book arrives with the profile store; until then no name is known.
            return Plan(direct_reply=f"I don't know who {contact} is yet. Tell me their address instead.")
        if context.user_address is None:
            return Plan(direct_reply="I don't know your wallet address yet. Connect a wallet first.")
        return Plan(calls=(ToolCall(CHAIN, "get_balance", {"address": context.user_address}),))
