"""0G storage: Merkle root throughput (single core) against the published community SDK measured in the
same run, end-to-end upload and verified download on the devnet, and peak memory of a 1 GiB root.

    python -m benchmarks.storage [--sizes-mib 1,64] [--skip-sdk] [--block-time 1] [--out FILE] [--no-record]

The roots are computed in child processes pinned to CPU 0, median of 3 timed runs each. The SDK
(`0g-storage-sdk==0.4.0`) is installed into a throwaway venv under a temp dir, never into ours, and
its `ZgFile.merkle_tree()` is timed on the same file; the two roots must be equal. Upload and download
go through a fresh anvil (1 s blocks by default, like 0G), the devnet Flow contract and two storage
node replicas, all on 127.0.0.1, and the downloaded file is compared with the source byte for byte.
"""

from __future__ import annotations

import argparse
import asyncio
import filecmp
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.report import append_row, write_json
from zerog_client import ChainReader
from zerog_client.devnet import AnvilConfig, AnvilNode, find_anvil
from zerog_client.devnet.contracts import deploy_devnet_contracts
from zerog_client.devnet.kv_node import KvNode, KvNodeConfig
from zerog_client.devnet.storage_node import StorageNode, StorageNodeConfig
from zerog_client.storage.downloader import Downloader
from zerog_client.storage.kv_client import KvClient
from zerog_client.storage.kv_streams import stream_id
from zerog_client.storage.kv_writer import KvUploader, KvWriter
from zerog_client.storage.node_client import StorageNodeClient
from zerog_client.storage.uploader import Uploader
from zerog_client.tx import LocalSigner, TransactionManager, TxRecord, TxRequest
from zerog_client.tx.sqlite_outbox import SqliteOutbox

REPO = Path(__file__).resolve().parents[1]
NPM_TOOLS = REPO / "tools" / "npm"
CHAIN_ID = 1_660_999
KEY = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # anvil dev account 0 (devnet only)
)
SDK = "0g-storage-sdk==0.4.0"
MIB = 1024 * 1024
RUNS = 3
KV_KEYS, KV_BATCH = 1000, 100
REPLICAS = 2

# Run in a child interpreter: pin to one core, time `RUNS` root computations, print JSON.
_OURS_CHILD = """
import json, os, resource, sys, time
os.sched_setaffinity(0, {0})
from zerog_client.storage.file_tree import FileTree
path, runs = sys.argv[1], int(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times, root = [], ""
for _ in range(runs):
    started = time.perf_counter()
    root = "0x" + FileTree.from_path(path).root.hex()
    times.append(time.perf_counter() - started)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"root": root, "times": times, "maxrss_before_kib": before, "maxrss_kib": peak,
                  "vmhwm_kib": hwm, "cpus": sorted(os.sched_getaffinity(0))}))
"""

# Run by the throwaway venv's interpreter: the SDK's own file-tree entry point (core/file.py).
_SDK_CHILD = """
import json, os, sys, time
os.sched_setaffinity(0, {0})
from core.file import ZgFile
path, runs = sys.argv[1], int(sys.argv[2])
times, root = [], ""
for _ in range(runs):
    zg = ZgFile.from_file_path(path)
    try:
        started = time.perf_counter()
        tree, err = zg.merkle_tree()
        times.append(time.perf_counter() - started)
    finally:
        zg.fd.close()
    if err is not None or tree is None:
        raise SystemExit(f"merkle_tree failed: {err}")
    root = tree.root_hash()
print(json.dumps({"root": root, "times": times}))
"""


def _write_random(path: Path, size: int) -> None:
    with path.open("wb") as out:
        left = size
        while left:
            block = min(left, 4 * MIB)
            out.write(os.urandom(block))
            left -= block


