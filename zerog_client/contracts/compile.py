"""Compile `src/*.sol` with solc-js and write, or check, the committed artifacts.

Usage:
    python -m zerog_client.contracts.compile            # rewrite artifacts/<Name>.json
    python -m zerog_client.contracts.compile --check    # exit 1 if they differ from a fresh compile

The compiler is the npm package `solc` at exactly `SOLC_VERSION`, run through node: it is the one
Solidity compiler that installs offline here (forge and py-solc-x download theirs). Output must be
byte-for-byte reproducible, so the settings pin everything that could vary: the compiler version
(checked, not assumed), optimizer runs, the EVM version (solc's default moves with releases, and
0G's chain docs target cancun) and no metadata hash (it would embed the source file's IPFS hash,
changing the bytecode on any comment edit and tying it to a path).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zerog_client.errors import ZeroGError

SOLC_VERSION = "0.8.37"
EVM_VERSION = "cancun"
OPTIMIZER_RUNS = 200

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_DIR = PACKAGE_DIR / "src"
ARTIFACT_DIR = PACKAGE_DIR / "artifacts"

_SOLC_ENV = "ZGV_SOLCJS"
_SOLC_IN_TOOLS = Path("tools/npm/node_modules/solc")
_COMPILE_TIMEOUT_S = 300.0

# Loads the solc package given as the first argument, compiles the standard JSON read from stdin and
# prints the compiler's exact version next to its output, so one node start (~1.5 s of wasm loading)
# both compiles and proves which compiler did it.
_NODE_DRIVER = """
const solc = require(process.argv[1]);
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  const output = JSON.parse(solc.compile(Buffer.concat(chunks).toString("utf8")));
  process.stdout.write(JSON.stringify({ version: solc.version(), output }));
});
"""


class CompileError(ZeroGError):
    """The compiler is missing, is the wrong version, or rejected a source."""

    code = "contract_compile_failed"


@dataclass(frozen=True, slots=True)
class Compiler:
    """Where to find node and the solc-js package."""

    node: Path
    solc_package: Path


@dataclass(frozen=True, slots=True)
class CompileResult:
    """Rendered artifacts by file name (`<Name>.json` -> text) and the compiler's warnings."""

    artifacts: dict[str, str]
    warnings: list[str]


def find_compiler(solc_package: Path | None = None, node: Path | None = None) -> Compiler:
    """Locate node and the solc-js package.

    The package is taken from `solc_package`, else `$ZGV_SOLCJS`, else the first
    `tools/npm/node_modules/solc` found walking up from the current directory or from this file
    (the set-up script installs it there in a checkout).

    Args:
        solc_package: directory of the npm `solc` package.
        node: the node executable; found on PATH when not given.

    Raises:
        CompileError: either is missing.
    """
    node_path = node or (Path(found) if (found := shutil.which("node")) else None)
    if node_path is None or not node_path.is_file():
        raise CompileError("node not found on PATH; it is needed to run solc-js (run the set-up script)")
    candidates: list[Path] = []
    if solc_package is not None:
        candidates.append(solc_package)
    elif env := os.environ.get(_SOLC_ENV):
        candidates.append(Path(env))
    else:
        for start in (Path.cwd(), PACKAGE_DIR):
            candidates.extend(d / _SOLC_IN_TOOLS for d in (start, *start.parents))
    for candidate in candidates:
        if (candidate / "package.json").is_file() and (candidate / "soljson.js").is_file():
            return Compiler(node=node_path, solc_package=candidate.resolve())
    raise CompileError(
        f"solc-js {SOLC_VERSION} not found (set {_SOLC_ENV} or run the set-up script to install "
        f"{_SOLC_IN_TOOLS})"
    )


def standard_json_input(sources: dict[str, bytes]) -> dict[str, object]:
    """The solc standard-JSON input for `sources` (file name -> content) with our fixed settings.

    Args:
        sources: Solidity sources keyed by bare file name, which is also the name solc reports.
    """
    return {
        "language": "Solidity",
        "sources": {name: {"content": content.decode("utf-8")} for name, content in sorted(sources.items())},
        "settings": {
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "evmVersion": EVM_VERSION,
            "metadata": {"bytecodeHash": "none"},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
        },
    }


def compile_sources(compiler: Compiler, source_dir: Path = SOURCE_DIR) -> CompileResult:
    """Compile every `<Name>.sol` in `source_dir` and render the artifact of contract `<Name>`.

    Args:
        compiler: from `find_compiler`.
        source_dir: folder of the sources.

    Raises:
        CompileError: the compiler failed, is not `SOLC_VERSION`, reported errors, or a file does not
            define the contract it is named after.
    """
    sources = {p.name: p.read_bytes() for p in sorted(source_dir.glob("*.sol"))}
    if not sources:
        raise CompileError(f"no Solidity sources in {source_dir}")
    reply = _run_solc(compiler, standard_json_input(sources))
    version = str(reply.get("version", ""))
    # solc-js reports e.g. "0.8.37+commit.<hash>.Emscripten.clang"; any other release could emit
    # different bytecode, which would make the committed artifacts unreproducible.
    if version.split("+", 1)[0] != SOLC_VERSION:
        raise CompileError(f"solc-js at {compiler.solc_package} is {version!r}, need {SOLC_VERSION}")
    output = reply.get("output")
    if not isinstance(output, dict):
        raise CompileError("solc-js returned no output object")
    errors, warnings = _diagnostics(output)
    if errors:
        raise CompileError("solc rejected the sources:\n" + "\n".join(errors))
    contracts = output.get("contracts", {})
    artifacts: dict[str, str] = {}
    for file_name, content in sources.items():
        name = file_name.removesuffix(".sol")
        try:
            compiled = contracts[file_name][name]
        except (KeyError, TypeError):
            raise CompileError(f"{file_name} does not define a contract named {name}") from None
        artifacts[f"{name}.json"] = render_artifact(name, file_name, content, compiled)
    return CompileResult(artifacts=artifacts, warnings=warnings)


