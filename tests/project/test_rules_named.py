"""Every rule the code can refuse with is named by a test.

A refusal reaches a client as its rule (``error.rule``, the problem's ``rule`` and ``type``), so a
rule no test names is a refusal nobody has seen happen: it may be unreachable, misnamed, or raised
under another rule. The rules the code can raise are enumerated here from the code itself:

- the ``rule`` of every exception class in :mod:`registry.errors`, :mod:`registry.indexer.errors`
  and :mod:`api.problems`;
- the rule every custom error of every committed contract ABI decodes to
  (:class:`registry.chain.reverts.RevertDecoder`: the class's rule for the errors it maps, the
  error's name in kebab case for the others);
- every rule an ``InvalidInput(field, rule, message)`` in ``registry/`` or ``api/`` can carry,
  read with :mod:`ast`: a string literal, a constant of the module, a variable of the function
  assigned a literal, or a parameter of the function given a literal by its callers.

A rule counts as named when a string literal equal to it appears in a test module
(``tests/**/test_*.py``) other than this one. Rules no test can trigger from the outside sit in
:data:`UNREACHABLE`, each with its reason; an entry whose rule the code no longer raises, or that a
test names after all, fails the test too, so the list cannot rot.
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import api.problems
import registry.errors
import registry.indexer.errors
from registry.artifacts import all_abis
from registry.chain.reverts import RevertDecoder
from registry.errors import RegistryError

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
ERROR_MODULES = (registry.errors, registry.indexer.errors, api.problems)

UNREACHABLE: dict[str, str] = {
    # Category defaults: every raise site raises a leaf class, or sets its own rule.
    "registry-error": "the root's default; nothing raises a bare RegistryError",
    "invalid-input": "InvalidInput's default, always replaced by the rule given to __init__",
    "rule-violation": "a category; a generic refusal takes its contract error's name as rule",
    # OpenZeppelin library errors that no call of the contracts can reach.
    "address-empty-code": (
        "Address.verifyCallResultFromTarget on a target without code: Multicall's only target is "
        "the contract itself, which has code"
    ),
    "not-initializing": "Initializable's guard of internal set-up functions no call can reach",
    "erc1967-non-payable": (
        "upgradeToAndCall with ether and no call to make: nothing of ours sends ether to a contract"
    ),
    "uups-unsupported-proxiable-uuid": (
        "an upgrade to code that names another slot than ERC-1967's in proxiableUUID: every "
        "contract of ours names that slot, and code that names none is "
        "erc1967-invalid-implementation (tested)"
    ),
}


# --- the rules the code raises -------------------------------------------------------------------


def class_rules() -> dict[str, str]:
    """The ``rule`` of every exception class of the error modules -> where it is defined."""
    rules: dict[str, str] = {}
    for module in ERROR_MODULES:
        for name, member in vars(module).items():
            if (
                inspect.isclass(member)
                and issubclass(member, RegistryError)
                and member.__module__ == module.__name__
            ):
                rules.setdefault(member.rule, f"{module.__name__}.{name}")
    return rules


def _sample(abi_type: str) -> Any:
    if abi_type.endswith("]"):
        return []
    if abi_type == "address":
        return "0x" + "11" * 20
    if abi_type == "string":
        return "x"
    if abi_type.startswith("bytes"):
        return bytes(int(abi_type[5:] or 1))
    return 1


def contract_rules() -> dict[str, str]:
    """The rule each custom error of each committed ABI decodes to -> the error."""
    abis = list(all_abis())
    decoder = RevertDecoder(abis)
    rules: dict[str, str] = {}
    for abi in abis:
        for entry in abi:
            if entry.get("type") != "error":
                continue
            args = [_sample(param["type"]) for param in entry["inputs"]]
            error = decoder.exception_for(entry["name"], args)
            assert not isinstance(error, registry.errors.UnknownRevert), entry["name"]
            rules.setdefault(error.rule, f"contract error {entry['name']}")
    return rules


def _python_files() -> Iterator[Path]:
    for package in ("registry", "api"):
        yield from sorted((ROOT / package).rglob("*.py"))


def _is_invalid_input(node: ast.Call) -> bool:
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "InvalidInput") or (
        isinstance(func, ast.Attribute) and func.attr == "InvalidInput"
    )


def _rule_argument(node: ast.Call) -> ast.expr | None:
    for keyword in node.keywords:
        if keyword.arg == "rule":
            return keyword.value
    return node.args[1] if len(node.args) > 1 else None


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


class _Module:
    """One source file, parsed, with what resolving a rule expression needs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree = ast.parse(path.read_text(), str(path))
        self.parents: dict[ast.AST, ast.AST] = {}
        for parent in ast.walk(self.tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent
        self.constants = {
            target.id: value
            for statement in self.tree.body
            if isinstance(statement, ast.Assign)
            and (value := _literal(statement.value)) is not None
            for target in statement.targets
            if isinstance(target, ast.Name)
        }

    def where(self, node: ast.AST) -> str:
        return f"{self.path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"

    def function_of(self, node: ast.AST) -> ast.FunctionDef | None:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef):
                return node
        return None

    def resolve(self, expression: ast.expr | None, site: ast.AST) -> list[str]:
        """The strings ``expression`` (at ``site``) can hold; AssertionError if it cannot say."""
        value = _literal(expression)
        if value is not None:
            return [value]
        assert isinstance(expression, ast.Name), f"{self.where(site)}: rule is not a name"
        name = expression.id
        function = self.function_of(site)
        if function is not None:
            assigned = [
                _literal(node.value)
                for node in ast.walk(function)
                if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            ]
            if assigned:
                assert None not in assigned, f"{self.where(site)}: {name} is not a literal"
                return [value for value in assigned if value is not None]
            parameters = [argument.arg for argument in function.args.args]
            if name in parameters:
                return self._passed(function, parameters.index(name), name, site)
        assert name in self.constants, f"{self.where(site)}: cannot resolve rule {name}"
        return [self.constants[name]]

    def _passed(
        self, function: ast.FunctionDef, position: int, name: str, site: ast.AST
    ) -> list[str]:
        """The literals the calls of ``function`` pass for its parameter ``name``: this module's,
        and, for a public function, every other module's too (a shared check of inputs)."""
        values: list[str] = []
        callers = [self]
        if not function.name.startswith("_"):
            callers += [m for m in _all_modules() if m.path != self.path]
        for module in callers:
            for call in ast.walk(module.tree):
                if not isinstance(call, ast.Call):
                    continue
                callee = call.func
                called = (
                    callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", None)
                )
                if called != function.name:
                    continue
                argument = next((k.value for k in call.keywords if k.arg == name), None)
                if argument is None and position < len(call.args):
                    argument = call.args[position]
                values += module.resolve(argument, call)
        assert values, f"{self.where(site)}: no caller of {function.name} gives {name}"
        return values


