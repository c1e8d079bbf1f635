// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {DevMarket} from "./DevMarket.sol";

/// @title A 0G-compatible storage flow (log of file submissions) for the zgvoice devnet
/// @notice Exposes the external interface 0G storage clients and nodes use on the Flow contract
///         (same function names, argument and return types, hence the same selectors, and the same
///         `Submit` event), so upload code and log sync work against the devnet unchanged. The
///         implementation is our own, written from the protocol notes (SPEC §2.4, §2.5, §2.7).
/// @dev What follows the protocol exactly:
///      - validity of a submission (`_isValid`), rejected with the reason "Invalid submission";
///      - the fee, `Σ 2^height * market.pricePerSector()`, checked against this contract's whole
///        balance (so an earlier overpayment, which is never refunded, can cover a later fee) and
///        reported with `NotEnoughFee(pricePerSector, sectors, balance)`;
///      - where a submission lands in the flow (`startPos`): aligned to its largest node, moved to
///        the next segment rather than straddling one, after the identifier sector 0;
///      - the `Submit` event: topic1 the submission's submitter (not `msg.sender`), topic2
///        keccak256 of the node roots packed, data (index, startPos, sectors, submission data).
///      What is devnet-specific:
///      - the flow root. The protocol notes fix only its hash, keccak(left ‖ right); here the flow
///        tree has one leaf per sector, sector 0 is bytes32(0), alignment padding is zero data
///        (subtree roots Z[h], Z[0] = keccak of a zero sector) and each submission node is the
///        subtree at its position. The root is the 0G file-tree rule applied to the whole flow: the
///        right fold of the maximal power-of-two subtrees from the left. Kept as those subtrees
///        (a Merkle mountain range), so a submission costs O(64) hashes. It need not equal the root
///        0G's contract computes.
///      - mining: there is none. The epoch never advances, `makeContext` changes nothing and
///        `getContext` reports the flow with zero digests; the getters exist so clients probing
///        them get sensible answers.
///      - the legacy ABI (before 2026: the submission without a submitter) is accepted too, with
///        `msg.sender` as the submitter, as the protocol notes suggest for a dev node.
contract DevFlow {
    struct SubmissionNode {
        bytes32 root;
        uint256 height;
    }

    struct SubmissionData {
        uint256 length;
        bytes tags;
        SubmissionNode[] nodes;
    }

    struct Submission {
        SubmissionData data;
        address submitter;
    }

    struct MineContext {
        uint256 epoch;
        uint256 mineStart;
        bytes32 flowRoot;
        uint256 flowLength;
        bytes32 blockDigest;
        bytes32 digest;
    }

    /// @dev One complete subtree of the flow tree, at the flow's right edge.
    struct Peak {
        bytes32 root;
        uint256 height;
    }

    uint256 public constant BYTES_PER_SECTOR = 256;
    uint256 public constant SECTORS_PER_SEGMENT = 1024;
    /// @dev keccak256 of one all-zero sector: the leaf hash of padding.
    bytes32 private constant ZERO_SECTOR_HASH = 0xd397b3b043d87fcd6fad1291ff0bfd16401c274896d8c63a923727f077b8e0b5;
    /// @dev Node heights must be below this (the protocol's maximum tree depth).
    uint256 private constant MAX_HEIGHT = 64;

    /// @notice The market that prices sectors and receives the fees; created with this flow.
    DevMarket public immutable market;
    /// @notice Block this flow was deployed in (the start of its only epoch).
    uint256 public immutable firstBlock;
    /// @notice Mining is not emulated: the flow stays in epoch 0 forever.
    uint256 public constant epoch = 0;
    /// @notice An epoch that never ends, consistent with `epoch` staying 0.
    uint256 public constant blocksPerEpoch = type(uint256).max;
    /// @notice The devnet flow cannot be paused.
    bool public constant paused = false;

    /// @notice Sequence number the next submission gets (the storage nodes' "tx seq").
    uint256 public submissionIndex;

    /// @dev Sectors in the flow so far, identifier sector and padding included.
    uint256 private _currentLength;
    /// @dev The flow tree's maximal subtrees from the left, strictly decreasing in height.
    Peak[] private _peaks;
    mapping(uint256 txSeq => bytes32 root) private _rootByTxSeq;

    /// @notice A submission entered the flow.
    /// @param sender the submission's submitter (for the legacy ABI: the caller)
    /// @param identity keccak256 of the node roots, packed
    /// @param submissionIndex its tx seq
    /// @param startPos flow position (sector index) of its first node
    /// @param length sectors it occupies, the sum of 2^height of its nodes
    /// @param submission what was submitted, byte length and tags included
    event Submit(
        address indexed sender,
        bytes32 indexed identity,
        uint256 submissionIndex,
        uint256 startPos,
        uint256 length,
        SubmissionData submission
    );

    /// @notice This contract's balance cannot pay `amount` sectors at `price` each.
    /// @param price the market's price per sector
    /// @param amount sectors of the submission
    /// @param paid this contract's balance, the value sent with the call included
    error NotEnoughFee(uint256 price, uint256 amount, uint256 paid);

    /// @param pricePerSector_ initial fee per sector of the market this flow creates; the deployer
    ///        owns that market and may change the price later
    constructor(uint256 pricePerSector_) {
        market = new DevMarket(msg.sender, pricePerSector_);
        firstBlock = block.number;
        // Sector 0 holds the identifier, bytes32(0), so the first submission starts at 1 or later.
        _currentLength = 1;
        _append(bytes32(0), 0);
    }

    /// @notice Appends one file to the flow and pays its fee from this contract's balance.
    /// @return index the submission's tx seq
    /// @return digest keccak256 of its node roots (the event's identity)
    /// @return startIndex flow position of its first sector
    /// @return length sectors it occupies
    function submit(Submission calldata submission)
        external
        payable
        returns (uint256 index, bytes32 digest, uint256 startIndex, uint256 length)
    {
        return _submit(submission.data, submission.submitter);
    }

    /// @notice Appends several files in order, each paying its fee from the balance left by the ones
    ///         before it.
    function batchSubmit(Submission[] calldata submissions)
        external
        payable
        returns (
            uint256[] memory indexes,
            bytes32[] memory digests,
            uint256[] memory startIndexes,
            uint256[] memory lengths
        )
    {
        uint256 n = submissions.length;
        (indexes, digests, startIndexes, lengths) = _newBatchResults(n);
        for (uint256 i = 0; i < n; i++) {
            (indexes[i], digests[i], startIndexes[i], lengths[i]) =
                _submit(submissions[i].data, submissions[i].submitter);
        }
    }

    /// @notice Legacy ABI (before 2026): the submission has no submitter field; the caller is it.
    function submit(SubmissionData calldata data)
        external
        payable
        returns (uint256 index, bytes32 digest, uint256 startIndex, uint256 length)
    {
        return _submit(data, msg.sender);
    }

    /// @notice Legacy ABI of `batchSubmit`; the caller is the submitter of every submission.
    function batchSubmit(SubmissionData[] calldata data)
        external
        payable
        returns (
            uint256[] memory indexes,
            bytes32[] memory digests,
            uint256[] memory startIndexes,
            uint256[] memory lengths
        )
    {
        uint256 n = data.length;
        (indexes, digests, startIndexes, lengths) = _newBatchResults(n);
        for (uint256 i = 0; i < n; i++) {
            (indexes[i], digests[i], startIndexes[i], lengths[i]) = _submit(data[i], msg.sender);
        }
    }

    /// @notice Same as `submissionIndex`: the number of submissions so far.
    function numSubmissions() external view returns (uint256) {
        return submissionIndex;
    }

    /// @notice The flow root right after submission `txSeq`; zero for a tx seq not used yet.
    function getFlowRootByTxSeq(uint256 txSeq) external view returns (bytes32) {
        return _rootByTxSeq[txSeq];
    }

    /// @notice The flow's size.
    /// @return currentLength sectors in the flow, identifier sector and padding included
    /// @return unstagedHeight height of the smallest complete binary tree that holds the flow
    function tree() external view returns (uint256 currentLength, uint256 unstagedHeight) {
        currentLength = _currentLength;
        unstagedHeight = _bitLength(currentLength - 1);
    }

    /// @notice The mining context of the current (and only) epoch; no digests, since nothing mines.
    function getContext() external view returns (MineContext memory) {
        return MineContext({
            epoch: epoch,
            mineStart: firstBlock,
            flowRoot: _root(),
            flowLength: _currentLength,
            blockDigest: bytes32(0),
            digest: bytes32(0)
        });
    }

    /// @notice Would start a new mining epoch; the devnet's epoch never ends, so there is nothing to do.
    /// @dev `view` because it changes nothing; a transaction calling it still succeeds.
    function makeContext() external view {}

    function _submit(SubmissionData calldata data, address submitter)
        private
        returns (uint256 index, bytes32 digest, uint256 startPos, uint256 sectors)
    {
        require(_isValid(data, submitter), "Invalid submission");
        sectors = _sectors(data.nodes);
        uint256 fee = _checkFee(sectors);
        uint256 before = _currentLength;
        startPos = _place(data.nodes, sectors);
        index = submissionIndex;
        submissionIndex = index + 1;
        _rootByTxSeq[index] = _root();
        digest = _identity(data.nodes);
        market.chargeFee{value: fee}(before, _currentLength - startPos, startPos - before);
        emit Submit(submitter, digest, index, startPos, sectors, data);
    }

    /// @dev Puts the nodes into the flow tree after the current end (SPEC §2.5 `FlowTreeLib`) and
    ///      returns the position of the first; `sectors` is the sum of their sizes.
    function _place(SubmissionNode[] calldata nodes, uint256 sectors) private returns (uint256 startPos) {
        uint256 cursor = _currentLength;
        uint256 start = _nextAlign(cursor, nodes[0].height);
        // A submission that fits in one segment must not cross a segment boundary; one that does
        // not fit starts on a boundary anyway (it is aligned to a node of 1024+ sectors).
        if (start % SECTORS_PER_SEGMENT != 0
            && start / SECTORS_PER_SEGMENT != (start + sectors - 1) / SECTORS_PER_SEGMENT)
        {
            cursor = start + SECTORS_PER_SEGMENT - start % SECTORS_PER_SEGMENT;
        }
        // The tree is complete up to `end`; skipped sectors, including a skip to the next segment,
        // are padded from there.
        uint256 end = _currentLength;
        for (uint256 i = 0; i < nodes.length; i++) {
            uint256 height = nodes[i].height;
            uint256 pos = _nextAlign(cursor, height);
            if (i == 0) startPos = pos;
            _pad(end, pos);
            _append(nodes[i].root, height);
            cursor = end = pos + (1 << height);
        }
        _currentLength = end;
    }

    function _sectors(SubmissionNode[] calldata nodes) private pure returns (uint256 sectors) {
        for (uint256 i = 0; i < nodes.length; i++) {
            sectors += 1 << nodes[i].height;
        }
    }

    /// @dev keccak256 of the node roots packed: the `Submit` event's identity topic.
    function _identity(SubmissionNode[] calldata nodes) private pure returns (bytes32) {
        bytes32[] memory roots = new bytes32[](nodes.length);
        for (uint256 i = 0; i < nodes.length; i++) {
            roots[i] = nodes[i].root;
        }
        return keccak256(abi.encodePacked(roots));
    }

    /// @dev The fee for `sectors`, reverting if this contract's balance cannot pay it.
    function _checkFee(uint256 sectors) private view returns (uint256 fee) {
        uint256 price = market.pricePerSector();
        fee = sectors * price;
        if (fee > address(this).balance) revert NotEnoughFee(price, sectors, address(this).balance);
    }

    /// @dev The protocol's validity rules (SPEC §2.4): a submitter; 1 to 4 nodes, heights below 64,
    ///      strictly decreasing and spanning fewer than 4 levels; a byte length that fits the nodes
    ///      and needs all of them (padding no larger than the flow padding rule produces).
    function _isValid(SubmissionData calldata data, address submitter) private pure returns (bool) {
        if (submitter == address(0)) return false;
        SubmissionNode[] calldata nodes = data.nodes;
        uint256 n = nodes.length;
        if (n == 0) return false;
        uint256 first = nodes[0].height;
        if (first >= MAX_HEIGHT) return false;
        uint256 capacity = 1 << first;
        uint256 last = first;
        for (uint256 i = 1; i < n; i++) {
            uint256 height = nodes[i].height;
            if (height >= last) return false;
            capacity += 1 << height;
            last = height;
        }
        if (first - last >= 4) return false;
        if (data.length > capacity * BYTES_PER_SECTOR) return false;
        uint256 lastPaddedSector;
        if (capacity < 16) {
            lastPaddedSector = capacity - 1;
        } else if (n == 1) {
            lastPaddedSector = capacity - (capacity >> 4);
        } else {
            // capacity >= 16 with several nodes of at most 4 levels means first >= 4.
            lastPaddedSector = capacity - (1 << (first - 3));
        }
        return data.length > lastPaddedSector * BYTES_PER_SECTOR;
    }

    /// @dev Fills flow positions [from, to) with zero sectors, as the largest aligned zero subtrees.
    function _pad(uint256 from, uint256 to) private {
        if (from >= to) return;
        // Z[h] = root of 2^h zero sectors; built per call, as 63 hashes cost less than storing them.
        bytes32[MAX_HEIGHT] memory zeros;
        zeros[0] = ZERO_SECTOR_HASH;
        for (uint256 h = 1; h < MAX_HEIGHT; h++) {
            zeros[h] = _hashPair(zeros[h - 1], zeros[h - 1]);
        }
        while (from < to) {
            // Grow the piece while `from` stays aligned to it and it still fits before `to`.
            uint256 height = 0;
            while (height + 1 < MAX_HEIGHT && (from >> height) & 1 == 0 && from + (2 << height) <= to) {
                height++;
            }
            _append(zeros[height], height);
            from += 1 << height;
        }
    }

    /// @dev Adds a subtree of `height` at the flow's right edge; the edge must be aligned to it,
    ///      which makes every existing peak at least as high, so equal peaks merge like a carry.
    function _append(bytes32 root, uint256 height) private {
        uint256 n = _peaks.length;
        while (n > 0 && _peaks[n - 1].height == height) {
            root = _hashPair(_peaks[n - 1].root, root);
            _peaks.pop();
            n--;
            height++;
        }
        _peaks.push(Peak(root, height));
    }

    /// @dev The flow root: the right fold of the peaks, H(p0, H(p1, ... H(pk-1, pk))).
    function _root() private view returns (bytes32 root) {
        uint256 n = _peaks.length;
        root = _peaks[n - 1].root;
        for (uint256 i = n - 1; i > 0; i--) {
            root = _hashPair(_peaks[i - 1].root, root);
        }
    }

    function _newBatchResults(uint256 n)
        private
        pure
        returns (uint256[] memory, bytes32[] memory, uint256[] memory, uint256[] memory)
    {
        return (new uint256[](n), new bytes32[](n), new uint256[](n), new uint256[](n));
    }

    /// @dev The smallest multiple of 2^exponent that is at least `length`.
    function _nextAlign(uint256 length, uint256 exponent) private pure returns (uint256) {
        if (length == 0) return 0;
        return (((length - 1) >> exponent) + 1) << exponent;
    }

    function _bitLength(uint256 x) private pure returns (uint256 bits) {
        while (x != 0) {
            x >>= 1;
            bits++;
        }
    }

    function _hashPair(bytes32 left, bytes32 right) private pure returns (bytes32) {
        return keccak256(abi.encodePacked(left, right));
    }
}