def _child_json(python: str, code: str, path: Path, runs: int, timeout_s: float = 900) -> dict[str, Any]:
    done = subprocess.run(
        [python, "-c", code, str(path), str(runs)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"root child failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _rate(size: int, seconds: float) -> float:
    return round(size / MIB / seconds, 2) if seconds > 0 else float("inf")


def _ours(path: Path) -> dict[str, Any]:
    size = path.stat().st_size
    raw = _child_json(sys.executable, _OURS_CHILD, path, RUNS)
    median = statistics.median(raw["times"])
    return {
        "root": raw["root"],
        "cpus": raw["cpus"],
        "seconds": [round(t, 4) for t in raw["times"]],
        "median_s": round(median, 4),
        "mib_per_s": _rate(size, median),
    }


def _sdk(path: Path, workdir: Path) -> dict[str, Any]:
    venv = workdir / "sdk-venv"
    python = str(venv / "bin" / "python")
    started = time.perf_counter()
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300
        )
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", SDK],
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
    except subprocess.CalledProcessError as exc:
        tail = str(exc.stderr or "").strip().splitlines()[-5:]
        return {"installed": False, "error": f"installing {SDK} failed: {' | '.join(tail)}"}
    except subprocess.TimeoutExpired:
        return {"installed": False, "error": f"installing {SDK} timed out"}
    install_s = time.perf_counter() - started
    raw = _child_json(python, _SDK_CHILD, path, RUNS)
    median = statistics.median(raw["times"])
    return {
        "installed": True,
        "install_s": round(install_s, 1),
        "root": raw["root"],
        "seconds": [round(t, 4) for t in raw["times"]],
        "median_s": round(median, 4),
        "mib_per_s": _rate(path.stat().st_size, median),
    }


def _peak_memory(workdir: Path) -> dict[str, Any]:
    sparse = workdir / "sparse-1gib.bin"
    with sparse.open("wb") as out:
        out.truncate(1024 * MIB)
    raw = _child_json(sys.executable, _OURS_CHILD, sparse, 1)
    sparse.unlink()
    # ru_maxrss is floored at the spawning parent's RSS (Linux carries the high-water mark across
    # exec), so it is an upper bound; VmHWM is the same counter for the child's own address space.
    rusage_mb, hwm_mb = raw["maxrss_kib"] / 1024, raw["vmhwm_kib"] / 1024
    return {
        "file_mib": 1024,
        "root": raw["root"],
        "seconds": round(raw["times"][0], 3),
        "peak_rss_mb": round(hwm_mb, 1),
        "getrusage_maxrss_mb": round(rusage_mb, 1),
        "getrusage_maxrss_before_hashing_mb": round(raw["maxrss_before_kib"] / 1024, 1),
        "under_200_mb": max(rusage_mb, hwm_mb) < 200,
    }


class _TimedManager(TransactionManager):
    """Notes when the first transaction is handed over, to time submit -> finality."""

    submitted_at: float | None = None

    async def submit(self, request: TxRequest) -> TxRecord:
        if self.submitted_at is None:
            self.submitted_at = time.perf_counter()
        return await super().submit(request)


async def _round_trip(
    reader: ChainReader, flow: str, clients: list[StorageNodeClient], size: int, workdir: Path
) -> dict[str, Any]:
    source = workdir / f"up-{size}.bin"
    await asyncio.to_thread(_write_random, source, size)
    outbox = SqliteOutbox(workdir / f"outbox-{size}.db")
    await outbox.open()
    try:
        manager = _TimedManager(reader, LocalSigner.devnet_key(KEY), outbox)
        async with manager:
            uploader = Uploader(manager, flow, clients, timeout_s=300)
            started = time.perf_counter()
            result = await uploader.upload(source)
            finished = time.perf_counter()
    finally:
        await outbox.close()
    if result.already_stored or manager.submitted_at is None:
        raise RuntimeError("the upload paid nothing on a fresh devnet; nothing to time")
    out = workdir / f"down-{size}.bin"
    started_down = time.perf_counter()
    downloaded = await Downloader(clients).download(result.root, out)
    down_s = time.perf_counter() - started_down
    identical = await asyncio.to_thread(filecmp.cmp, source, out, False)
    source.unlink()
    out.unlink()
    return {
        "mib": round(size / MIB, 3),
        "root": result.root,
        "upload_s": round(finished - started, 3),
        "upload_mib_per_s": _rate(size, finished - started),
        "submit_to_final_s": round(finished - manager.submitted_at, 3),
        "download_s": round(down_s, 3),
        "download_mib_per_s": _rate(size, down_s),
        "identical": identical,
        "rejected_segments": downloaded.rejected_segments,
    }


async def _until_replayed(client: KvClient, tx_seq: int, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    # The KV node replays by polling the chain, so this polls it in turn, with a deadline.
    while not (await client.replay_progress()).has_applied(tx_seq):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the KV node did not replay tx {tx_seq} within {timeout_s} s")
        await asyncio.sleep(0.05)


async def _kv_run(
    rpc_url: str,
    reader: ChainReader,
    flow: str,
    nodes: list[StorageNode],
    clients: list[StorageNodeClient],
    workdir: Path,
) -> dict[str, Any]:
    """1,000 keys written in batches of 100 (one transaction each), then read back through a KV node."""
    stream = stream_id("bench")
    kv_node = KvNode(
        KvNodeConfig(
            data_dir=workdir / "kv",
            rpc_url=rpc_url,
            chain_id=CHAIN_ID,
            flow_address=flow,
            storage_nodes=[n.url for n in nodes],
            stream_ids=["0x" + stream.hex()],
            poll_interval_s=0.05,
        )
    )
    await kv_node.start()
    client = KvClient(kv_node.url)
    outbox = SqliteOutbox(workdir / "outbox-kv.db")
    await outbox.open()
    try:
        async with TransactionManager(reader, LocalSigner.devnet_key(KEY), outbox) as manager:
            writer = KvWriter(KvUploader(Uploader(manager, flow, clients, timeout_s=300)), client)
            keys = [f"key-{i:04d}".encode() for i in range(KV_KEYS)]
            started = time.perf_counter()
            last_seq = 0
            for batch in range(0, KV_KEYS, KV_BATCH):
                for key in keys[batch : batch + KV_BATCH]:
                    writer.set(stream, key, b"value-" + key)
                result = await writer.flush()
                assert result is not None
                last_seq = result.tx_seq
            written = time.perf_counter() - started
            await _until_replayed(client, last_seq)
            replayed = time.perf_counter() - started
        started = time.perf_counter()
        values = [await client.get_value(stream, key) for key in keys]
        read = time.perf_counter() - started
    finally:
        await outbox.close()
        await client.close()
        await kv_node.stop()
    correct = all(v.data == b"value-" + k for v, k in zip(values, keys, strict=True))
    return {
        "keys": KV_KEYS,
        "batch": KV_BATCH,
        "writes_per_s_uploaded": round(KV_KEYS / written, 1),
        "writes_per_s_replayed": round(KV_KEYS / replayed, 1),
        "reads_per_s": round(KV_KEYS / read, 1),
        "all_read_back": correct,
    }


async def _devnet(
    sizes: list[int], block_time_s: float | None, workdir: Path
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    binary = find_anvil(None, (NPM_TOOLS,))
    nodes: list[StorageNode] = []
    clients: list[StorageNodeClient] = []
    with AnvilNode(AnvilConfig(binary=binary, chain_id=CHAIN_ID, block_time_s=block_time_s)) as anvil:
        async with ChainReader(anvil.rpc_url, CHAIN_ID) as reader:
            accounts = await reader.node_accounts()
            contracts = await deploy_devnet_contracts(anvil.rpc_url, accounts[-1])
            try:
                for i in range(REPLICAS):
                    config = StorageNodeConfig(
                        data_dir=workdir / f"node{i}",
                        rpc_url=anvil.rpc_url,
                        chain_id=CHAIN_ID,
                        flow_address=contracts.flow,
                        poll_interval_s=0.05,
                    )
                    nodes.append(StorageNode(config))
                    await nodes[-1].start()
                clients = [StorageNodeClient(n.url) for n in nodes]
                trips = [await _round_trip(reader, contracts.flow, clients, s, workdir) for s in sizes]
                kv = await _kv_run(anvil.rpc_url, reader, contracts.flow, nodes, clients, workdir)
                return trips, kv
            finally:
                for client in clients:
                    await client.close()
                for node in nodes:
                    await node.stop()


def _measure(sizes_mib: list[float], skip_sdk: bool, block_time_s: float | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="zgv-storage-bench-") as tmp:
        workdir = Path(tmp)
        sample = workdir / "random-64mib.bin"
        _write_random(sample, 64 * MIB)
        ours = _ours(sample)
        sdk: dict[str, Any] = {"skipped": True}
        if not skip_sdk:
            sdk = _sdk(sample, workdir)
            if sdk.get("installed"):
                sdk["roots_equal"] = sdk["root"] == ours["root"]
                sdk["ratio"] = round(sdk["median_s"] / ours["median_s"], 1)
        sample.unlink()
        memory = _peak_memory(workdir)
        sizes = [max(1, int(m * MIB)) for m in sizes_mib]
        devnet, kv = asyncio.run(_devnet(sizes, block_time_s, workdir))
    return {
        "root_64mib": {"ours": ours, "sdk": sdk},
        "peak_memory_1gib": memory,
        "devnet": {"block_time_s": block_time_s, "replicas": REPLICAS, "round_trips": devnet},
        "kv": kv,
    }


def _headline(figures: dict[str, Any]) -> str:
    ours, sdk = figures["root_64mib"]["ours"], figures["root_64mib"]["sdk"]
    parts = [f"64 MiB root, 1 core, median of {RUNS}: ours {ours['mib_per_s']} MiB/s"]
    if sdk.get("skipped"):
        parts.append(f"{SDK} skipped (--skip-sdk)")
    elif not sdk.get("installed"):
        parts.append(f"{SDK} NOT MEASURED: {sdk['error']}")
    else:
        parts.append(
            f"{SDK} {sdk['mib_per_s']} MiB/s; ratio x{sdk['ratio']} (target >= 10); "
            f"roots equal: {sdk['roots_equal']}"
        )
    mem = figures["peak_memory_1gib"]
    parts.append(
        f"1 GiB root peak RSS {mem['peak_rss_mb']} MB (VmHWM; getrusage ru_maxrss "
        f"{mem['getrusage_maxrss_mb']} MB, an upper bound floored at the parent's RSS; target < 200) "
        f"in {mem['seconds']} s"
    )
    dev = figures["devnet"]
    mining = f"{dev['block_time_s']} s blocks" if dev["block_time_s"] else "automine"
    for trip in dev["round_trips"]:
        parts.append(
            f"devnet ({mining}, {dev['replicas']} replicas) {trip['mib']} MiB: up {trip['upload_mib_per_s']} "
            f"MiB/s ({trip['upload_s']} s), submit->final {trip['submit_to_final_s']} s, verified down "
            f"{trip['download_mib_per_s']} MiB/s ({trip['download_s']} s), identical: {trip['identical']}"
        )
    kv = figures["kv"]
    parts.append(
        f"KV {kv['keys']} keys in batches of {kv['batch']}: {kv['writes_per_s_uploaded']} writes/s uploaded, "
        f"{kv['writes_per_s_replayed']} writes/s until the KV node replayed them, "
        f"{kv['reads_per_s']} reads/s, all read back: {kv['all_read_back']}"
    )
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.storage", description=__doc__)
    parser.add_argument("--sizes-mib", default="1,64", help="comma-separated upload sizes in MiB")
    parser.add_argument("--skip-sdk", action="store_true", help=f"do not install and time {SDK}")
    parser.add_argument(
        "--block-time", type=float, default=1.0, help="devnet seconds per block; 0 mines each tx at once"
    )
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    try:
        sizes = [float(s) for s in args.sizes_mib.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes-mib takes numbers separated by commas, e.g. 1,64")
    if not sizes or min(sizes) <= 0:
        parser.error("--sizes-mib needs at least one positive size")
    figures = _measure(sizes, args.skip_sdk, args.block_time or None)
    line = _headline(figures)
    print(line)
    write_json(args.out, figures)
    if not args.no_record:
        command = "python -m benchmarks.storage " + " ".join(argv if argv is not None else sys.argv[1:])
        append_row("storage", command.strip(), line)


if __name__ == "__main__":
    main()
