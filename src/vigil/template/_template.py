"""The public Template: parse once (errors at load time), execute many times."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vigil.template._builtins import BUILTINS
from vigil.template._exec import ExecError, MissingKey, State
from vigil.template._parse import ParseError, Parser, Tree
from vigil.template._values import MISSING


class TemplateError(Exception):
    """A parse or execution error, worded as Go's: `template: NAME:LINE[:COL]: ...`."""


class Template:
    """A named Go text/template together with the templates it defines and the functions it may call."""

    def __init__(
        self,
        name: str,
        trees: dict[str, Tree],
        funcs: Mapping[str, Callable[..., Any]],
        missing_key: MissingKey,
    ) -> None:
        self._name = name
        self._trees = trees
        self._funcs = funcs
        self._missing_key = missing_key

    @classmethod
    def parse(
        cls,
        name: str,
        text: str,
        funcs: Mapping[str, Callable[..., Any]] | None = None,
        *,
        missing_key: MissingKey = "default",
    ) -> Template:
        """Parses `text` as template `name`; `funcs` extend (or override) Go's builtins.

        `missing_key` is Go's missingkey option; Prometheus and Alertmanager use "zero".
        """
        all_funcs: dict[str, Callable[..., Any]] = {**BUILTINS, **(funcs or {})}
        trees: dict[str, Tree] = {}
        try:
            Parser(name, text, all_funcs, trees).parse()
        except ParseError as err:
            raise TemplateError(f"template: {name}:{err.line}: {err.message}") from None
        return cls(name, trees, all_funcs, missing_key)

    def with_funcs(self, funcs: Mapping[str, Callable[..., Any]]) -> Template:
        """This parsed template bound to other implementations of the same function names.

        Lets callers parse once and execute with per-evaluation functions (e.g. a query engine).
        """
        missing = set(self._funcs) - set(BUILTINS) - set(funcs)
        if missing:
            raise ValueError(f"functions used at parse time are missing: {sorted(missing)}")
        return Template(self._name, self._trees, {**BUILTINS, **funcs}, self._missing_key)

    @property
    def name(self) -> str:
        return self._name

    def lookup(self, name: str) -> Template | None:
        """The template `name` defined in this set ({{define}} or {{block}}), sharing its functions."""
        if name not in self._trees:
            return None
        return Template(name, self._trees, self._funcs, self._missing_key)

    def execute(self, data: Any) -> str:
        """Renders the template with `data` as dot; raises TemplateError naming the position on failure."""
        tree = self._trees.get(self._name)
        if tree is None:
            raise TemplateError(
                f'template: {self._name}: "{self._name}" is an incomplete or empty template'
            )
        out: list[str] = []
        state = State(self._trees, self._funcs, self._missing_key, tree, out)
        dot = MISSING if data is None else data
        state.push("$", dot)
        try:
            state.walk(dot, tree.root)
        except ExecError as err:
            raise TemplateError(str(err)) from None
        except RecursionError:
            raise TemplateError(
                f"template: {self._name}: exceeded maximum template depth"
            ) from None
        return "".join(out)