@functools.cache
def _all_modules() -> tuple[_Module, ...]:
    return tuple(_Module(path) for path in _python_files())


def input_rules() -> dict[str, str]:
    """Every rule an InvalidInput raised in registry/ or api/ can carry -> its raise site."""
    rules: dict[str, str] = {}
    for module in _all_modules():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call) and _is_invalid_input(node):
                for rule in module.resolve(_rule_argument(node), node):
                    rules.setdefault(rule, module.where(node))
    return rules


def raised_rules() -> dict[str, str]:
    """Every rule the code can raise -> one place it comes from."""
    return {**input_rules(), **contract_rules(), **class_rules()}


# --- the rules the tests name --------------------------------------------------------------------


def named_rules() -> set[str]:
    """Every string literal of the test modules but this one, in tests/ and its packages."""
    named: set[str] = set()
    for path in sorted(TESTS.rglob("test_*.py")):
        if path.resolve() == Path(__file__).resolve():
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                named.add(node.value)
    return named


# --- the tests -----------------------------------------------------------------------------------


def test_the_enumeration_finds_each_kind_of_rule() -> None:
    """The enumeration itself can fail: each source yields the rules known to be there."""
    assert {"missing-role", "reorg-detected", "unauthenticated"} <= set(class_rules())
    contract = contract_rules()
    assert {"zero-amount", "consent-nonce-used", "pledge-exceeds-headroom"} <= set(contract)
    # A mapped error decodes to its class's rule, not to its kebab name.
    assert "missing-role" in contract
    assert "access-control-unauthorized-account" not in contract
    inputs = input_rules()
    # A literal, a module constant, a local variable and a parameter given by the callers.
    assert {
        "uscc-check-digit",
        "positive-integer-minor-units",
        "non-negative-integer-minor-units",
        "region-code-format",
        "block-range",
    } <= set(inputs)


def test_every_rule_the_code_raises_is_named_by_a_test() -> None:
    raised = raised_rules()
    named = named_rules()
    unnamed = {
        rule: source
        for rule, source in sorted(raised.items())
        if rule not in named and rule not in UNREACHABLE
    }
    assert unnamed == {}, "rules no test names:\n" + json.dumps(unnamed, indent=2)


def test_the_unreachable_list_holds_only_rules_the_code_raises_and_no_test_names() -> None:
    raised = raised_rules()
    named = named_rules()
    assert sorted(set(UNREACHABLE) - set(raised)) == [], "no longer raised: drop them"
    assert sorted(set(UNREACHABLE) & named) == [], "named by a test now: drop them"
