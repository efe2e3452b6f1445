"""Reference models: SPEC's rules in plain Python, shared by the per-contract tests and the
state machine that drives all three contracts at once (tests/contracts/test_state_machine.py)."""
