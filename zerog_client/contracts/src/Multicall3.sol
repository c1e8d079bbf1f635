// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Call batching for the zgvoice devnet
/// @notice Exposes the external interface that wallets and libraries expect from a Multicall3
///         deployment (same function names, argument and return types, hence the same selectors),
///         so their batching code works against the devnet unchanged. The implementation is our own.
/// @dev Every inner call is made by this contract: targets see it as `msg.sender`, never the
///      caller of the batch. A call to an address without code succeeds with empty return data,
///      as any EVM call does; callers that care must check the target has code.
contract Multicall3 {
    struct Call {
        address target;
        bytes callData;
    }

    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Call3Value {
        address target;
        bool allowFailure;
        uint256 value;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    /// @notice A call that was required to succeed reverted.
    /// @param index position of the call in the batch
    /// @param returnData the revert data of that call, so the caller can decode the real reason
    error CallFailed(uint256 index, bytes returnData);

    /// @notice `msg.value` of an `aggregate3Value` batch differs from the sum of its calls' values.
    error ValueMismatch(uint256 sent, uint256 required);

    /// @notice Runs every call; any failure reverts the whole batch.
    /// @return blockNumber the block the calls ran in
    /// @return returnData what each call returned, in order
    function aggregate(Call[] calldata calls)
        external
        payable
        returns (uint256 blockNumber, bytes[] memory returnData)
    {
        blockNumber = block.number;
        returnData = new bytes[](calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            (bool ok, bytes memory out) = calls[i].target.call(calls[i].callData);
            if (!ok) revert CallFailed(i, out);
            returnData[i] = out;
        }
    }

    /// @notice Runs every call and reports each outcome; reverts on a failure only when
    ///         `requireSuccess` is set.
    function tryAggregate(bool requireSuccess, Call[] calldata calls)
        public
        payable
        returns (Result[] memory returnData)
    {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            (bool ok, bytes memory out) = calls[i].target.call(calls[i].callData);
            if (requireSuccess && !ok) revert CallFailed(i, out);
            returnData[i] = Result(ok, out);
        }
    }

    /// @notice `tryAggregate` plus the block the batch ran in.
    /// @dev The EVM only exposes hashes of earlier blocks, so `blockHash` of the current block is
    ///      always zero; clients read it for compatibility, not for its value.
    function tryBlockAndAggregate(bool requireSuccess, Call[] calldata calls)
        public
        payable
        returns (uint256 blockNumber, bytes32 blockHash, Result[] memory returnData)
    {
        blockNumber = block.number;
        blockHash = blockhash(block.number);
        returnData = tryAggregate(requireSuccess, calls);
    }

    /// @notice `tryBlockAndAggregate` with every call required to succeed.
    function blockAndAggregate(Call[] calldata calls)
        external
        payable
        returns (uint256 blockNumber, bytes32 blockHash, Result[] memory returnData)
    {
        return tryBlockAndAggregate(true, calls);
    }

    /// @notice Runs every call; a failure reverts the batch only if that call does not allow it.
    function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            Call3 calldata item = calls[i];
            (bool ok, bytes memory out) = item.target.call(item.callData);
            if (!ok && !item.allowFailure) revert CallFailed(i, out);
            returnData[i] = Result(ok, out);
        }
    }

    /// @notice `aggregate3` where each call also carries native value.
    /// @dev The batch must be paid exactly: a surplus would be stranded in this contract, which
    ///      has no way to pay it out. The sum is checked before any call so that underpaying
    ///      reports `ValueMismatch` rather than a confusing empty failure of whichever call ran
    ///      out of funds. The value of a call that fails but is allowed to fail stays here too,
    ///      so callers should not attach value to calls that may fail.
    function aggregate3Value(Call3Value[] calldata calls)
        external
        payable
        returns (Result[] memory returnData)
    {
        uint256 required = 0;
        for (uint256 i = 0; i < calls.length; ++i) {
            required += calls[i].value;
        }
        if (msg.value != required) revert ValueMismatch(msg.value, required);
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            Call3Value calldata item = calls[i];
            (bool ok, bytes memory out) = item.target.call{value: item.value}(item.callData);
            if (!ok && !item.allowFailure) revert CallFailed(i, out);
            returnData[i] = Result(ok, out);
        }
    }

    /// @notice Hash of a recent block (zero beyond the last 256 blocks or for the current one).
    function getBlockHash(uint256 blockNumber) external view returns (bytes32 blockHash) {
        blockHash = blockhash(blockNumber);
    }

    function getBlockNumber() external view returns (uint256 blockNumber) {
        blockNumber = block.number;
    }

    function getCurrentBlockCoinbase() external view returns (address coinbase) {
        coinbase = block.coinbase;
    }

    /// @dev Since the merge the old difficulty field carries the beacon chain's randomness.
    function getCurrentBlockDifficulty() external view returns (uint256 difficulty) {
        difficulty = block.prevrandao;
    }

    function getCurrentBlockGasLimit() external view returns (uint256 gaslimit) {
        gaslimit = block.gaslimit;
    }

    function getCurrentBlockTimestamp() external view returns (uint256 timestamp) {
        timestamp = block.timestamp;
    }

    function getEthBalance(address addr) external view returns (uint256 balance) {
        balance = addr.balance;
    }

    function getLastBlockHash() external view returns (bytes32 blockHash) {
        blockHash = blockhash(block.number - 1);
    }

    function getBasefee() external view returns (uint256 basefee) {
        basefee = block.basefee;
    }

    function getChainId() external view returns (uint256 chainid) {
        chainid = block.chainid;
    }
}
