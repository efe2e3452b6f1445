"""The contracts' tests, one package per contract, one module per function or group of functions
(OpenZeppelin's and Morpho's layout); helpers shared by a contract's modules sit in its conftest."""
