"""The transaction manager: persisted before broadcast, pipelined, tracked to confirmation, bumped
when stuck, re-sent after a reorg or a crash, and never sending one intent twice.

Flow of `submit_many`: validate -> replay known idempotency keys -> quote fees -> simulate (gas
estimates) -> check the balance covers everything -> allocate nonces -> sign -> write the outbox in
one transaction -> broadcast in JSON-RPC batches. A background tracker then follows receipts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from zerog_client.chain.jsonrpc import JsonRpcError
from zerog_client.chain.reader import ChainReader
from zerog_client.errors import ZeroGError
from zerog_client.tx.broadcast import SendOutcome, classify
from zerog_client.tx.fees import FeeMode, FeeQuote, bump, quote_from_chain
from zerog_client.tx.outbox import NonceConflict, Outbox
from zerog_client.tx.records import NewTx, TxAttempt, TxRecord, TxStatus
from zerog_client.tx.requests import IdempotencyConflictError, TxRequest
from zerog_client.tx.signer import Signer
from zerog_client.tx.simulation import Simulator
from zerog_client.tx.unsigned import UnsignedTx

log = logging.getLogger(__name__)


class InsufficientFundsError(ZeroGError):
    """The sender cannot cover value plus the largest possible fees; nothing was signed."""

    code = "insufficient_funds"


class TxTimeoutError(ZeroGError):
    """Transactions did not reach the awaited state in time (they are still being tracked)."""

    code = "tx_timeout"
    retryable = True


@dataclass(frozen=True, slots=True)
class ManagerConfig:
    """Policy of the manager. Fee caps are in base units per gas."""

    fee_mode: FeeMode = "eip1559"
    max_fee_per_gas: int = 500 * 10**9
    confirmations: int = 1
    bump_after_s: float = 20.0
    poll_interval_s: float = 0.05
    send_batch_size: int = 200
    gas_margin: float = 1.2


@dataclass(slots=True)
class _Tracked:
    record: TxRecord
    last_sent_at: float = field(default_factory=time.monotonic)


class TransactionManager:
    """One manager per (chain, sender). Start with `async with` (or `start()` / `stop()`)."""

    def __init__(
        self, reader: ChainReader, signer: Signer, outbox: Outbox, config: ManagerConfig | None = None
    ):
        self.reader = reader
        self.signer = signer
        self.outbox = outbox
        self.config = config or ManagerConfig()
        self.chain_id = reader.expected_chain_id
        self.sender = signer.address
        self._simulator = Simulator(reader, self.config.gas_margin)
        self._next_nonce = 0
        self._nonce_lock = asyncio.Lock()
        self._tracked: dict[int, _Tracked] = {}
        self._changed = asyncio.Condition()
        self._tracker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TransactionManager:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover from the outbox (re-send the same bytes of every open intent) and start tracking."""
        open_intents = await self.outbox.open_intents(self.chain_id, self.sender)
        highest = await self.outbox.highest_nonce(self.chain_id, self.sender)
        on_chain = await self.reader.transaction_count(self.sender, "pending")
        self._next_nonce = max(on_chain, (highest + 1) if highest is not None else 0)
        for record in open_intents:
            self._tracked[record.id] = _Tracked(record, last_sent_at=0.0)
        if open_intents:
            log.info("recovering open transactions", extra={"count": len(open_intents)})
            await self._resolve_mined()
            await self._broadcast(
                [t.record for t in self._tracked.values() if t.record.status.rank < TxStatus.MINED.rank]
            )
        self._tracker = asyncio.ensure_future(self._track_loop())

    async def stop(self) -> None:
        """Stop tracking (the outbox keeps everything for the next start)."""
        if self._tracker is not None:
            self._tracker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tracker
            self._tracker = None

    # -- submission ------------------------------------------------------------------------------

    async def submit(self, request: TxRequest) -> TxRecord:
        """Send one transaction (see `submit_many`)."""
        return (await self.submit_many([request]))[0]

    async def submit_many(self, requests: Sequence[TxRequest]) -> list[TxRecord]:
        """Send many transactions in one pipelined burst; returns their records in order.

        A request whose idempotency key is already stored returns the stored record and sends
        nothing new. Every check runs before anything is signed.

        Raises:
            InvalidRequestError, InvalidAddressError: a request is malformed.
            IdempotencyConflictError: a known key with different parameters.
            SimulationError: a transaction would revert.
            InsufficientFundsError: the balance does not cover the burst.
            FeeCapExceededError: the network's fees are above the cap.
        """
        checked = [r.validated() for r in requests]
        keys = [r.idempotency_key for r in checked]
        if len(set(keys)) != len(keys):
            raise IdempotencyConflictError("the same idempotency key appears twice in one burst")
        stored = {key: await self.outbox.get(key) for key in keys}
        for request in checked:
            existing = stored[request.idempotency_key]
            if existing is not None and not request.same_as(existing.to, existing.value, existing.data):
                raise IdempotencyConflictError(
                    f"the key {request.idempotency_key} was used for another transaction"
                )
        fresh = [r for r in checked if stored[r.idempotency_key] is None]
        created: dict[str, TxRecord] = {}
        if fresh:
            for record in await self._send_new(fresh):
                created[record.idempotency_key] = record
        return [stored[k] or created[k] for k in keys]

    async def _send_new(self, requests: list[TxRequest]) -> list[TxRecord]:
        # The burst pays no more per gas than the strictest cap its senders confirmed.
        cap = min([self.config.max_fee_per_gas, *(r.max_fee_per_gas for r in requests if r.max_fee_per_gas)])
        fees = await quote_from_chain(self.reader, self.config.fee_mode, cap)
        gas_limits = await self._simulator.gas_limits(self.sender, requests)
        unsigned_total = sum(r.value + g * fees.cap for r, g in zip(requests, gas_limits, strict=True))
        committed = sum(
            t.record.value + t.record.gas_limit * _attempt_cap(t.record.latest)
            for t in self._tracked.values()
            if t.record.status.rank < TxStatus.MINED.rank
        )
        balance = await self.reader.balance(self.sender, "latest")
        if unsigned_total + committed > balance:
            raise InsufficientFundsError(
                f"{self.sender} holds {balance} but the burst may cost {unsigned_total} "
                f"(plus {committed} already pending)"
            )
        async with self._nonce_lock:
            for _ in range(3):
                first = self._next_nonce
                news = [
                    self._sign_new(r, g, first + i, fees)
                    for i, (r, g) in enumerate(zip(requests, gas_limits, strict=True))
                ]
                try:
                    stored = await self.outbox.insert_many(news)
                except NonceConflict:
                    # Another writer used these nonces: resynchronize and sign again.
                    highest = await self.outbox.highest_nonce(self.chain_id, self.sender)
                    self._next_nonce = max(self._next_nonce, (highest or 0) + 1)
                    continue
                self._next_nonce = first + len(news)
                break
            else:
                raise NonceConflict("could not allocate nonces after three attempts")
        records = [record for record, _ in stored]
        for record in records:
            self._tracked[record.id] = _Tracked(record, last_sent_at=0.0)
        await self._broadcast(records)
        return [await self._current(r) for r in records]

    async def _current(self, record: TxRecord) -> TxRecord:
        tracked = self._tracked.get(record.id)
        if tracked is not None:
            return tracked.record
        return await self.outbox.get_by_id(record.id) or record

    def _sign_new(self, request: TxRequest, gas: int, nonce: int, fees: FeeQuote) -> NewTx:
        attempt = self._sign_attempt(nonce, request.to, request.value, request.data, gas, fees)
        return NewTx(
            request.idempotency_key,
            self.chain_id,
            self.sender,
            nonce,
            request.to,
            request.value,
            request.data,
            gas,
            attempt,
        )

    def _sign_attempt(
        self, nonce: int, to: str | None, value: int, data: bytes, gas: int, fees: FeeQuote
    ) -> TxAttempt:
        unsigned = UnsignedTx(
            chain_id=self.chain_id,
            nonce=nonce,
            to=to,
            value=value,
            data=data,
            gas=gas,
            gas_price=fees.gas_price,
            max_fee_per_gas=fees.max_fee_per_gas,
            max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
        )
        signed = self.signer.sign(unsigned)
        return TxAttempt.of(signed.tx_hash, signed.raw, fees)

    async def _broadcast(self, records: list[TxRecord]) -> None:
        size = self.config.send_batch_size
        for start in range(0, len(records), size):
            chunk = records[start : start + size]
            try:
                answers = await self.reader.pool.batch(
                    [("eth_sendRawTransaction", ["0x" + r.latest.raw.hex()]) for r in chunk]
                )
            except ZeroGError as exc:
                # Ambiguous: the node may have them. They stay open and are re-sent by the tracker.
                log.warning("broadcast failed; will retry with the same bytes", extra={"error": exc.code})
                continue
            submitted = []
            now = time.monotonic()
            for record, answer in zip(chunk, answers, strict=True):
                outcome = classify(answer if isinstance(answer, JsonRpcError) else None)
                tracked = self._tracked.get(record.id)
                if tracked is None:
                    continue  # already mined and finished while this batch was in flight
                tracked.last_sent_at = now
                if outcome in (SendOutcome.ACCEPTED, SendOutcome.NONCE_USED, SendOutcome.UNDERPRICED):
                    if tracked.record.status is TxStatus.SIGNED:
                        submitted.append(record.id)
                else:
                    log.warning(
                        "node refused a transaction", extra={"nonce": record.nonce, "reason": str(answer)}
                    )
            if submitted:
                await self.outbox.set_status_many([(rid, TxStatus.SUBMITTED) for rid in submitted])
                for rid in submitted:
                    still = self._tracked.get(rid)
                    if still is not None and still.record.status is TxStatus.SIGNED:
                        still.record = _with_status(still.record, TxStatus.SUBMITTED)

    # -- tracking --------------------------------------------------------------------------------

    async def _track_loop(self) -> None:
        while True:
            try:
                await self._resolve_mined()
                await self._bump_or_resend()
            except ZeroGError as exc:
                log.warning("tracking round failed; retrying", extra={"error": exc.code})
            await asyncio.sleep(self.config.poll_interval_s)  # the polling cadence of receipts

    async def _resolve_mined(self) -> None:
        open_records = [t.record for t in self._tracked.values()]
        if not open_records:
            return
        hashes = [h for r in open_records for h in r.hashes]
        receipts = dict(zip(hashes, await self.reader.receipts(hashes), strict=True))
        head = await self.reader.block_number()
        changed = False
        for record in open_records:
            mined = next((receipts[h] for h in record.hashes if receipts[h] is not None), None)
            if mined is None:
                if record.status is TxStatus.MINED:
                    # Its block left the canonical chain: track it again and re-send the same bytes.
                    log.warning("transaction dropped by a reorg; re-sending", extra={"nonce": record.nonce})
                    await self._update(record, TxStatus.SUBMITTED)
                    self._tracked[record.id].last_sent_at = 0.0
                    changed = True
                continue
            final_status = TxStatus.FAILED if mined.status == "reverted" else TxStatus.CONFIRMED
            depth = head - mined.block_number + 1
            target = final_status if depth >= self.config.confirmations else TxStatus.MINED
            moved_block = record.mined_block_hash not in (None, mined.block_hash)
            if target is not record.status or moved_block:
                await self._update(
                    record,
                    target,
                    mined.tx_hash,
                    mined.block_number,
                    mined.block_hash,
                    error="reverted on chain" if final_status is TxStatus.FAILED else None,
                )
                changed = True
        if changed:
            async with self._changed:
                self._changed.notify_all()

    async def _update(
        self,
        record: TxRecord,
        status: TxStatus,
        tx_hash: str | None = None,
        block_number: int | None = None,
        block_hash: str | None = None,
        error: str | None = None,
    ) -> None:
        updated = await self.outbox.set_status(
            record.id,
            status,
            mined_tx_hash=tx_hash,
            mined_block_number=block_number,
            mined_block_hash=block_hash,
            error=error,
        )
        if updated.status.terminal:
            self._tracked.pop(record.id, None)
        else:
            self._tracked[record.id].record = updated

    async def _bump_or_resend(self) -> None:
        now = time.monotonic()
        resend: list[TxRecord] = []
        for tracked in list(self._tracked.values()):
            record = tracked.record
            if record.status.rank >= TxStatus.MINED.rank:
                continue
            if tracked.last_sent_at == 0.0:
                resend.append(record)
            elif now - tracked.last_sent_at >= self.config.bump_after_s:
                bumped = await self._bump(record)
                resend.append(bumped if bumped is not None else record)
        if resend:
            await self._broadcast(resend)

    async def _bump(self, record: TxRecord) -> TxRecord | None:
        latest = record.latest
        previous = FeeQuote(latest.gas_price, latest.max_fee_per_gas, latest.max_priority_fee_per_gas)
        fees = bump(previous, self.config.max_fee_per_gas)
        if fees is None:
            log.error(
                "a stuck transaction is at the fee cap; not bumping further", extra={"nonce": record.nonce}
            )
            return None
        attempt = self._sign_attempt(
            record.nonce, record.to, record.value, record.data, record.gas_limit, fees
        )
        # Persisted before it is broadcast, like every attempt: a crash must not lose a hash.
        updated = await self.outbox.add_attempt(record.id, attempt)
        self._tracked[record.id].record = updated
        log.info("fee bumped", extra={"nonce": record.nonce, "attempt": len(updated.attempts)})
        return updated

    # -- waiting ---------------------------------------------------------------------------------

    async def wait(
        self, keys: Sequence[str], status: TxStatus = TxStatus.CONFIRMED, timeout_s: float = 60.0
    ) -> list[TxRecord]:
        """Wait until every intent of `keys` has reached `status` (or a terminal state).

        Raises:
            TxTimeoutError: not all got there in time (they are still tracked).
        """
        deadline = time.monotonic() + timeout_s

        async def current() -> list[TxRecord]:
            records = [await self.outbox.get(k) for k in keys]
            return [r for r in records if r is not None]

        while True:
            records = await current()
            if len(records) == len(keys) and all(r.status.rank >= status.rank for r in records):
                return records
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                behind = sum(r.status.rank < status.rank for r in records) + len(keys) - len(records)
                raise TxTimeoutError(f"{behind} of {len(keys)} not yet {status}")
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))


def _attempt_cap(attempt: TxAttempt) -> int:
    return int(attempt.gas_price if attempt.gas_price is not None else attempt.max_fee_per_gas or 0)


def _with_status(record: TxRecord, status: TxStatus) -> TxRecord:
    return dataclasses.replace(record, status=status)
