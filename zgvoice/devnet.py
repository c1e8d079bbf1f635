"""Starting the devnet from settings, and the project-local place the set-up script installs anvil."""

from __future__ import annotations

from zerog_client.devnet import AnvilConfig, AnvilNode, find_anvil
from zgvoice.settings import PROJECT_ROOT, DevnetSettings

NPM_TOOLS_DIR = PROJECT_ROOT / "tools" / "npm"


def devnet_node(settings: DevnetSettings) -> AnvilNode:
    """An (unstarted) devnet chain node configured from `settings`.

    Raises:
        DevnetStartError: anvil is not installed.
    """
    binary = find_anvil(settings.anvil_path, search_dirs=(NPM_TOOLS_DIR,))
    return AnvilNode(
        AnvilConfig(
            binary=binary,
            host=settings.host,
            port=settings.port,
            chain_id=settings.chain_id,
            accounts=settings.accounts,
            balance_0g=settings.balance_0g,
            block_time_s=settings.block_time_s,
            state_path=settings.state_path,
            startup_timeout_s=settings.startup_timeout_s,
        )
    )
