"""Simulation before signing: gas limits from `eth_estimateGas` (which runs the transaction against
the latest state), so a transaction that would revert is refused with its reason and never signed."""

from __future__ import annotations

from collections.abc import Sequence

from zerog_client.chain.jsonrpc import JsonRpcError
from zerog_client.chain.reader import ChainReader
from zerog_client.errors import ZeroGError
from zerog_client.tx.requests import TxRequest

PLAIN_TRANSFER_GAS = 21_000


class SimulationError(ZeroGError):
    """The transaction would fail if sent (revert, or the node cannot run it)."""

    code = "simulation_reverted"


class Simulator:
    """Estimates gas for a burst in JSON-RPC batches."""

    def __init__(self, reader: ChainReader, margin: float) -> None:
        self._reader = reader
        self._margin = margin

    async def gas_limits(self, sender: str, requests: Sequence[TxRequest]) -> list[int]:
        """A gas limit per request, in order.

        Plain value transfers to accounts without code cost exactly 21,000 gas, which is known
        without running them; everything else is estimated (and so simulated), with a margin.

        Raises:
            SimulationError: a transaction would revert; the message carries the node's reason.
        """
        recipients = sorted(
            {r.to for r in requests if r.to is not None and not r.data and r.gas_limit is None}
        )
        codes = await self._reader.pool.batch([("eth_getCode", [to, "latest"]) for to in recipients])
        has_code = {
            to: not isinstance(code, JsonRpcError) and str(code) not in ("0x", "0x0", "")
            for to, code in zip(recipients, codes, strict=True)
        }
        limits: list[int | None] = []
        to_estimate: list[int] = []
        for index, request in enumerate(requests):
            if request.gas_limit is not None:
                limits.append(request.gas_limit)
            elif request.to is not None and not request.data and not has_code[request.to]:
                limits.append(PLAIN_TRANSFER_GAS)
            else:
                limits.append(None)
                to_estimate.append(index)
        if to_estimate:
            calls = []
            for index in to_estimate:
                request = requests[index]
                call: dict[str, str] = {
                    "from": sender,
                    "value": hex(request.value),
                    "data": "0x" + request.data.hex(),
                }
                if request.to is not None:
                    call["to"] = request.to
                calls.append(("eth_estimateGas", [call]))
            estimates = await self._reader.pool.batch(calls)
            for index, estimate in zip(to_estimate, estimates, strict=True):
                if isinstance(estimate, JsonRpcError):
                    raise SimulationError(
                        f"transaction {requests[index].idempotency_key} would fail: {estimate.rpc_message}"
                    )
                limits[index] = int(int(str(estimate), 16) * self._margin)
        return [int(limit) for limit in limits if limit is not None]
