"""Non-custodial sending: we prepare an unsigned transaction for the user's own wallet, and accept the
signed bytes back only if they are exactly what was prepared, for this chain, from that wallet.

Nothing is broadcast before the check; an accepted transaction is written to the outbox first, like
every other, so it is tracked and recovered the same way.
"""

from __future__ import annotations

from zerog_client.address import normalize_address
from zerog_client.chain.jsonrpc import JsonRpcError
from zerog_client.chain.reader import ChainReader
from zerog_client.tx.broadcast import SendOutcome, classify
from zerog_client.tx.fees import FeeMode, quote_from_chain
from zerog_client.tx.manager import InsufficientFundsError
from zerog_client.tx.outbox import Outbox
from zerog_client.tx.records import NewTx, TxAttempt, TxRecord, TxStatus
from zerog_client.tx.requests import IdempotencyConflictError, TxRequest
from zerog_client.tx.simulation import Simulator
from zerog_client.tx.unsigned import SignatureMismatchError, UnsignedTx, verify_signed


class ExternalSender:
    """Prepares and accepts transactions signed by wallets we hold no key for."""

    def __init__(
        self,
        reader: ChainReader,
        outbox: Outbox,
        *,
        fee_mode: FeeMode = "eip1559",
        max_fee_per_gas: int = 500 * 10**9,
    ) -> None:
        self._reader = reader
        self._outbox = outbox
        self._fee_mode = fee_mode
        self._cap = max_fee_per_gas
        self._simulator = Simulator(reader, margin=1.2)

    async def prepare(self, request: TxRequest, sender: str) -> UnsignedTx:
        """The unsigned transaction for `sender`'s wallet: simulated, priced under the cap, and checked
        against the balance; its nonce is the wallet's next one.

        Raises:
            InvalidRequestError, InvalidAddressError, SimulationError, FeeCapExceededError,
            InsufficientFundsError: nothing to sign.
        """
        checked = request.validated()
        wallet = normalize_address(sender)
        (gas,) = await self._simulator.gas_limits(wallet, [checked])
        fees = await quote_from_chain(self._reader, self._fee_mode, self._cap)
        unsigned = UnsignedTx(
            chain_id=self._reader.expected_chain_id,
            nonce=await self._reader.transaction_count(wallet, "pending"),
            to=checked.to,
            value=checked.value,
            data=checked.data,
            gas=gas,
            gas_price=fees.gas_price,
            max_fee_per_gas=fees.max_fee_per_gas,
            max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
        )
        if unsigned.max_cost > await self._reader.balance(wallet):
            raise InsufficientFundsError(f"{wallet} cannot cover {unsigned.max_cost} base units")
        return unsigned

    async def submit_signed(
        self, idempotency_key: str, raw: bytes, prepared: UnsignedTx, sender: str
    ) -> TxRecord:
        """Check the wallet's signed bytes against `prepared`, persist them, then broadcast.

        Raises:
            SignatureMismatchError: any field differs (including the chain id), or another account
                signed: nothing is sent.
            IdempotencyConflictError: the key was used for another transaction.
        """
        if prepared.chain_id != self._reader.expected_chain_id:
            raise SignatureMismatchError(f"prepared for chain {prepared.chain_id}, not this chain")
        signed = verify_signed(raw, prepared, normalize_address(sender))
        attempt = TxAttempt.of(signed.tx_hash, raw, prepared)
        new = NewTx(
            idempotency_key,
            prepared.chain_id,
            signed.sender,
            prepared.nonce,
            prepared.to,
            prepared.value,
            prepared.data,
            prepared.gas,
            attempt,
        )
        ((record, created),) = await self._outbox.insert_many([new])
        if not created and record.latest.tx_hash != signed.tx_hash:
            raise IdempotencyConflictError(f"the key {idempotency_key} was used for another transaction")
        try:
            await self._reader.pool.call("eth_sendRawTransaction", ["0x" + raw.hex()])
            outcome = SendOutcome.ACCEPTED
        except JsonRpcError as exc:
            outcome = classify(exc)
        if outcome is not SendOutcome.REJECTED and record.status is TxStatus.SIGNED:
            record = await self._outbox.set_status(record.id, TxStatus.SUBMITTED)
        return record
