// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title A fixed-price storage market for the zgvoice devnet
/// @notice Answers `pricePerSector()` the way 0G's fixed-price market does (same name, hence the same
///         selector), so clients that read the price at runtime compute the fee they must send to the
///         flow. The implementation is our own.
/// @dev The flow that creates this market is the only account allowed to charge fees: `DevFlow`
///      deploys its market in its own constructor, so the binding needs no extra transaction and
///      cannot be raced. The real market splits each fee between a padding and an upload share and
///      forwards both to a reward contract; the devnet has no mining rewards, so fees simply stay
///      here and `FeeCharged` records how the flow accounted for them.
contract DevMarket {
    /// @notice The flow whose submissions this market prices; the only caller of `chargeFee`.
    address public immutable flow;
    /// @notice May change the price.
    address public immutable owner;
    /// @notice Fee in neuron (wei) for one 256-byte sector of a submission.
    uint256 public pricePerSector;

    /// @notice The flow paid `fee` for a submission placed after `beforeLength` sectors of the flow.
    /// @param beforeLength flow length before the submission, in sectors
    /// @param uploadSectors sectors the submission occupies (the sum of 2^height of its nodes)
    /// @param paddingSectors zero sectors the flow inserted before it to align it
    /// @param fee amount received with the charge
    event FeeCharged(uint256 beforeLength, uint256 uploadSectors, uint256 paddingSectors, uint256 fee);

    /// @notice The owner changed the price.
    event PricePerSectorSet(uint256 oldPrice, uint256 newPrice);

    error NotFlow(address caller);
    error NotOwner(address caller);

    /// @param owner_ the account allowed to change the price (the flow's deployer)
    /// @param pricePerSector_ initial fee per sector, in neuron
    constructor(address owner_, uint256 pricePerSector_) {
        flow = msg.sender;
        owner = owner_;
        pricePerSector = pricePerSector_;
    }

    /// @notice Takes the fee of one submission; only the flow may call it.
    /// @dev The fee arrives as the call's value, in the same call that reports the accounting, so a
    ///      payment can never be separated from the submission it is for.
    function chargeFee(uint256 beforeLength, uint256 uploadSectors, uint256 paddingSectors) external payable {
        if (msg.sender != flow) revert NotFlow(msg.sender);
        emit FeeCharged(beforeLength, uploadSectors, paddingSectors, msg.value);
    }

    /// @notice Sets the fee per sector for later submissions; only the owner may.
    function setPricePerSector(uint256 newPrice) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        emit PricePerSectorSet(pricePerSector, newPrice);
        pricePerSector = newPrice;
    }
}