def render_artifact(name: str, file_name: str, source: bytes, compiled: dict[str, object]) -> str:
    """The artifact file's exact text: stable key order, two-space indent, final newline.

    Args:
        name: contract name.
        file_name: the source's file name.
        source: the source's bytes, hashed so a stale artifact is detectable without a compiler.
        compiled: solc's output for this contract (`abi`, `evm.bytecode`, `evm.deployedBytecode`).

    Raises:
        CompileError: `compiled` holds no bytecode.
    """
    evm = compiled.get("evm")
    if not isinstance(evm, dict):
        raise CompileError(f"solc returned no bytecode for {name}")
    document = {
        "contractName": name,
        "sourceName": file_name,
        "sourceHash": hashlib.sha256(source).hexdigest(),
        "compiler": SOLC_VERSION,
        "evmVersion": EVM_VERSION,
        "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
        "abi": compiled["abi"],
        "bytecode": "0x" + str(evm["bytecode"]["object"]),
        "deployedBytecode": "0x" + str(evm["deployedBytecode"]["object"]),
    }
    return json.dumps(document, indent=2) + "\n"


def write_artifacts(result: CompileResult, out_dir: Path = ARTIFACT_DIR) -> list[Path]:
    """Write the artifacts and delete any whose source is gone; returns the paths written.

    Args:
        result: from `compile_sources`.
        out_dir: the artifacts folder.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in set(_existing(out_dir)) - set(result.artifacts):
        (out_dir / stale).unlink()
    written = []
    for file_name, text in sorted(result.artifacts.items()):
        path = out_dir / file_name
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def stale_artifacts(result: CompileResult, out_dir: Path = ARTIFACT_DIR) -> list[str]:
    """Artifact file names that are missing, differ from `result`, or have no source any more.

    Args:
        result: from `compile_sources`.
        out_dir: the artifacts folder.
    """
    stale = set(_existing(out_dir)) - set(result.artifacts)
    for file_name, text in result.artifacts.items():
        path = out_dir / file_name
        if not path.is_file() or path.read_bytes() != text.encode("utf-8"):
            stale.add(file_name)
    return sorted(stale)


def _existing(out_dir: Path) -> list[str]:
    return [p.name for p in out_dir.glob("*.json")] if out_dir.is_dir() else []


def _run_solc(compiler: Compiler, standard_input: dict[str, object]) -> dict[str, object]:
    try:
        done = subprocess.run(
            [str(compiler.node), "-e", _NODE_DRIVER, str(compiler.solc_package)],
            input=json.dumps(standard_input).encode("utf-8"),
            capture_output=True,
            timeout=_COMPILE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CompileError(f"could not run solc-js: {exc}") from exc
    if done.returncode != 0:
        raise CompileError(f"solc-js exited with {done.returncode}: {done.stderr.decode(errors='replace')}")
    try:
        reply = json.loads(done.stdout)
    except ValueError as exc:
        raise CompileError(f"solc-js printed something other than JSON: {done.stdout[:200]!r}") from exc
    if not isinstance(reply, dict):
        raise CompileError("solc-js reply is not a JSON object")
    return reply


def _diagnostics(output: dict[str, object]) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    warnings: list[str] = []
    entries = output.get("errors", [])
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        text = str(entry.get("formattedMessage") or entry.get("message", "")).strip()
        (errors if entry.get("severity") == "error" else warnings).append(text)
    return errors, warnings


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code.

    0: artifacts written, or up to date with `--check`; 1: `--check` found stale artifacts;
    2: the compiler is missing or failed.

    Args:
        argv: arguments without the program name; `sys.argv[1:]` when None.
    """
    parser = argparse.ArgumentParser(prog="python -m zerog_client.contracts.compile", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 if stale")
    parser.add_argument(
        "--solc", type=Path, help=f"solc-js package directory (default: ${_SOLC_ENV} or tools/)"
    )
    parser.add_argument("--node", type=Path, help="node executable (default: from PATH)")
    parser.add_argument("--source-dir", type=Path, default=SOURCE_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", type=Path, default=ARTIFACT_DIR, help="artifacts folder")
    args = parser.parse_args(argv)
    try:
        result = compile_sources(find_compiler(args.solc, args.node), args.source_dir)
    except CompileError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.check:
        stale = stale_artifacts(result, args.out_dir)
        if stale:
            print(
                f"stale contract artifacts in {args.out_dir}: {', '.join(stale)}; "
                "run `python -m zerog_client.contracts.compile` and commit the result",
                file=sys.stderr,
            )
            return 1
        print(f"{len(result.artifacts)} contract artifacts are up to date")
        return 0
    for path in write_artifacts(result, args.out_dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
